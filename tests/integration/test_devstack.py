"""The devstack's servers, for real: both up, Kafka round-trips a message, PostgreSQL logs in.

Self-contained: the module starts the devstack (configured by the ``DEVSTACK_*`` variables)
unless it already runs, and then stops it again at the end, like the session harness does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import topics_to_create
from devstack.api import Endpoints, load_config, start, status, stop
from devstack.postgres import DATABASES
from tests.support.kafka import replication_factor

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def endpoints() -> Iterator[Endpoints]:
    config = load_config()
    was_running = status(config).all_up
    yield start(config)
    # Servers found running belong to whoever started them (the session, a developer).
    if not was_running:
        stop(config)


def test_status_reports_both_servers_up(endpoints: Endpoints) -> None:
    current = status(load_config())

    assert current.kafka.up, current.kafka
    assert current.postgres.up, current.postgres
    assert current.all_up
    assert current.kafka.pid is not None
    assert current.postgres.pid is not None
    assert current.kafka.address == endpoints.kafka_bootstrap_servers


def test_starting_again_is_quick_and_returns_the_same_endpoints(endpoints: Endpoints) -> None:
    began = time.monotonic()

    again = start(load_config())

    assert again == endpoints
    assert time.monotonic() - began < 10


def test_the_env_file_names_the_endpoints(endpoints: Endpoints) -> None:
    lines = load_config().env_file.read_text().splitlines()

    assert f"PLATFORM_KAFKA_BOOTSTRAP_SERVERS={endpoints.kafka_bootstrap_servers}" in lines
    assert f"PLATFORM_POSTGRES_URL={endpoints.postgres_url}" in lines


async def test_every_contract_topic_exists_with_its_partitions(endpoints: Endpoints) -> None:
    admin = AIOKafkaAdminClient(**endpoints.kafka_options())
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics()}
    finally:
        await admin.close()

    for name, partitions in topics_to_create():
        assert len(described[name]["partitions"]) == partitions, name


async def test_kafka_round_trips_a_message_through_a_consumer_group(endpoints: Endpoints) -> None:
    topic = f"devstack-selftest-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**endpoints.kafka_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, await replication_factor(admin))])
        producer = AIOKafkaProducer(
            **endpoints.kafka_options(), enable_idempotence=True, acks="all"
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"order-1")
        finally:
            await producer.stop()

        # A group exercises the offsets topic, which only works with replication factor 1.
        consumer = AIOKafkaConsumer(
            topic,
            **endpoints.kafka_options(),
            group_id=f"{topic}-group",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            message = await consumer.getone()
            await consumer.commit()
        finally:
            await consumer.stop()
    finally:
        await admin.delete_topics([topic])
        await admin.close()

    assert (message.key, message.value) == (b"order-1", b"hello")


async def test_postgres_has_the_role_and_service_databases(endpoints: Endpoints) -> None:
    admin = await asyncpg.connect(endpoints.postgres_url)
    try:
        names = {row["datname"] for row in await admin.fetch("SELECT datname FROM pg_database")}
        owners = await admin.fetch(
            "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba"
        )
    finally:
        await admin.close()

    assert set(DATABASES) <= names
    assert {row["datname"]: row["rolname"] for row in owners}["intake"] == "atoz"
    base = endpoints.postgres_url.rsplit("/", 1)[0]
    for database in DATABASES:
        connection = await asyncpg.connect(f"{base}/{database}")
        try:
            assert await connection.fetchval("SELECT current_user") == "atoz"
        finally:
            await connection.close()


async def test_postgres_refuses_a_wrong_password(endpoints: Endpoints) -> None:
    wrong = endpoints.postgres_url.replace("atoz:atoz@", "atoz:wrong@")

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)
