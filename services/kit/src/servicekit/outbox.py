"""The transactional outbox and its relay to Kafka.

A service that changes state and emits events writes both in one PostgreSQL transaction: the
events go to the ``outbox`` table with :func:`enqueue`. :class:`OutboxRelay` then publishes them
in id order through the service's faststream publisher of each topic (the broker's one
idempotent producer, ``acks="all"``) and deletes them only after the broker acknowledged every
one. A crash anywhere means a row is published again, never lost; consumers deduplicate by
envelope id.

Rows are relayed in **lanes** (the ``lane`` column: a hash of the key, computed by the
database). A relay takes a few lanes at a time with session advisory locks, sends their rows in
id order, waits for the acknowledgements with no transaction open, deletes what was
acknowledged and lets the lanes go. Relays of several replicas so publish side by side, each on
lanes the others do not hold, and one slow broker holds up only the lanes waiting for it.

Per-key order holds because a key's rows are all in one lane, published by one relay at a
time, in id order, through one producer, which keeps a partition's batches in order: it is
idempotent and aiokafka sends at most one request per broker at a time (fewer than the five in
flight idempotence allows). After a broker fault the producer reconnects by itself (aiokafka
re-creates its connections); the rows are sent again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import asyncpg
import structlog

from servicekit.kafka import settle
from servicekit.loophealth import LoopHealth
from servicekit.retry import Backoff, is_transient
from servicekit.tracing import OFF, TRACEPARENT_HEADER, Span, SpanKind, StatusCode, Tracing

log = structlog.get_logger(__name__)

OUTBOX_CHANNEL: Final = "servicekit_outbox"
"""The LISTEN/NOTIFY channel :func:`enqueue` notifies; each service has its own database."""

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A Kafka record to publish once the enqueuing transaction commits."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers = ()

    @classmethod
    def traced(cls, topic: str, key: bytes, value: bytes, traceparent: str | None) -> OutboxMessage:
        """A record carrying ``traceparent`` as a header too: the relay's publish span joins
        the trace without parsing the value, and consumers outside the platform find it where
        Kafka instrumentations look."""
        headers = ((TRACEPARENT_HEADER, traceparent.encode()),) if traceparent else ()
        return cls(topic, key, value, headers)


def encode_headers(headers: Iterable[tuple[str, bytes]]) -> str:
    """Kafka headers as JSON text for the ``headers jsonb`` column (values in base64)."""
    return json.dumps([[name, base64.b64encode(value).decode("ascii")] for name, value in headers])


def decode_headers(stored: str | None) -> list[tuple[str, bytes]]:
    """The Kafka headers :func:`encode_headers` stored, in their original order."""
    if not stored:
        return []
    return [(name, base64.b64decode(value)) for name, value in json.loads(stored)]


# One statement, one round trip: the rows keep the order they were given in (ids grow with it),
# and the notification, sent only when the transaction commits, wakes the relay at once.
_ENQUEUE: Final = """
WITH inserted AS (
    INSERT INTO outbox (topic, key, value, headers)
    SELECT topic, key, value, headers
    FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])
        WITH ORDINALITY AS given (topic, key, value, headers, position)
    ORDER BY position
    RETURNING 1
)
SELECT pg_notify($5, '') FROM (SELECT count(*) FROM inserted) AS done
"""


async def enqueue(connection: asyncpg.Connection, messages: Sequence[OutboxMessage]) -> None:
    """Add ``messages`` to the outbox inside the caller's transaction, in the order given."""
    if not connection.is_in_transaction():
        # Outside a transaction the events would outlive a rollback of what caused them.
        raise RuntimeError("enqueue must run inside the transaction that changes the state")
    if not messages:
        return
    await connection.execute(
        _ENQUEUE,
        [message.topic for message in messages],
        [message.key for message in messages],
        [message.value for message in messages],
        [encode_headers(message.headers) for message in messages],
        OUTBOX_CHANNEL,
    )


# A lane's advisory lock: (this namespace, lane). Session locks, held on the relay's connection
# for one round and released at its end; asyncpg's pool also releases every advisory lock of a
# connection it gets back, so none outlives a relay that failed.
# The lanes with rows, in one walk of the (lane, id) index (a loose index scan).
_LANES_WITH_ROWS: Final = """
WITH RECURSIVE lanes AS (
    (SELECT lane FROM outbox ORDER BY lane LIMIT 1)
    UNION ALL
    SELECT (SELECT o.lane FROM outbox o WHERE o.lane > lanes.lane ORDER BY o.lane LIMIT 1)
    FROM lanes WHERE lanes.lane IS NOT NULL
)
SELECT lane FROM lanes WHERE lane IS NOT NULL
"""
_TAKE_LANE: Final = "SELECT pg_try_advisory_lock(hashtext('servicekit.outbox_relay'), $1)"
_LEAVE_LANES: Final = """
SELECT pg_advisory_unlock(hashtext('servicekit.outbox_relay'), lane)
FROM unnest($1::integer[]) AS lane
"""
_ROWS_OF_LANES: Final = """
SELECT id, topic, key, value, headers FROM outbox WHERE lane = ANY($1::smallint[])
ORDER BY id LIMIT $2
"""
_DELETE: Final = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"


class Publisher(Protocol):
    """What the relay needs of a faststream publisher (``KafkaBroker.publisher(topic)``)."""

    async def publish(
        self,
        message: Any,
        topic: str = "",
        *,
        key: bytes | Any | None = None,
        headers: dict[str, str] | None = None,
        no_confirm: bool = False,
    ) -> Any: ...


class BrokerNotConnectedError(ConnectionError):
    """The service's broker has not connected yet (an outage: retried)."""


class UndeclaredTopicError(LookupError):
    """An outbox row for a topic the service declared no publisher of (a bug, not an outage)."""


class OutboxRelay:
    """Publishes the outbox to Kafka, oldest first, and deletes what the broker acknowledged.

    Woken by ``NOTIFY`` when a transaction enqueues (it holds one pool connection to LISTEN),
    and polls every ``idle_poll_seconds`` in case a notification was missed. Each round takes up
    to ``lanes_per_round`` lanes no other relay holds and up to ``batch_size`` of their rows.
    Broker or database faults leave the rows where they are, retried with backoff, forever:
    rows are never dropped.
    """

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        publishers: Mapping[str, Publisher],
        *,
        name: str,
        connected: asyncio.Event | None = None,
        batch_size: int = 500,
        lanes_per_round: int = 4,
        idle_poll_seconds: float = 1.0,
        backoff: Backoff | None = None,
        tracing: Tracing = OFF,
        on_published: Callable[[Iterable[str]], None] | None = None,
    ) -> None:
        if batch_size < 1 or lanes_per_round < 1:
            raise ValueError("batch_size and lanes_per_round must be at least 1")
        self._pool_of = pool
        self._publishers = publishers
        self._name = name
        self._connected = connected
        self._batch_size = batch_size
        self._lanes_per_round = lanes_per_round
        self._idle_poll_seconds = idle_poll_seconds
        self._backoff = backoff or Backoff()
        self._tracing = tracing
        self._on_published = on_published
        self._listener: asyncpg.Connection | None = None
        self._wake = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.health = LoopHealth("relay")

    @property
    def running(self) -> bool:
        """True while the relay loop runs (for readiness probes)."""
        return self._task is not None and not self._task.done()

    @property
    def healthy(self) -> bool:
        """Running, and its last attempt to publish (or to find nothing to publish) worked."""
        return self.running and self.health.healthy

    async def start(self) -> None:
        """Start relaying in the background; connections are made (and retried) there."""
        if self._task is not None:
            raise RuntimeError("relay already started")
        self._stop_requested.clear()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._name}")

    async def stop(self, grace_seconds: float = 20.0) -> None:
        """Finish the batch in flight (up to ``grace_seconds``); the broker's owner stops it."""
        self._stop_requested.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            _, late = await asyncio.wait({task}, timeout=grace_seconds)
            if late:
                # Abandoning the batch rolls its transaction back: its rows stay, sent later.
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._release_listener()

    @property
    def _pool(self) -> asyncpg.Pool:
        return self._pool_of()

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109  # a test helper
        """Wait until the outbox is empty (everything enqueued so far is acknowledged)."""
        async with asyncio.timeout(timeout):
            while True:
                if not await self._pool.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)"):
                    return
                self._wake.set()
                await asyncio.sleep(0.05)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def _listening(self) -> bool:
        """Whether the LISTEN connection is still there. When the database drops it (a restart,
        a failover), asyncpg hands it back to the pool: asking it anything then raises."""
        try:
            return self._listener is not None and not self._listener.is_closed()
        except asyncpg.InterfaceError:
            return False

    async def _ensure_listening(self) -> None:
        if self._listening():
            return
        await self._release_listener()
        connection = await self._pool.acquire()
        try:
            await connection.add_listener(OUTBOX_CHANNEL, self._on_notify)
        except BaseException:
            await self._pool.release(connection)
            raise
        self._listener = connection

    async def _release_listener(self) -> None:
        connection, self._listener = self._listener, None
        if connection is not None:
            # A connection lost with the database has nothing to unlisten; release it anyway so
            # the pool replaces it.
            with contextlib.suppress(Exception):
                await connection.remove_listener(OUTBOX_CHANNEL, self._on_notify)
            with contextlib.suppress(Exception):
                await self._pool.release(connection)

    def _publisher(self, topic: str) -> Publisher:
        try:
            return self._publishers[topic]
        except KeyError:
            raise UndeclaredTopicError(f"{self._name} declares no publisher of {topic!r}") from None

    async def _until_connected(self) -> bool:
        """Wait (a second at most) for the broker while it is not connected yet; say whether
        it is. Waiting is not a failed attempt: the backoff does not grow meanwhile, so the
        relay publishes as soon as the broker connects."""
        if self._connected is None or self._connected.is_set():
            return True
        self.health.failed(BrokerNotConnectedError(f"{self._name}: the broker is not connected"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), 1.0)
        return self._connected.is_set()

    async def _publish_batch(self) -> tuple[int, bool]:
        """One round: (rows published, whether lanes were left for the next round at once)."""
        async with self._pool.acquire() as connection:
            waiting = [row["lane"] for row in await connection.fetch(_LANES_WITH_ROWS)]
            # In a random order, so relays of several replicas mostly try different lanes.
            random.shuffle(waiting)
            lanes: list[int] = []
            tried = 0
            try:
                for lane in waiting:
                    if len(lanes) == self._lanes_per_round:
                        break
                    tried += 1
                    if await connection.fetchval(_TAKE_LANE, lane):
                        lanes.append(lane)
                if not lanes:
                    return 0, False
                # No transaction: the lane locks keep other relays off these rows, and nothing
                # is held that would stop an enqueue or another lane while Kafka acknowledges.
                rows = await connection.fetch(_ROWS_OF_LANES, lanes, self._batch_size)
                if rows:
                    await self._publish(rows)
                    await connection.execute(_DELETE, [row["id"] for row in rows])
            finally:
                if lanes:
                    with contextlib.suppress(Exception):  # a lost connection lost its locks
                        await connection.execute(_LEAVE_LANES, lanes)
        if self._on_published is not None and rows:  # acknowledged and deleted: for good
            self._on_published(row["topic"] for row in rows)
        log.debug("outbox.published", count=len(rows), lanes=len(lanes))
        # More at once if this round was full or lanes were left untried; lanes another relay
        # holds are its to publish (a NOTIFY or the poll brings this one back).
        return len(rows), len(rows) == self._batch_size or tried < len(waiting)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> None:
        pending: list[Awaitable[Any] | None] = []
        spans: list[Span] = []
        try:
            await self._send(rows, pending, spans)
        except Exception as error:
            for span in spans:
                span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
            raise
        finally:
            for span in spans:  # each publish lasts until the broker acknowledged
                span.end()

    async def _send(
        self,
        rows: Sequence[asyncpg.Record],
        pending: list[Awaitable[Any] | None],
        spans: list[Span],
    ) -> None:
        """Queue every row with its producer, then await every acknowledgement (all of them,
        even when queueing one failed: none is left in flight)."""
        try:
            for row in rows:
                headers = {name: value.decode() for name, value in decode_headers(row["headers"])}
                span = self._tracing.start(
                    f"publish {row['topic']}",
                    parent=headers.get(TRACEPARENT_HEADER),
                    kind=SpanKind.PRODUCER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.operation.type": "send",
                        "messaging.destination.name": row["topic"],
                    },
                )
                if span is not None:
                    spans.append(span)
                # no_confirm only queues the record; the future resolves on acknowledgement.
                pending.append(
                    await self._publisher(row["topic"]).publish(
                        row["value"], key=row["key"], headers=headers, no_confirm=True
                    )
                )
        finally:
            await settle(pending)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), seconds)

    async def _run(self) -> None:
        failures = 0
        while not self._stop_requested.is_set():
            # Cleared before reading: a NOTIFY arriving while a batch is sent wakes the next wait.
            self._wake.clear()
            if not await self._until_connected():
                continue
            try:
                await self._ensure_listening()
                _, more = await self._publish_batch()
            except Exception as error:
                failures += 1
                self.health.failed(error)
                if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
                    # Whatever broke with the database is dropped and made again, never reused.
                    await self._release_listener()
                delay = self._backoff.delay(failures)
                fields = {"error": f"{type(error).__name__}: {error}", "retry_in": round(delay, 3)}
                if is_transient(error):
                    log.warning("outbox.relay_fault", attempt=failures, **fields)
                else:
                    # Not an outage (a bug, a missing table): still never drop, but shout.
                    log.exception("outbox.relay_error", attempt=failures, exc_info=error, **fields)
                await self._pause(delay)
                continue
            failures = 0
            self.health.worked()
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll_seconds)
