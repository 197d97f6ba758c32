"""The outbox relay publishes what was enqueued, in order per key, exactly as enqueued."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from servicekit.kafka import KafkaAccess
from servicekit.outbox import OutboxMessage, enqueue
from tests.integration.servicekit.conftest import Topics, read_all, relay_on

pytestmark = pytest.mark.integration


async def test_the_relay_publishes_each_row_once_in_per_key_order_then_empties_the_outbox(
    pool: asyncpg.Pool, topics: Topics, kafka: KafkaAccess
) -> None:
    topic = await topics.new(partitions=3)
    keys = [f"ord-{n}".encode() for n in range(4)]
    sent = [
        OutboxMessage(
            topic.name, key, f"{key.decode()}#{seq}".encode(), (("seq", str(seq).encode()),)
        )
        for seq in range(25)
        for key in keys
    ]
    # Several transactions, so rows of one key come from different batches of the relay.
    for start in range(0, len(sent), 30):
        async with pool.acquire() as connection, connection.transaction():
            await enqueue(connection, sent[start : start + 30])
    async with relay_on(pool, kafka, [topic.name], batch_size=7) as relay:
        await relay.drain(timeout=10)

    records = await read_all(kafka, topic.name, topic.partitions)
    assert sorted(record.value for record in records) == sorted(m.value for m in sent)
    for key in keys:
        in_kafka = [record.value for record in records if record.key == key]
        assert in_kafka == [m.value for m in sent if m.key == key]
    first = next(record for record in records if record.value == sent[0].value)
    # The enqueued headers, beside the ones faststream adds (content-type, correlation_id).
    assert [header for header in first.headers if header[0] == "seq"] == [("seq", b"0")]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_commit_wakes_an_idle_relay_at_once_without_waiting_for_its_poll(
    pool: asyncpg.Pool, topics: Topics, kafka: KafkaAccess
) -> None:
    topic = await topics.new(partitions=1)
    async with relay_on(pool, kafka, [topic.name], idle_poll_seconds=60) as relay:
        await asyncio.sleep(1.0)  # let it find the outbox empty and go idle
        async with pool.acquire() as connection, connection.transaction():
            await enqueue(connection, [OutboxMessage(topic.name, b"k", b"woken")])
        # Well under the 60 s poll: only the NOTIFY can have woken it.
        await relay.drain(timeout=5)
    records = await read_all(kafka, topic.name, topic.partitions)
    assert [record.value for record in records] == [b"woken"]


async def test_rows_the_broker_cannot_take_are_kept_in_the_outbox_never_dropped(
    pool: asyncpg.Pool, kafka: KafkaAccess
) -> None:
    missing = f"test.servicekit.missing-{uuid.uuid4().hex[:8]}"  # topics are never auto-created
    async with pool.acquire() as connection, connection.transaction():
        await enqueue(connection, [OutboxMessage(missing, b"k", b"kept")])
    async with relay_on(pool, kafka, [missing], grace_seconds=1.0):
        await asyncio.sleep(2.0)
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def _terminate_every_connection(database_url: str, postgres_url: str) -> int:
    """What a database restart does to its clients: every backend of the database is gone."""
    admin = await asyncpg.connect(postgres_url)
    try:
        database = database_url.rsplit("/", 1)[1]
        return int(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        )
    finally:
        await admin.close()


async def test_after_the_database_drops_every_connection_the_relay_listens_and_publishes_again(
    pool: asyncpg.Pool, topics: Topics, kafka: KafkaAccess, database_url: str, postgres_url: str
) -> None:
    topic = await topics.new(partitions=1)
    async with relay_on(pool, kafka, [topic.name], idle_poll_seconds=60) as relay:
        async with pool.acquire() as connection, connection.transaction():
            await enqueue(connection, [OutboxMessage(topic.name, b"k", b"before")])
        await relay.drain(timeout=5)
        assert await _terminate_every_connection(database_url, postgres_url) >= 1
        await asyncio.sleep(1.0)  # the relay sees its connections gone
        async with pool.acquire() as connection, connection.transaction():
            await enqueue(connection, [OutboxMessage(topic.name, b"k", b"after")])
        # Woken by a NOTIFY on a listening connection made again (the poll is 60 s away).
        await relay.drain(timeout=10)
        assert relay.healthy
    records = await read_all(kafka, topic.name, topic.partitions)
    assert [record.value for record in records] == [b"before", b"after"]
