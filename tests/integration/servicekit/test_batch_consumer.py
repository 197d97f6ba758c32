"""BatchConsumer, a faststream batch subscriber, against a real broker and database: each message
applied once, whatever happens.

Every test reads and writes topics of its own, consumed by a group of its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import codec
from contracts.dlq import DeadLetter
from contracts.envelope import Envelope
from contracts.topics import Topic
from servicekit.consumer import Handler
from servicekit.delivery import Delivered, RefusedMessage
from servicekit.kafka import KafkaAccess
from servicekit.outbox import OutboxMessage, enqueue
from servicekit.polls import let_next_poll_in
from servicekit.postgres import SERVICEKIT_MIGRATIONS, apply_migrations, create_pool
from tests.integration.servicekit.conftest import (
    FlakyLink,
    StartedConsumer,
    Topics,
    committed_offsets,
    decode_as_orders,
    order_placed,
    read_all,
    relay_on,
    send_envelopes,
    start_consumer,
    unique,
    wait_until,
)

pytestmark = pytest.mark.integration

_APPLIED_TABLE = """
CREATE TABLE IF NOT EXISTS applied (
    message_id   text   NOT NULL,  -- no unique key: applying twice must show, not fail
    order_id     text   NOT NULL,
    partition    int    NOT NULL,
    kafka_offset bigint NOT NULL
)
"""


def recording_handler(
    output: Topic | None = None, *, poison: str | None = None, refuse: str | None = None
) -> Handler:
    """Records each message in ``applied`` and, with ``output``, emits one event per message.
    The ``poison`` order breaks the handler; the ``refuse`` order is refused with a reason."""

    async def handle(connection: asyncpg.Connection, deliveries: list[Delivered]) -> None:
        for delivered in deliveries:
            if delivered.envelope.data.order_id == poison:
                raise ValueError(f"cannot apply {poison}")
            if delivered.envelope.data.order_id == refuse:
                raise RefusedMessage("event_time_out_of_bounds", f"{refuse} is from 2030")
        await connection.executemany(
            "INSERT INTO applied VALUES ($1, $2, $3, $4)",
            [(d.message_id, d.envelope.data.order_id, d.partition, d.offset) for d in deliveries],
        )
        if output is not None:
            await enqueue(
                connection,
                [
                    OutboxMessage(output.name, d.key or b"", d.message_id.encode())
                    for d in deliveries
                ],
            )

    return handle


@pytest.fixture
async def applied_table(pool: asyncpg.Pool) -> asyncpg.Pool:
    await pool.execute(_APPLIED_TABLE)
    return pool


async def applied_ids(pool: asyncpg.Pool) -> Counter[str]:
    rows = await pool.fetch("SELECT message_id FROM applied")
    return Counter(row["message_id"] for row in rows)


class Running:
    """Starts consumers for a test and stops them all at its end."""

    def __init__(self, kafka: KafkaAccess) -> None:
        self.kafka = kafka
        self.started: list[StartedConsumer] = []

    async def consumer(
        self, topic: Topic, pool: asyncpg.Pool, handler: Handler, *, group_id: str, **kw: Any
    ) -> StartedConsumer:
        consumer = await start_consumer(self.kafka, topic, pool, handler, group_id=group_id, **kw)
        self.started.append(consumer)
        return consumer


@pytest.fixture
async def running(kafka: KafkaAccess) -> AsyncIterator[Running]:
    found = Running(kafka)
    try:
        yield found
    finally:
        for consumer in found.started:
            await consumer.stop()


async def test_each_message_is_applied_once_and_its_event_reaches_kafka_once_in_key_order(
    applied_table: asyncpg.Pool,
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
) -> None:
    source, output = await topics.new(partitions=2), await topics.new(partitions=2)
    envelopes = [order_placed(f"ord-{key}") for _ in range(5) for key in range(4)]
    await send_envelopes(producer, source, envelopes)
    pool, group = applied_table, unique("g")
    async with relay_on(pool, kafka, [output.name]) as relay:
        await running.consumer(source, pool, recording_handler(output), group_id=group, max_batch=7)
        await wait_until(
            lambda: _all_applied(pool, len(envelopes)), within=10, what="every message applied"
        )
        await relay.drain(timeout=10)

    assert await applied_ids(pool) == Counter(e.id for e in envelopes)
    events = await read_all(kafka, output.name, output.partitions)
    assert Counter(record.value.decode() for record in events) == Counter(e.id for e in envelopes)
    for order in {e.data.order_id for e in envelopes}:
        sent = [e.id for e in envelopes if e.data.order_id == order]
        assert [r.value.decode() for r in events if r.key == order.encode()] == sent
    await wait_until(
        lambda: _committed_to_end(kafka, group, source),
        what="offsets committed",
    )
    assert await read_all(kafka, source.dlq, 1) == []


async def _all_applied(pool: asyncpg.Pool, count: int) -> bool:
    return sum((await applied_ids(pool)).values()) >= count


async def _committed_to_end(kafka: KafkaAccess, group: str, topic: Topic) -> bool:
    records = await read_all(kafka, topic.name, topic.partitions)
    ends: dict[int, int] = {}
    for record in records:
        ends[record.partition] = record.offset + 1
    return await committed_offsets(kafka, group) == ends


async def test_a_message_delivered_twice_is_applied_once_in_one_batch_or_across_batches(
    applied_table: asyncpg.Pool, topics: Topics, running: Running, producer: AIOKafkaProducer
) -> None:
    source = await topics.new(partitions=1)
    twice, other = order_placed("ord-twice"), order_placed("ord-other")
    await send_envelopes(producer, source, [twice, twice, other])  # same id, produced twice
    pool = applied_table
    await running.consumer(source, pool, recording_handler(), group_id=unique("g"))
    await wait_until(lambda: _all_applied(pool, 2), what="first batch applied")

    later = order_placed("ord-later")
    await send_envelopes(producer, source, [twice, later])  # and a third time, much later
    await wait_until(
        lambda: _has(pool, later.id), what="the message after the late duplicate applied"
    )
    assert await applied_ids(pool) == Counter({twice.id: 1, other.id: 1, later.id: 1})


async def _has(pool: asyncpg.Pool, message_id: str) -> bool:
    return message_id in await applied_ids(pool)


async def test_a_crash_between_database_commit_and_offset_commit_redelivers_and_changes_nothing(
    applied_table: asyncpg.Pool,
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, output = await topics.new(partitions=2), await topics.new(partitions=1)
    first = [order_placed(f"ord-{n}") for n in range(6)]
    await send_envelopes(producer, source, first)
    pool, group = applied_table, unique("g")

    real_commit = AIOKafkaConsumer.commit
    crashes = 0

    async def crash_once(self: AIOKafkaConsumer, offsets: Any = None) -> None:
        nonlocal crashes
        if crashes == 0:
            crashes += 1
            raise RuntimeError("simulated crash after the database commit")
        await real_commit(self, offsets)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", crash_once)
    crashed = await running.consumer(source, pool, recording_handler(output), group_id=group)
    await wait_until(lambda: _is_true(crashed.failure is not None), what="the simulated crash")
    applied_before = await applied_ids(pool)
    assert applied_before  # the crashed batch was committed to the database ...
    assert await committed_offsets(kafka, group) == {}  # ... but not to Kafka
    await crashed.stop()

    # A restarted process of the same service: same group, same inbox name.
    after = order_placed("ord-after-restart")
    await send_envelopes(producer, source, [after])
    await running.consumer(source, pool, recording_handler(output), group_id=group)
    await wait_until(lambda: _has(pool, after.id), what="the message sent after the restart")
    await wait_until(
        lambda: _committed_to_end(kafka, group, source),
        what="the redelivered batch committed",
    )
    assert await applied_ids(pool) == Counter(e.id for e in [*first, after])
    outbox = await pool.fetch("SELECT value FROM outbox")
    assert Counter(row["value"].decode() for row in outbox) == Counter(
        e.id for e in [*first, after]
    )


async def _is_true(value: bool) -> bool:
    return value


async def test_malformed_and_contract_breaking_messages_go_to_the_dlq_and_the_partition_moves_on(
    applied_table: asyncpg.Pool,
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
) -> None:
    source = await topics.new(partitions=1)
    good = order_placed("ord-good")
    broken = good.model_dump(mode="json")
    del broken["data"]["seller_id"]
    bad = [
        (b"ord-1", b"\xff\xfe\x00 not utf-8"),
        (b"ord-2", b'{"specversion": "1.0", "id": '),
        (b"ord-3", codec.encode(good).replace(b'"seller_id"', b'"seller_idx"')),
    ]
    for key, value in bad:
        await producer.send_and_wait(source.name, value, key=key)
    await send_envelopes(producer, source, [good])
    pool, group = applied_table, unique("g")
    await running.consumer(source, pool, recording_handler(), group_id=group, consumer_name="svc")
    await wait_until(lambda: _has(pool, good.id), what="the good message after the bad ones")

    letters = await read_all(kafka, source.dlq, 1)
    assert [(r.key, r.value) for r in letters] == bad
    metadata = [DeadLetter.from_headers(list(r.headers)) for r in letters]
    assert [m.reason for m in metadata] == ["not_json", "not_json", "contract_violation"]
    assert [(m.source_topic, m.source_partition, m.source_offset) for m in metadata] == [
        (source.name, 0, 0),
        (source.name, 0, 1),
        (source.name, 0, 2),
    ]
    assert all(m.consumer == "svc" for m in metadata)
    assert "seller_id" in metadata[2].error
    await wait_until(lambda: _committed(kafka, group, {0: 4}), what="offsets past the DLQ'd")

    later = order_placed("ord-later")
    await send_envelopes(producer, source, [later])
    await wait_until(lambda: _has(pool, later.id), what="a later good message")
    assert await applied_ids(pool) == Counter({good.id: 1, later.id: 1})


async def _committed(kafka: KafkaAccess, group: str, expected: dict[int, int]) -> bool:
    return await committed_offsets(kafka, group) == expected


@pytest.mark.parametrize(
    ("handler", "reason", "error"),
    [
        (recording_handler(poison="ord-bad"), "handler_error", "ValueError: cannot apply ord-bad"),
        (recording_handler(refuse="ord-bad"), "event_time_out_of_bounds", "ord-bad is from 2030"),
    ],
    ids=["it_breaks_the_handler", "the_handler_refuses_it"],
)
async def test_a_message_the_handler_cannot_apply_alone_goes_to_the_dlq_and_its_batch_mates_apply(
    applied_table: asyncpg.Pool,
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
    handler: Handler,
    reason: str,
    error: str,
) -> None:
    source = await topics.new(partitions=1)
    before, bad, after = order_placed("ord-a"), order_placed("ord-bad"), order_placed("ord-b")
    await send_envelopes(producer, source, [before, bad, after])
    pool, group = applied_table, unique("g")
    await running.consumer(source, pool, handler, group_id=group)
    await wait_until(lambda: _committed(kafka, group, {0: 3}), what="the batch committed")

    assert await applied_ids(pool) == Counter({before.id: 1, after.id: 1})
    letters = await read_all(kafka, source.dlq, 1)
    assert [r.value for r in letters] == [codec.encode(bad)]
    metadata = DeadLetter.from_headers(list(letters[0].headers))
    # The reason the handler gave, else handler_error: never lost, never retried for ever.
    assert (metadata.reason, metadata.source_offset, metadata.error) == (reason, 1, error)


async def test_a_database_outage_is_waited_out_and_nothing_is_dead_lettered(
    database_url: str,
    flaky_link: tuple[FlakyLink, str],
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
) -> None:
    link, url_through_link = flaky_link
    source = await topics.new(partitions=2)
    pool = await create_pool(url_through_link, max_size=3)
    try:
        await apply_migrations(pool, SERVICEKIT_MIGRATIONS)
        await pool.execute(_APPLIED_TABLE)
        group = unique("g")
        warm_up = order_placed("ord-warm-up")
        await send_envelopes(producer, source, [warm_up])
        await running.consumer(source, pool, recording_handler(), group_id=group)
        await wait_until(lambda: _has(pool, warm_up.id), what="the consumer running")

        link.cut()
        during = [order_placed(f"ord-{n}") for n in range(6)]
        await send_envelopes(producer, source, during)
        await asyncio.sleep(3.0)  # several failed attempts, backing off
        observer = await asyncpg.connect(database_url)  # straight to the database
        try:
            rows = await observer.fetchval("SELECT count(*) FROM applied")
        finally:
            await observer.close()
        assert rows == 1

        link.restore()
        await wait_until(lambda: _all_applied(pool, 7), what="the backlog applied after the outage")
        assert await applied_ids(pool) == Counter(e.id for e in [warm_up, *during])
        assert await read_all(kafka, source.dlq, 1) == []
    finally:
        for consumer in running.started:
            await consumer.stop()
        running.started.clear()
        await pool.close()


async def test_a_rebalance_waits_for_the_batch_in_flight_so_its_records_are_not_redelivered(
    applied_table: asyncpg.Pool, topics: Topics, running: Running, producer: AIOKafkaProducer
) -> None:
    source = await topics.new(partitions=2)
    envelopes = [order_placed(f"ord-{n}") for n in range(10)]
    await send_envelopes(producer, source, envelopes)
    pool, group = applied_table, unique("g")
    decoded: Counter[str] = Counter()

    def counting_decode(topic: Topic, raw: bytes) -> Envelope[Any]:
        envelope = decode_as_orders(topic, raw)
        decoded[envelope.id] += 1
        return envelope

    in_first_batch = asyncio.Event()
    record = recording_handler()

    async def slow_first_batch(connection: asyncpg.Connection, batch: list[Delivered]) -> None:
        if not in_first_batch.is_set():
            in_first_batch.set()
            # Longer than a heartbeat (3 s): the rebalance starts while this batch is in flight.
            await asyncio.sleep(4.0)
        await record(connection, batch)

    await running.consumer(source, pool, slow_first_batch, group_id=group, decode=counting_decode)
    await asyncio.wait_for(in_first_batch.wait(), 10)
    await running.consumer(source, pool, record, group_id=group, decode=counting_decode)
    await wait_until(lambda: _all_applied(pool, len(envelopes)), within=12, what="all applied")
    await asyncio.sleep(1.0)  # time for a redelivery to show, were there one

    assert await applied_ids(pool) == Counter(e.id for e in envelopes)
    assert decoded == Counter(e.id for e in envelopes)  # each record was polled exactly once


async def test_a_decoder_that_breaks_stops_the_consumer_without_committing_past_the_batch(
    applied_table: asyncpg.Pool,
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
) -> None:
    source = await topics.new(partitions=1)
    await send_envelopes(producer, source, [order_placed("ord-1")])
    pool, group = applied_table, unique("g")

    def broken(_topic: Topic, _raw: bytes) -> Envelope[Any]:
        raise KeyError("a bug in decoding, not a bad record")

    started = await running.consumer(
        source, pool, recording_handler(), group_id=group, decode=broken
    )
    await wait_until(lambda: _is_true(started.failure is not None), what="the consumer stopping")
    await asyncio.sleep(1.0)  # time for a wrong commit to show, were there one
    assert await committed_offsets(kafka, group) == {}
    assert await applied_ids(pool) == Counter()


def _noting_decoded() -> tuple[list[str], Callable[[Topic, bytes], Envelope[Any]]]:
    """A decoder noting the id of each record it decodes, in order, and the list it notes in."""
    decoded: list[str] = []

    def decode(topic: Topic, raw: bytes) -> Envelope[Any]:
        envelope = decode_as_orders(topic, raw)
        decoded.append(envelope.id)
        return envelope

    return decoded, decode


async def test_under_load_the_next_poll_is_decoded_while_a_batch_writes_and_each_commits_its_own(
    applied_table: asyncpg.Pool,
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
) -> None:
    source = await topics.new(partitions=1)
    envelopes = [order_placed(f"ord-{n}") for n in range(30)]
    await send_envelopes(producer, source, envelopes)
    pool, group = applied_table, unique("g")
    decoded, counting_decode = _noting_decoded()

    entered = [asyncio.Event() for _ in range(3)]
    released = [asyncio.Event() for _ in range(3)]
    record = recording_handler()
    calls = 0

    async def held(connection: asyncpg.Connection, batch: list[Delivered]) -> None:
        nonlocal calls
        calls += 1
        mine = min(calls, 3) - 1
        let_next_poll_in()  # what is left is this batch's writes
        entered[mine].set()
        await released[mine].wait()
        await record(connection, batch)

    await running.consumer(source, pool, held, group_id=group, decode=counting_decode, max_batch=10)
    await asyncio.wait_for(entered[0].wait(), 15)
    # The first batch of ten is held in its transaction: the second poll is fetched and
    # decoded meanwhile, but not applied, and nothing is committed yet.
    await wait_until(lambda: _is_true(len(decoded) >= 20), what="the next poll decoded")
    await asyncio.sleep(0.5)
    assert calls == 1
    assert await committed_offsets(kafka, group) == {}
    released[0].set()
    await asyncio.wait_for(entered[1].wait(), 15)
    # The second batch is in flight and the third decoded: the commit is the first batch's
    # own offsets, not the consumer's position.
    await wait_until(lambda: _is_true(len(decoded) >= 30), what="the third poll decoded")
    assert await committed_offsets(kafka, group) == {0: 10}
    released[1].set()
    released[2].set()
    await wait_until(lambda: _all_applied(pool, len(envelopes)), within=15, what="all applied")
    await wait_until(lambda: _committed_to_end(kafka, group, source), what="committed to the end")
    assert await applied_ids(pool) == Counter(e.id for e in envelopes)
    assert Counter(decoded) == Counter(e.id for e in envelopes)


async def test_a_handler_that_never_lets_the_next_poll_in_has_it_decoded_after_its_commit(
    applied_table: asyncpg.Pool,
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
) -> None:
    source = await topics.new(partitions=1)
    envelopes = [order_placed(f"ord-{n}") for n in range(20)]
    await send_envelopes(producer, source, envelopes)
    pool, group = applied_table, unique("g")
    decoded, counting_decode = _noting_decoded()

    entered, released = asyncio.Event(), asyncio.Event()
    record = recording_handler()

    async def held_first(connection: asyncpg.Connection, batch: list[Delivered]) -> None:
        if not entered.is_set():
            entered.set()
            await released.wait()
        await record(connection, batch)

    await running.consumer(
        source, pool, held_first, group_id=group, decode=counting_decode, max_batch=10
    )
    await asyncio.wait_for(entered.wait(), 15)
    await asyncio.sleep(1.0)  # time for the next poll to be decoded, were it let in
    assert len(decoded) == 10
    released.set()
    await wait_until(lambda: _all_applied(pool, len(envelopes)), within=15, what="all applied")
    assert Counter(decoded) == Counter(e.id for e in envelopes)


async def test_a_caught_up_batch_commits_the_partitions_it_had_no_record_of_too(
    applied_table: asyncpg.Pool,
    topics: Topics,
    running: Running,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
) -> None:
    # A partition never committed must be looked up at its leader by its next owner (a
    # ListOffsets that can stall while a broker is away): the caught-up commit covers it.
    source = await topics.new(partitions=2)
    envelopes = [order_placed("ord-only")]
    await send_envelopes(producer, source, envelopes)
    pool, group = applied_table, unique("g")
    await running.consumer(source, pool, recording_handler(), group_id=group)
    await wait_until(lambda: _all_applied(pool, 1), what="the one message applied")

    async def both_committed() -> bool:
        return set(await committed_offsets(kafka, group)) == {0, 1}

    await wait_until(both_committed, what="both partitions committed")
    committed = await committed_offsets(kafka, group)
    assert sum(committed.values()) == 1  # one past the one record, and the empty one at 0
