"""Fixtures for servicekit's exactly-once tests: a migrated pool, private topics, a flaky link.

Each test gets topics of its own (and their DLQs), so nothing it reads was written by anyone
else and nothing it writes disturbs other tests; they are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts import codec
from contracts.envelope import Envelope, wrap
from contracts.examples import order_payloads
from contracts.topics import ORDERS, Topic
from servicekit.brokerlink import BrokerLink
from servicekit.consumer import BatchConsumer, Handler, pool_transactions
from servicekit.kafka import KafkaAccess, service_broker
from servicekit.outbox import OutboxRelay
from servicekit.postgres import SERVICEKIT_MIGRATIONS, apply_migrations, create_pool
from servicekit.retry import Backoff
from tests.support.kafka import replication_factor

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def order_placed(order_id: str, *, event_id: str | None = None) -> Envelope[Any]:
    """A valid ``order.placed`` envelope for ``order_id``."""
    payload = order_payloads()[0].model_copy(update={"order_id": order_id})
    return wrap(payload, source="/test/servicekit", subject=order_id, time=T0, event_id=event_id)


def decode_as_orders(_topic: Topic, raw: bytes) -> Envelope[Any]:
    """Decode a private test topic's bytes with the contract of ``orders.v1``, which it mirrors."""
    return codec.decode(ORDERS, raw)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], within: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``condition`` until it holds; fail the test after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with servicekit's tables."""
    created = await create_pool(database_url, max_size=5)
    await apply_migrations(created, SERVICEKIT_MIGRATIONS)
    try:
        yield created
    finally:
        await created.close()


@dataclass
class Topics:
    """Creates private topics (each with its DLQ) and deletes them at the end of the test."""

    kafka: KafkaAccess
    admin: AIOKafkaAdminClient
    created: list[str] = field(default_factory=list)

    async def new(self, partitions: int = 2) -> Topic:
        topic = Topic(
            f"test.servicekit.{uuid.uuid4().hex[:12]}",
            partitions=partitions,
            key="order_id",
            producer="test",
        )
        replicas = await replication_factor(self.admin)
        await self.admin.create_topics(
            [
                NewTopic(topic.name, num_partitions=partitions, replication_factor=replicas),
                NewTopic(topic.dlq, num_partitions=1, replication_factor=replicas),
            ]
        )
        self.created += [topic.name, topic.dlq]
        return topic


@pytest.fixture
async def topics(kafka: KafkaAccess) -> AsyncIterator[Topics]:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    made = Topics(kafka, admin)
    try:
        yield made
    finally:
        with contextlib.suppress(Exception):  # cleanup only: a leftover topic harms nothing
            await admin.delete_topics(made.created)
        await admin.close()


@pytest.fixture
async def producer(kafka: KafkaAccess) -> AsyncIterator[AIOKafkaProducer]:
    created = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await created.start()
    try:
        yield created
    finally:
        await created.stop()


async def send_envelopes(
    producer: AIOKafkaProducer, topic: Topic, envelopes: Iterable[Envelope[Any]]
) -> None:
    """Publish ``envelopes`` in order, keyed by order id, and wait for every acknowledgement."""
    for envelope in envelopes:
        await producer.send_and_wait(
            topic.name, codec.encode(envelope), key=codec.message_key(ORDERS, envelope)
        )


async def read_all(
    kafka: KafkaAccess, topic: str, partitions: int, *, within: float = 10.0
) -> list[Any]:
    """Every record of ``topic`` from the beginning to its end now, in partition/offset order."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        found: list[Any] = []
        deadline = asyncio.get_running_loop().time() + within
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"could not read {topic} to its end")
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found.extend(records)
    finally:
        await consumer.stop()
    return sorted(found, key=lambda record: (record.partition, record.offset))


async def committed_offsets(kafka: KafkaAccess, group_id: str) -> dict[int, int]:
    """The offsets ``group_id`` has committed, by partition."""
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class FlakyLink:
    """A TCP proxy to PostgreSQL that can be cut: open connections drop, new ones are hung up."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._url_parts = parts
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.up = True

    async def start(self) -> str:
        """Listen on a free port; return ``url`` rewritten to go through this link."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        netloc = self._url_parts.netloc.rsplit("@", 1)
        auth = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit(self._url_parts._replace(netloc=f"{auth}127.0.0.1:{port}"))

    def cut(self) -> None:
        self.up = False
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._transports |= {writer.transport, upstream_writer.transport}
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            sink.transport.abort()


@pytest.fixture
async def flaky_link(database_url: str) -> AsyncIterator[tuple[FlakyLink, str]]:
    """A :class:`FlakyLink` to the test's database and the URL that goes through it."""
    link = FlakyLink(database_url)
    url = await link.start()
    try:
        yield link, url
    finally:
        await link.close()


FAST = Backoff(initial_seconds=0.05, max_seconds=0.5)
"""Retries fast enough for a test to see several in a few seconds."""


@asynccontextmanager
async def relay_on(
    pool: asyncpg.Pool,
    kafka: KafkaAccess,
    topic_names: Iterable[str],
    *,
    grace_seconds: float = 20.0,
    **options: Any,
) -> AsyncIterator[OutboxRelay]:
    """A relay publishing to ``topic_names`` through a faststream broker of its own."""
    broker = service_broker(kafka, client_id=unique("test-relay"))
    publishers = {name: broker.publisher(name) for name in topic_names}
    link = BrokerLink(broker, name="test-relay", backoff=FAST)
    relay = OutboxRelay(
        lambda: pool,
        publishers,
        name="test-relay",
        connected=link.connected,
        backoff=FAST,
        **options,
    )
    await link.start(wait_seconds=15)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop(grace_seconds=grace_seconds)
        await link.stop()


@dataclass
class StartedConsumer:
    """A BatchConsumer on a broker of its own, as one process of a service would run it."""

    consumer: BatchConsumer
    link: BrokerLink

    @property
    def failure(self) -> BaseException | None:
        return self.consumer.failure

    async def stop(self) -> None:
        self.consumer.request_stop()
        await self.consumer.drain(grace_seconds=5)
        await self.link.stop()


async def start_consumer(
    kafka: KafkaAccess,
    topic: Topic,
    pool: asyncpg.Pool,
    handler: Handler,
    *,
    group_id: str,
    consumer_name: str = "test-consumer",
    **options: Any,
) -> StartedConsumer:
    """Start consuming ``topic`` as ``group_id`` (decoded as ``orders.v1`` unless told)."""
    broker = service_broker(kafka, client_id=unique("test-consumer"), graceful_timeout=5)
    consumer = BatchConsumer(
        broker,
        group_id,
        [topic],
        handler,
        begin=pool_transactions(lambda: pool),
        consumer_name=consumer_name,
        decode=options.pop("decode", decode_as_orders),
        backoff=FAST,
        poll_timeout_ms=200,
        **options,
    )
    link = BrokerLink(broker, name=consumer_name, backoff=FAST)
    await link.start(wait_seconds=15)
    return StartedConsumer(consumer, link)
