"""The exactly-once batch subscriber: faststream polls and commits, this module applies.

A consuming service declares one :class:`BatchConsumer` on its faststream broker: a subscriber
with ``batch=True`` (faststream hands over a whole poll batch, up to ``max_batch`` records) and
an explicit ``AckPolicy.MANUAL`` (offsets move only when the handler calls ``ack()``). For
every batch:

1. the subscriber's **custom decoder** (:func:`servicekit.delivery.classify`, in partition
   order) decodes each record with its topic's contract; a record that is not JSON or breaks
   the contract is published unchanged to ``<topic>.dlq`` through a faststream publisher,
   with :class:`contracts.dlq.DeadLetter` headers, and awaited;
2. in one transaction, the envelope ids are recorded in the inbox and the handler gets the
   messages never applied before (it may :func:`servicekit.outbox.enqueue` events);
3. the offsets are committed: the consumer's positions, one past the batch's last records (or,
   when the next poll was already let in, see below, the batch's own offsets only).

A crash between 2 and 3 redelivers the batch; the inbox makes the second pass change nothing.

**Under load the polls overlap.** A full poll batch (``max_batch`` records: a backlog) is
applied in a task of its own; once its handler calls :func:`servicekit.polls.let_next_poll_in`
(it has done its share of the CPU, and what is left is mostly PostgreSQL writing), faststream
fetches and decodes the next poll meanwhile (decoding yields to the loop every few hundred
records for that). Batches still apply one at a time, in poll order: a poll waits for the one
before to commit its offsets (its own offsets only, then: the consumer's position is already
past the next poll). A poll decoded while a rebalance revoked partitions is dropped and sought
back, not applied: the partitions' owner reads it again from the committed offsets. A batch
smaller than ``max_batch`` (the stream is caught up) is committed before the next poll, as is
every batch of faststream's test broker (bench/order_facts.py: adjudication absorbs some 15%
more, metrics some 20%).

What faststream lacks, and how it is extended here (its extension points, nothing bypassed):

* the **decoder** sorts and classifies records instead of parsing one JSON body, so poison
  reaches the DLQ with its original bytes rather than failing the whole batch;
* the **handler retries outages itself**, with backoff, until they end or the service stops:
  faststream logs a handler's exception and polls on, which under a manual policy would let
  the next ``ack()`` commit past a batch never applied. When the handler raises anything
  else, the batch is replayed one message per transaction to find the culprit, which alone
  goes to the DLQ (reason ``handler_error``); the others are applied;
* a **rebalance listener** lets the batch in flight commit before partitions move (and drops
  a poll decoded meanwhile);
* an unexpected error of this module (a bug, not a message) ``nack()``s the batch, which
  seeks every partition back to its first record, and stops the subscriber (it leaves the
  group): nothing is skipped and the liveness probe asks for a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, IllegalStateError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaMessage as StreamedBatch
from faststream.middlewares import AckPolicy
from faststream.params import NoCast

from contracts import codec
from contracts.dlq import DeadLetter
from contracts.topics import Topic
from servicekit import inbox
from servicekit.delivery import (
    REASON_HANDLER_ERROR,
    Decode,
    Delivered,
    RefusedMessage,
    Rejected,
    as_rejected,
    classify,
    first_occurrences,
    in_partition_order,
)
from servicekit.kafka import settle, utc_now
from servicekit.loophealth import LoopHealth
from servicekit.polls import (
    NEXT_POLL,
    POSITIONS_WAIT_SECONDS,
    FinishBatchBeforeRevoke,
    await_positions,
    batch_offsets,
    nothing,
)
from servicekit.retry import Backoff, is_transient, retry_transient
from servicekit.telemetry import ServiceMetrics
from servicekit.tracing import OFF, Span, SpanKind, StatusCode, Tracing, traceparent_of

log = structlog.get_logger(__name__)

T = TypeVar("T")

_DECODE_SLICE = 250
"""Records decoded between two yields to the loop: about 5 ms of pydantic, short enough for
the batch in flight to send its next statement as soon as PostgreSQL answers the last."""

Handler = Callable[[Any, list[Delivered]], Awaitable[None]]
"""Applies first deliveries inside the batch's transaction, given its connection."""

Begin = Callable[[], AbstractAsyncContextManager[Any]]
"""Opens a transaction and yields its connection (committed when the block ends cleanly)."""

Clock = Callable[[], datetime]


class FirstDeliveries(Protocol):
    """The inbox step: records ids in the transaction, returns those never seen before."""

    async def __call__(
        self, connection: Any, consumer: str, message_ids: Sequence[str]
    ) -> set[str]: ...


def pool_transactions(pool: Callable[[], asyncpg.Pool]) -> Begin:
    """Transactions on a connection of ``pool()`` (called per batch: the pool of the moment)."""

    @asynccontextmanager
    async def begin() -> Any:
        async with pool().acquire() as connection, connection.transaction():
            yield connection

    return begin


@dataclass(frozen=True, slots=True)
class _Undecodable:
    """What the decoder hands over when it failed itself."""

    error: Exception


class _HandlerFailedError(Exception):
    """The handler raised something that is not an outage; ``__cause__`` holds it."""


class _StopRequestedError(Exception):
    """Stop was asked while waiting out a fault: the batch is abandoned, uncommitted."""


def _not_a_lost_commit(error: BaseException) -> bool:
    # A commit refused because the group rebalanced will never succeed: the partition's new
    # owner gets the records again and its inbox skips what this member applied.
    return is_transient(error) and not isinstance(error, CommitFailedError | IllegalStateError)


class BatchConsumer:
    """The batch subscriber of ``topics`` as ``group_id`` on ``broker``, applying exactly once.

    ``consumer_name`` is the inbox's namespace and the DLQ records' ``consumer`` header: keep it
    stable across releases, or every retained message is applied again. ``begin`` opens the
    batch's transaction and ``first_deliveries`` is the inbox step (PostgreSQL's by default; a
    test may give in-memory twins).
    """

    def __init__(
        self,
        broker: KafkaBroker,
        group_id: str,
        topics: Sequence[Topic],
        handler: Handler,
        *,
        begin: Begin,
        consumer_name: str,
        max_batch: int = 5000,
        decode: Decode = codec.decode,
        backoff: Backoff | None = None,
        poll_timeout_ms: int = 1000,
        clock: Clock = utc_now,
        first_deliveries: FirstDeliveries = inbox.first_deliveries,
        metrics: ServiceMetrics | None = None,
        tracing: Tracing = OFF,
    ) -> None:
        if not topics:
            raise ValueError("a consumer needs at least one topic")
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._topics = {topic.name: topic for topic in topics}
        self._max_batch = max_batch
        self._handler = handler
        self._begin = begin
        self._name = consumer_name
        self._decode = decode
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._first_deliveries = first_deliveries
        self._metrics = metrics
        self._tracing = tracing
        self._spans: dict[tuple[str, int, int], Span] = {}
        self._batch_lock = asyncio.Lock()
        self._stop_requested = asyncio.Event()
        self._failure: BaseException | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._in_flight: asyncio.Task[None] | None = None
        self._draining = False
        self._revocations = 0
        self.health = LoopHealth("consumer")
        self.dead_letters = {
            topic.name: broker.publisher(
                topic.dlq,
                title=f"{topic.dlq}:{consumer_name}",
                description=(
                    f"Records of {topic.name} that {consumer_name} could not apply, as received,"
                    " with the DeadLetter headers saying why."
                ),
            )
            for topic in topics
        }
        self.subscriber = broker.subscriber(
            *self._topics,
            group_id=group_id,
            batch=True,
            max_records=max_batch,
            batch_timeout_ms=poll_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            listener=FinishBatchBeforeRevoke(self._batch_lock, consumer_name, self._revoked),
            decoder=self._decode_batch,
            title=consumer_name,
            description=(
                f"{consumer_name} applies each poll batch of {', '.join(self._topics)} in one "
                "PostgreSQL transaction with its inbox rows and outbox, then commits offsets."
            ),
        )
        self.subscriber(self._handler_for_faststream())

    @property
    def failure(self) -> BaseException | None:
        """The unexpected error that stopped the subscriber, if one did."""
        return self._failure

    @property
    def alive(self) -> bool:
        """False once an unexpected error stopped the subscriber (only a restart helps)."""
        return self._failure is None

    @property
    def busy(self) -> bool:
        """A batch is being applied (or its outage waited out)."""
        return self._batch_lock.locked()

    def note_idle(self) -> None:
        """Between batches nothing can be failing: record a pass so an idle consumer is never
        mistaken for a wedged one. (A batch in flight records its own attempts.)"""
        if not self.busy and self.alive:
            self.health.worked()

    def rewire(
        self,
        *,
        handler: Handler | None = None,
        begin: Begin | None = None,
        first_deliveries: FirstDeliveries | None = None,
    ) -> None:
        """Swap what is behind the subscriber (the handler, the transaction, the inbox) while
        its wiring (topics, group, decoder, DLQ publishers, acks) stays: for fast tests of a
        service's subscriber with faststream's ``TestKafkaBroker`` and in-memory twins."""
        self._handler = handler or self._handler
        self._begin = begin or self._begin
        self._first_deliveries = first_deliveries or self._first_deliveries

    def request_stop(self) -> None:
        """Make a batch waiting out a fault give up (uncommitted, so delivered again later)."""
        self._stop_requested.set()

    async def drain(self, grace_seconds: float) -> None:
        """Take no further poll (each is sought back, uncommitted) and give the batch in
        flight up to ``grace_seconds`` to apply and commit: before the broker stops."""
        self._draining = True
        if self._in_flight is not None:
            await asyncio.wait([self._in_flight], timeout=grace_seconds)

    def _revoked(self) -> None:
        self._revocations += 1

    # -- what faststream calls --------------------------------------------------------------

    async def _decode_batch(
        self, message: StreamedBatch
    ) -> list[Delivered | Rejected | _Undecodable]:
        records = message.raw_message
        if not isinstance(records, tuple | list):  # a batch; faststream's test broker: a list
            records = (records,)
        decoded: list[Delivered | Rejected | _Undecodable] = []
        try:
            for count, record in enumerate(in_partition_order(records), 1):
                decoded.append(classify(self._topics[record.topic], record, self._decode))
                if count % _DECODE_SLICE == 0:
                    await asyncio.sleep(0)  # the batch in flight goes on meanwhile
        except Exception as error:
            # A decoder that raises (a bug: invalid bytes are Rejected, not raised) must not
            # make faststream skip the batch: the handler takes the crash path (nack, stop).
            return [_Undecodable(error)]
        return decoded

    def _handler_for_faststream(self) -> Callable[..., Awaitable[None]]:
        # The body is what the decoder made of the records: faststream must not validate or
        # cast it again (NoCast). The AsyncAPI document names the contracts instead (see
        # servicekit.asyncapi).
        async def apply_poll_batch(
            batch: NoCast[list[Delivered | Rejected | _Undecodable]], message: KafkaMessage
        ) -> None:
            await self._on_batch(batch, message)

        return apply_poll_batch

    async def _on_batch(
        self, batch: list[Delivered | Rejected | _Undecodable], message: StreamedBatch
    ) -> None:
        revocations = self._revocations
        if self._in_flight is not None:
            await asyncio.wait([self._in_flight])  # one batch at a time, in poll order
        if self._revocations != revocations and not self._draining:
            # Decoded while partitions moved: whoever owns them now reads it from the
            # committed offsets (seeking back covers those that came back to this member).
            log.info("consumer.poll_dropped_on_rebalance", consumer=self._name)
            with contextlib.suppress(IllegalStateError, AssertionError):
                await message.nack()
            return
        records = message.raw_message
        backlog = isinstance(records, tuple | list) and len(records) >= self._max_batch
        overlap = backlog and isinstance(message.consumer, AIOKafkaConsumer)
        released = asyncio.Event()
        context = contextvars.copy_context()
        context.run(NEXT_POLL.set, released.set if overlap else nothing)
        self._in_flight = task = asyncio.create_task(
            self._apply_poll(batch, message, released), context=context
        )
        if not overlap:
            await task
            return
        # The next poll is fetched and decoded once this one's handler has done its share of
        # the CPU (see polls.let_next_poll_in), while PostgreSQL writes this batch.
        waiting = asyncio.ensure_future(released.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()

    async def _apply_poll(
        self,
        batch: list[Delivered | Rejected | _Undecodable],
        message: StreamedBatch,
        released: asyncio.Event,
    ) -> None:
        async with self._batch_lock:
            if self._failure is not None or self._draining:
                # Crashed or stopping: a poll that came before the stop is neither applied
                # nor committed (seeking back loses nothing; a restart takes it from there).
                await message.nack()
                return
            started = time.perf_counter()
            try:
                await self._process(batch)
                # Once the next poll was let in, the consumer's position is past this batch.
                await self._commit(message, own_offsets=released.is_set())
                if self._metrics is not None:
                    self._metrics.batch_seconds.observe(time.perf_counter() - started)
            except _StopRequestedError:
                log.info("consumer.stopped_during_fault", consumer=self._name)
                await message.nack()
            except Exception as error:
                # A bug or a broken set-up, not an outage: stop rather than skip messages, and
                # say so loudly; ``failure`` lets the liveness probe report it.
                self._failure = error
                log.exception("consumer.crashed", consumer=self._name, exc_info=error)
                await message.nack()
                # Stopped from a task of its own once this handler has returned: the subscriber
                # then leaves the group at once (its partitions go to a healthy member) instead
                # of cancelling the very task that runs this handler.
                self._stopping = asyncio.create_task(self.subscriber.stop())

    async def _process(self, batch: list[Delivered | Rejected | _Undecodable]) -> None:
        for item in batch:
            if isinstance(item, _Undecodable):
                raise item.error
        deliveries = [item for item in batch if isinstance(item, Delivered)]
        rejected = [item for item in batch if isinstance(item, Rejected)]
        if rejected:
            await self._dead_letter(rejected)
        if deliveries:
            traced = self._start_spans(deliveries)
            try:
                await self._apply(traced)
            finally:
                self._end_spans()
        self.health.worked()

    # -- traces -----------------------------------------------------------------------------

    def _start_spans(self, deliveries: list[Delivered]) -> list[Delivered]:
        """A processing span per message, child of its producer's, lasting until its batch is
        done; the handler's spans are its children (through ``Delivered.trace``)."""
        if not self._tracing.enabled:
            return deliveries
        traced = []
        for delivered in deliveries:
            span = self._tracing.start(
                f"process {delivered.topic}",
                parent=delivered.envelope.traceparent,
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": delivered.topic,
                    "messaging.destination.partition.id": str(delivered.partition),
                    "messaging.kafka.offset": delivered.offset,
                    "messaging.message.id": delivered.message_id,
                    "messaging.consumer.group.name": self._name,
                    "cloudevents.event_type": delivered.envelope.type,
                },
            )
            assert span is not None  # noqa: S101  # tracing is enabled
            self._spans[(delivered.topic, delivered.partition, delivered.offset)] = span
            trace = traceparent_of(span.get_span_context())
            traced.append(dataclasses.replace(delivered, trace=trace))
        return traced

    def _span_failed(self, delivered: Delivered, reason: str) -> None:
        span = self._spans.get((delivered.topic, delivered.partition, delivered.offset))
        if span is not None:
            span.set_status(StatusCode.ERROR, reason)
            span.set_attribute("atoz.dead_letter_reason", reason)

    def _end_spans(self) -> None:
        spans, self._spans = self._spans, {}
        for span in spans.values():
            span.end()

    # -- applying ---------------------------------------------------------------------------

    async def _apply(self, deliveries: list[Delivered]) -> None:
        try:
            await self._retry(lambda: self._apply_in_transaction(deliveries), "apply_batch")
        except _HandlerFailedError:
            # Some message of the batch breaks the handler: replay them one per transaction so
            # the others are applied and only the culprit is dead-lettered.
            log.warning("consumer.isolating_failure", consumer=self._name, size=len(deliveries))
            for delivered in deliveries:
                await self._apply_alone(delivered)

    async def _apply_alone(self, delivered: Delivered) -> None:
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
            self._span_failed(delivered, reason)
            await self._dead_letter([as_rejected(delivered, reason, detail)])

    async def _apply_in_transaction(self, deliveries: list[Delivered]) -> None:
        async with self._begin() as connection:
            fresh = await self._first_deliveries(
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
        if self._metrics is not None:  # counted once the transaction committed
            applied = Counter(delivered.topic for delivered in todo)
            for topic, received in Counter(d.topic for d in deliveries).items():
                self._metrics.applied.labels(topic).inc(applied[topic])
                self._metrics.duplicates.labels(topic).inc(received - applied[topic])
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
            if self._metrics is not None:
                self._metrics.dead_letters.labels(item.topic, item.reason).inc()

        async def publish() -> None:
            pending: list[Awaitable[Any] | None] = []
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
                        await self.dead_letters[item.topic].publish(
                            item.value,
                            key=item.key,
                            headers={name: value.decode() for name, value in letter.headers()},
                            no_confirm=True,  # the futures are awaited together, below
                        )
                    )
            finally:
                await settle(pending)
            if self._metrics is not None:
                self._metrics.count_published(self._topics[r.topic].dlq for r in rejected)

        await self._retry(publish, "dead_letter")

    async def _commit(self, message: StreamedBatch, *, own_offsets: bool) -> None:
        consumer = message.consumer
        commit: Callable[[], Awaitable[None]]
        if own_offsets and isinstance(consumer, AIOKafkaConsumer):
            # The next poll may already be fetched: the consumer's position is past this batch,
            # so only this batch's own offsets are committed.
            offsets = batch_offsets(message.raw_message)
            commit = lambda: consumer.commit(offsets)  # noqa: E731  # one call, named for the retry
        else:
            # Nothing fetched past this batch: the consumer's positions, so a partition that
            # had no record in it is committed too (its next owner need not look its start up,
            # a ListOffsets that stalls while its leader is away); its start is looked up once
            # after the assignment, so it may still be on its way.
            if isinstance(consumer, AIOKafkaConsumer):
                await await_positions(consumer, POSITIONS_WAIT_SECONDS)
            commit = message.ack
        try:
            await self._retry(commit, "commit_offsets", transient=_not_a_lost_commit)
        except (CommitFailedError, IllegalStateError) as error:
            log.warning("consumer.commit_skipped", consumer=self._name, error=str(error))

    # -- plumbing ---------------------------------------------------------------------------

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
