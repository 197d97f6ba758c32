"""A local Kafka of three brokers, for real: replicated topics, and a broker lost mid-stream.

Self-contained: the module starts a three-broker devstack of its own (its own home and ports,
no PostgreSQL) and wipes it at the end.
"""

from __future__ import annotations

import random
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import topics_to_create
from devstack import api
from devstack import kafka as kafka_server
from devstack.config import HOST, DevstackConfig, load_config
from devstack.procs import port_is_free, send_signal, wait_for_exit

pytestmark = pytest.mark.integration


def _free_base_port() -> int:
    """A client port whose controller port, and both + 100 and + 200, are free."""
    for _ in range(200):
        base = random.randrange(30_000, 39_000, 2)  # a port, not a secret
        wanted = [base + step + offset for step in (0, 1) for offset in (0, 100, 200)]
        if all(port_is_free(HOST, port) for port in wanted):
            return base
    raise RuntimeError("no free ports for a three-broker cluster")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevstackConfig]:
    home: Path = tmp_path_factory.mktemp("kafka-cluster")
    base = _free_base_port()
    config = load_config(
        {
            "DEVSTACK_HOME": str(home),
            "DEVSTACK_KAFKA_PORT": str(base),
            "DEVSTACK_KAFKA_CONTROLLER_PORT": str(base + 1),
            "DEVSTACK_POSTGRES_PORT": str(base + 2),
            "DEVSTACK_KAFKA_HEAP": "384m",
        },
        brokers=3,
    )
    api.start(config, postgres=False)
    try:
        yield config
    finally:
        api.clean(config)


def _brokers(config: DevstackConfig) -> list[api.ServerStatus]:
    current = api.status(config)
    return [current.kafka, *current.brokers]


def _admin(config: DevstackConfig) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**kafka_server.admin_options(config))


async def test_every_contract_topic_has_three_replicas_all_in_sync(cluster: DevstackConfig) -> None:
    assert [(s.name, s.up) for s in _brokers(cluster)] == [
        ("kafka", True),
        ("kafka-2", True),
        ("kafka-3", True),
    ]
    admin = _admin(cluster)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics()}
    finally:
        await admin.close()
    for name, partitions in topics_to_create():
        assert len(described[name]["partitions"]) == partitions, name
        for partition in described[name]["partitions"]:
            assert sorted(partition["replicas"]) == [1, 2, 3], name
            assert sorted(partition["isr"]) == [1, 2, 3], name


async def test_writes_acknowledged_by_all_survive_a_broker_killed_mid_stream(
    cluster: DevstackConfig,
) -> None:
    topic = f"cluster-selftest-{uuid.uuid4().hex[:8]}"
    options = kafka_server.admin_options(cluster)
    admin = _admin(cluster)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 3)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for n in range(100):
            await producer.send_and_wait(topic, f"{n}".encode(), key=f"k{n % 7}".encode())
        first_pid = kafka_server.node_pid(kafka_server.nodes(cluster)[0])
        second = kafka_server.nodes(cluster)[1]
        pid = kafka_server.node_pid(second)
        assert pid is not None
        send_signal(pid, signal.SIGKILL, group=True)
        assert wait_for_exit(pid, timeout_s=30)
        # Two replicas of three are still in sync: acks=all keeps being honoured.
        for n in range(100, 200):
            await producer.send_and_wait(topic, f"{n}".encode(), key=f"k{n % 7}".encode())
    finally:
        await producer.stop()
    assert [s.up for s in _brokers(cluster)] == [True, False, True]
    consumer = AIOKafkaConsumer(
        topic,
        **options,
        group_id=f"cluster-selftest-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen: set[int] = set()
        while len(seen) < 200:
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"only {len(seen)} of 200 records came back"
            seen |= {int(r.value or b"") for records in batch.values() for r in records}
    finally:
        await consumer.stop()
    assert seen == set(range(200))
    # Starting again brings back only the broker that is down.
    api.start(cluster, postgres=False)
    assert all(s.up for s in _brokers(cluster))
    assert kafka_server.node_pid(kafka_server.nodes(cluster)[0]) == first_pid
