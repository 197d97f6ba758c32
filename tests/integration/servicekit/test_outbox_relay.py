"""The outbox relay publishes what was enqueued, in order per key, exactly as enqueued."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from servicekit.kafka import KafkaAccess
from servicekit.outbox import OutboxMessage, OutboxRelay, enqueue
from tests.integration.servicekit.conftest import Topics, read_all, relay_on, wait_until

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


class _Recording:
    """A publisher that records what it was given and acknowledges when ``acks`` is set."""

    def __init__(self, acks: asyncio.Event | None = None) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self._acks = acks

    async def publish(self, message: Any, topic: str = "", **options: Any) -> Any:
        self.sent.append((options["key"], message))
        return asyncio.ensure_future(self._acknowledge())

    async def _acknowledge(self) -> None:
        if self._acks is not None:
            await self._acks.wait()


async def _open_transactions(pool: asyncpg.Pool) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state LIKE 'idle in transaction%'"
        )
    )


async def test_a_relay_waiting_for_kafka_holds_no_transaction_and_other_relays_publish_the_rest(
    pool: asyncpg.Pool,
) -> None:
    sent = [
        OutboxMessage("t", f"ord-{key}".encode(), f"ord-{key}#{seq}".encode())
        for seq in range(5)
        for key in range(64)
    ]
    async with pool.acquire() as connection, connection.transaction():
        await enqueue(connection, sent)
    assert await pool.fetchval("SELECT count(DISTINCT lane) FROM outbox") > 1
    acks = asyncio.Event()
    stuck, free = _Recording(acks), _Recording()
    slow = OutboxRelay(lambda: pool, {"t": stuck}, name="slow", lanes_per_round=1)
    fast = OutboxRelay(lambda: pool, {"t": free}, name="fast", lanes_per_round=1)
    await slow.start()
    try:
        await wait_until(lambda: _true(bool(stuck.sent)), what="the slow relay to send a lane")
        await fast.start()
        try:
            # Everything but the lane the slow relay waits on is published meanwhile.
            await wait_until(
                lambda: _lanes_left(pool, 1), within=10, what="the other lanes to be published"
            )
            assert await _open_transactions(pool) == 0
            acks.set()
            await fast.drain(timeout=10)
        finally:
            await fast.stop()
    finally:
        await slow.stop()
    published = stuck.sent + free.sent
    assert sorted(published) == sorted((m.key, m.value) for m in sent)
    for key in {m.key for m in sent}:
        assert [v for k, v in published if k == key] == [m.value for m in sent if m.key == key]
        # A key's records all went through one relay: they are in one lane.
        assert not ({k for k, _ in stuck.sent} & {k for k, _ in free.sent})


async def _true(value: bool) -> bool:
    return value


async def _lanes_left(pool: asyncpg.Pool, lanes: int) -> bool:
    return bool(await pool.fetchval("SELECT count(DISTINCT lane) FROM outbox") == lanes)


async def test_two_relays_on_one_outbox_publish_each_row_once_in_per_key_order(
    pool: asyncpg.Pool, topics: Topics, kafka: KafkaAccess
) -> None:
    topic = await topics.new(partitions=3)
    sent = [
        OutboxMessage(topic.name, f"ord-{key}".encode(), f"ord-{key}#{seq}".encode())
        for seq in range(20)
        for key in range(40)
    ]
    async with (
        relay_on(pool, kafka, [topic.name], batch_size=25) as one,
        relay_on(pool, kafka, [topic.name], batch_size=25),
    ):
        for start in range(0, len(sent), 40):
            async with pool.acquire() as connection, connection.transaction():
                await enqueue(connection, sent[start : start + 40])
        await one.drain(timeout=20)
    records = await read_all(kafka, topic.name, topic.partitions)
    assert sorted(record.value for record in records) == sorted(m.value for m in sent)
    for key in {m.key for m in sent}:
        in_kafka = [record.value for record in records if record.key == key]
        assert in_kafka == [m.value for m in sent if m.key == key]
