"""A Kafka consumer that applies each poll batch exactly once, in one PostgreSQL transaction.

Built on aiokafka's ``AIOKafkaConsumer`` directly rather than faststream: faststream hands over
one message at a time and commits offsets itself, while exactly-once needs a whole poll batch
applied in ONE database transaction together with its inbox rows (and any outbox rows the
handler enqueues), and the offsets committed to Kafka only after that transaction commits.

For every batch :class:`BatchConsumer`:

1. decodes each record with the topic's contract; a record that is not JSON or breaks the
   contract is published unchanged to ``<topic>.dlq`` with :class:`contracts.dlq.DeadLetter`
   headers (the producer is idempotent, ``acks="all"``, and awaited);
2. in one transaction, records the envelope ids in the inbox and calls the handler with the
   messages never applied before, in partition order;
3. commits the offsets after the last record of each partition.

A crash between 2 and 3 redelivers the batch; the inbox makes the second pass change nothing.
Database and broker outages are retried with backoff and never dead-lettered. When the handler
raises anything else, the batch is replayed one message per transaction to find the culprit,
which alone goes to the DLQ (reason ``handler_error``); the others are applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from contracts import codec
from contracts.dlq import REASON_CONTRACT_VIOLATION, REASON_NOT_JSON, DeadLetter
from contracts.envelope import Envelope
from contracts.topics import Topic
from servicekit.inbox import first_deliveries
from servicekit.kafka import KafkaAccess, idempotent_producer, started, stop_quietly, utc_now
from servicekit.loophealth import LoopHealth
from servicekit.retry import Backoff, is_transient, retry_transient

log = structlog.get_logger(__name__)

T = TypeVar("T")

REASON_HANDLER_ERROR: Final = "handler_error"
"""DLQ reason of a valid message the handler kept failing on (not an outage)."""


class RefusedMessage(Exception):  # noqa: N818  # a verdict on a message, not a failure
    """Raised by a handler for a message that keeps its contract but must not be applied (a
    time beyond the service's bounds, say). The batch is replayed one message at a time, as
    for any handler error, and this message alone goes to the DLQ with ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True, slots=True)
class Delivered:
    """A decoded message, with where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    envelope: Envelope[Any]
    timestamp: datetime
    """The record's Kafka timestamp (UTC); event time is ``envelope.time``."""

    @property
    def message_id(self) -> str:
        """The envelope id, on which the inbox deduplicates."""
        return self.envelope.id


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record bound for its topic's DLQ: original key and bytes, and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    error: str


Decode = Callable[[Topic, bytes], Envelope[Any]]
"""Bytes of a topic to an envelope, raising ``ValueError`` (e.g. ``ContractError``) if invalid."""

Handler = Callable[[asyncpg.Connection, list[Delivered]], Awaitable[None]]
"""Applies first deliveries inside the batch's transaction (it may :func:`outbox.enqueue`)."""

Clock = Callable[[], datetime]


class Record(Protocol):
    """What the helpers read from a Kafka record (aiokafka's ``ConsumerRecord`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


R = TypeVar("R", bound=Record)


def in_partition_order(batch: Mapping[Any, Sequence[R]]) -> list[R]:
    """A ``getmany`` result flattened: partition by partition, each in offset order."""
    records = [record for records in batch.values() for record in records]
    return sorted(records, key=lambda record: (record.topic, record.partition, record.offset))


def next_offsets(records: Iterable[Record]) -> dict[TopicPartition, int]:
    """The offset to commit per partition: one past the last record seen of it."""
    found: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        found[partition] = max(found.get(partition, 0), record.offset + 1)
    return found


def first_occurrences(deliveries: Sequence[Delivered], fresh: set[str]) -> list[Delivered]:
    """The deliveries whose id is in ``fresh``, each id once (its first copy), order kept."""
    kept: list[Delivered] = []
    taken: set[str] = set()
    for delivered in deliveries:
        if delivered.message_id in fresh and delivered.message_id not in taken:
            taken.add(delivered.message_id)
            kept.append(delivered)
    return kept


def rejection_reason(raw: bytes | None) -> str:
    """``not_json`` when ``raw`` is not JSON text at all, else ``contract_violation``."""
    if raw is None:
        return REASON_NOT_JSON
    try:
        json.loads(raw)
    except ValueError:  # covers UnicodeDecodeError and JSONDecodeError
        return REASON_NOT_JSON
    return REASON_CONTRACT_VIOLATION


def classify(topic: Topic, record: Record, decode: Decode) -> Delivered | Rejected:
    """Decode ``record``: :class:`Delivered` if it keeps the contract, else :class:`Rejected`."""

    def rejected(error: str) -> Rejected:
        return Rejected(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            # Parsed again only on this rare path, so valid messages are parsed once.
            reason=rejection_reason(record.value),
            error=error,
        )

    if record.value is None:
        return rejected("record has no value")
    try:
        envelope = decode(topic, record.value)
    except ValueError as error:  # ContractError, and anything else a decoder calls invalid
        return rejected(str(error))
    return Delivered(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        envelope=envelope,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
    )


class _HandlerFailedError(Exception):
    """The handler raised something that is not an outage; ``__cause__`` holds it."""


class _StopRequestedError(Exception):
    """Stop was asked while waiting out a fault: the batch is abandoned, uncommitted."""


def _not_a_lost_commit(error: BaseException) -> bool:
    # A commit refused because the group rebalanced will never succeed: the partition's new
    # owner gets the records again and its inbox skips what this member applied.
    return is_transient(error) and not isinstance(error, CommitFailedError | IllegalStateError)


class _FinishBatchBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base
    """Lets the batch in flight commit its offsets before partitions move to another member."""

    def __init__(self, batch_lock: asyncio.Lock, consumer_name: str) -> None:
        self._batch_lock = batch_lock
        self._consumer_name = consumer_name

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        # Each batch commits its own offsets at its end, so once it is done everything applied
        # is committed.
        async with self._batch_lock:
            pass
        log.info(
            "consumer.partitions_revoked", consumer=self._consumer_name, partitions=_names(revoked)
        )

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info(
            "consumer.partitions_assigned",
            consumer=self._consumer_name,
            partitions=_names(assigned),
        )


def _names(partitions: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)


async def _settle(pending: Sequence[Awaitable[Any]]) -> None:
    results = await asyncio.gather(*pending, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class BatchConsumer:
    """Consumes ``topics`` as ``group_id`` and applies each poll batch exactly once.

    ``consumer_name`` is the inbox's namespace and the DLQ records' ``consumer`` header: keep it
    stable across releases, or every retained message is applied again.
    """

    def __init__(
        self,
        kafka: KafkaAccess,
        group_id: str,
        topics: Sequence[Topic],
        pool: asyncpg.Pool,
        handler: Handler,
        *,
        consumer_name: str,
        max_batch: int = 500,
        decode: Decode = codec.decode,
        backoff: Backoff | None = None,
        poll_timeout_ms: int = 1000,
        client_id: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if not topics:
            raise ValueError("a consumer needs at least one topic")
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._kafka = kafka
        self._group_id = group_id
        self._topics = {topic.name: topic for topic in topics}
        self._pool = pool
        self._handler = handler
        self._name = consumer_name
        self._max_batch = max_batch
        self._decode = decode
        self._backoff = backoff or Backoff()
        self._poll_timeout_ms = poll_timeout_ms
        self._client_id = client_id or consumer_name
        self._clock = clock
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._batch_lock = asyncio.Lock()
        self._stop_requested = asyncio.Event()
        self._polling = False
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.health = LoopHealth("consumer")

    @property
    def running(self) -> bool:
        """True while the consume loop runs (for readiness probes)."""
        return self._task is not None and not self._task.done()

    @property
    def healthy(self) -> bool:
        """Running, and its last attempt (to reach the broker, to apply a batch) worked."""
        return self.running and self.health.healthy

    @property
    def failure(self) -> BaseException | None:
        """The unexpected error that ended the loop, if one did."""
        return self._failure

    async def start(self) -> None:
        """Start consuming in the background; the broker is connected (and retried) there."""
        if self._task is not None:
            raise RuntimeError("consumer already started")
        self._stop_requested.clear()
        self._task = asyncio.create_task(self._run(), name=f"batch-consumer-{self._name}")

    async def stop(self, grace_seconds: float = 20.0) -> None:
        """Finish the batch in flight (up to ``grace_seconds``), then leave the group.

        A batch held up by an outage is abandoned uncommitted: it is delivered again later.
        """
        self._stop_requested.set()
        task, self._task = self._task, None
        if task is not None:
            if self._polling:
                task.cancel()  # waiting for records: nothing in flight to finish
            _, late = await asyncio.wait({task}, timeout=grace_seconds)
            if late:
                # Abandoning the batch rolls its transaction back (or leaves its offsets
                # uncommitted): it is handled again later, never lost.
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()
        await self._close_producer()

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            consumer = await self._retry(self._connect, "connect")
            while not self._stop_requested.is_set():
                self._polling = True
                try:
                    batch = await self._retry(
                        lambda: consumer.getmany(
                            timeout_ms=self._poll_timeout_ms, max_records=self._max_batch
                        ),
                        "poll",
                    )
                finally:
                    self._polling = False
                if batch:
                    async with self._batch_lock:
                        await self._process(in_partition_order(batch))
        except _StopRequestedError:
            log.info("consumer.stopped_during_fault", consumer=self._name)
        except Exception as error:
            # A bug or a broken set-up, not an outage: stop rather than skip messages, and say
            # so loudly; ``failure`` lets a readiness probe report it.
            self._failure = error
            log.exception("consumer.crashed", consumer=self._name, exc_info=error)

    async def _connect(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            **self._kafka.options(),
            group_id=self._group_id,
            client_id=self._client_id,
            enable_auto_commit=False,  # offsets are committed after the database commit only
            auto_offset_reset="earliest",
        )
        consumer.subscribe(
            list(self._topics),
            listener=_FinishBatchBeforeRevoke(self._batch_lock, self._name),
        )
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        return consumer

    async def _process(self, records: Sequence[Any]) -> None:
        deliveries: list[Delivered] = []
        rejected: list[Rejected] = []
        for record in records:
            outcome = classify(self._topics[record.topic], record, self._decode)
            if isinstance(outcome, Delivered):
                deliveries.append(outcome)
            else:
                rejected.append(outcome)
        if rejected:
            await self._dead_letter(rejected)
        if deliveries:
            originals = {(r.topic, r.partition, r.offset): r.value for r in records}
            await self._apply(deliveries, originals)
        await self._commit(next_offsets(records))

    # -- applying ---------------------------------------------------------------------------

    async def _apply(
        self, deliveries: list[Delivered], originals: Mapping[tuple[str, int, int], bytes | None]
    ) -> None:
        try:
            await self._retry(lambda: self._apply_in_transaction(deliveries), "apply_batch")
        except _HandlerFailedError:
            # Some message of the batch breaks the handler: replay them one per transaction so
            # the others are applied and only the culprit is dead-lettered.
            log.warning("consumer.isolating_failure", consumer=self._name, size=len(deliveries))
            for delivered in deliveries:
                await self._apply_alone(
                    delivered, originals[delivered.topic, delivered.partition, delivered.offset]
                )

    async def _apply_alone(self, delivered: Delivered, original: bytes | None) -> None:
        try:
            await self._retry(lambda: self._apply_in_transaction([delivered]), "apply_message")
        except _HandlerFailedError as failure:
            error = failure.__cause__ or failure
            if isinstance(error, RefusedMessage):
                reason, detail = error.reason, error.detail
            else:
                reason, detail = REASON_HANDLER_ERROR, f"{type(error).__name__}: {error}"
                with structlog.contextvars.bound_contextvars(**_message_context(delivered)):
                    log.exception("consumer.handler_failed", consumer=self._name, exc_info=error)
            await self._dead_letter(
                [
                    Rejected(
                        topic=delivered.topic,
                        partition=delivered.partition,
                        offset=delivered.offset,
                        key=delivered.key,
                        value=original,  # the bytes as received, not a re-encoding
                        reason=reason,
                        error=detail,
                    )
                ]
            )

    async def _apply_in_transaction(self, deliveries: list[Delivered]) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            fresh = await first_deliveries(
                connection, self._name, [delivered.message_id for delivered in deliveries]
            )
            todo = first_occurrences(deliveries, fresh)
            if todo:
                try:
                    await self._handler(connection, todo)
                except Exception as error:
                    if is_transient(error):
                        raise  # an outage inside the handler: retry the batch as it is
                    raise _HandlerFailedError(str(error)) from error
        log.debug(
            "consumer.batch_applied",
            consumer=self._name,
            applied=len(todo),
            duplicates=len(deliveries) - len(todo),
        )

    # -- dead letters and offsets -----------------------------------------------------------

    async def _dead_letter(self, rejected: Sequence[Rejected]) -> None:
        failed_at = self._clock()
        for item in rejected:
            with structlog.contextvars.bound_contextvars(
                topic=item.topic, partition=item.partition, offset=item.offset
            ):
                log.warning("consumer.dead_letter", reason=item.reason, error=item.error)

        async def publish() -> None:
            producer = await self._ensure_producer()
            pending: list[Awaitable[Any]] = []
            try:
                for item in rejected:
                    letter = DeadLetter(
                        reason=item.reason,
                        error=item.error,
                        source_topic=item.topic,
                        source_partition=item.partition,
                        source_offset=item.offset,
                        failed_at=failed_at,
                        consumer=self._name,
                    )
                    pending.append(
                        await producer.send(
                            self._topics[item.topic].dlq,
                            item.value,
                            key=item.key,
                            headers=letter.headers(),
                        )
                    )
            except BaseException:
                await self._close_producer()
                raise
            finally:
                await _settle(pending)

        await self._retry(publish, "dead_letter")

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        consumer = self._consumer
        assert consumer is not None  # noqa: S101  # only called from the loop, after connecting
        try:
            await self._retry(
                lambda: consumer.commit(offsets), "commit_offsets", transient=_not_a_lost_commit
            )
        except (CommitFailedError, IllegalStateError) as error:
            log.warning(
                "consumer.commit_skipped",
                consumer=self._name,
                partitions=_names(offsets),
                error=str(error),
            )

    # -- plumbing ---------------------------------------------------------------------------

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await started(
                idempotent_producer(self._kafka, client_id=f"{self._client_id}-dlq")
            )
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        await stop_quietly(producer)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), seconds)
            raise _StopRequestedError

    async def _retry(
        self,
        operation: Callable[[], Awaitable[T]],
        what: str,
        *,
        transient: Callable[[BaseException], bool] = is_transient,
    ) -> T:
        async def attempt() -> T:
            try:
                result = await operation()
            except Exception as error:
                self.health.failed(error)
                raise
            self.health.worked()
            return result

        return await retry_transient(
            attempt,
            backoff=self._backoff,
            what=f"{self._name}.{what}",
            transient=transient,
            sleep=self._sleep,
        )


def _message_context(delivered: Delivered) -> dict[str, Any]:
    return {
        "topic": delivered.topic,
        "partition": delivered.partition,
        "offset": delivered.offset,
        "type": delivered.envelope.type,
        "subject": delivered.envelope.subject,
    }
