"""Publishing commands to ``claims.commands.v1`` so that nothing accepted is lost.

The Kafka publisher uses an idempotent producer with ``acks=all`` and waits for the broker's
acknowledgement: intake answers 202 only after it. When the broker cannot be reached in time it
raises :class:`BrokerUnavailableError`, which the API turns into 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from contracts import codec
from contracts.envelope import Envelope
from contracts.topics import CLAIMS_COMMANDS
from servicekit.kafka import KafkaAccess, idempotent_producer, started
from servicekit.retry import Backoff

log = structlog.get_logger(__name__)


READY_PROBE_SECONDS: Final = 2.0
"""How long the readiness probe waits for the broker's metadata, at least."""


class BrokerUnavailableError(RuntimeError):
    """Kafka did not acknowledge the command. ``maybe_recorded`` says whether it was handed to
    the producer: if so, the producer may still deliver it after the answer (aiokafka cannot
    take back a record it queued), so the caller must not be told it was lost."""

    def __init__(self, message: str, *, maybe_recorded: bool) -> None:
        super().__init__(message)
        self.maybe_recorded = maybe_recorded


class CommandPublisher(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, envelope: Envelope[Any]) -> None: ...
    async def ready(self) -> bool: ...


class KafkaCommandPublisher:
    """Publishes to Kafka; connects in the background so the API starts even while Kafka is down."""

    def __init__(self, kafka: KafkaAccess, *, timeout_seconds: float, client_id: str) -> None:
        self._kafka = kafka
        self._timeout = timeout_seconds
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None

    async def _connect_until_up(self) -> None:
        backoff = Backoff(initial_seconds=0.2, max_seconds=5.0)
        failures = 0
        while True:
            producer = idempotent_producer(
                self._kafka,
                client_id=self._client_id,
                linger_ms=1,
                # The wait for an ack is bounded by the answer (publish); the producer's own
                # requests keep a sane timeout, however short the answer must be.
                request_timeout_ms=max(int(self._timeout * 1000), 1000),
            )
            try:
                self._producer = await started(producer)
            except KafkaError as error:
                failures += 1
                delay = backoff.delay(failures)
                log.warning("intake.broker_unreachable", error=str(error), retry_in=delay)
                await asyncio.sleep(delay)
                continue
            log.info("intake.broker_connected", bootstrap_servers=self._kafka.bootstrap_servers)
            return

    async def start(self) -> None:
        self._connecting = asyncio.create_task(self._connect_until_up())
        # Give a healthy broker a moment so the first request rarely sees 503.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._connecting), self._timeout)

    async def stop(self) -> None:
        if self._connecting and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._producer is not None:
            await self._producer.stop()  # flushes what is in flight
            self._producer = None

    async def ready(self) -> bool:
        if self._producer is None:
            return False
        try:
            # A fresh metadata request proves the broker answers now: the producer's cached
            # metadata would say yes long after Kafka went away.
            probe = max(self._timeout, READY_PROBE_SECONDS)
            answered = await asyncio.wait_for(self._producer.client.force_metadata_update(), probe)
            partitions = await asyncio.wait_for(
                self._producer.partitions_for(CLAIMS_COMMANDS.name), probe
            )
        except (KafkaError, TimeoutError):
            return False
        return bool(answered and partitions)

    async def publish(self, envelope: Envelope[Any]) -> None:
        if self._producer is None:
            raise BrokerUnavailableError("not connected to Kafka", maybe_recorded=False)
        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(
                    CLAIMS_COMMANDS.name,
                    codec.encode(envelope),
                    key=codec.message_key(CLAIMS_COMMANDS, envelope),
                ),
                self._timeout,
            )
        except (KafkaError, TimeoutError) as error:
            raise BrokerUnavailableError(
                f"Kafka did not acknowledge: {error!r}", maybe_recorded=True
            ) from error


@dataclass
class RecordingPublisher:
    """Keeps what it is given, for unit tests and the fuzz run; can pretend Kafka is down."""

    published: list[Envelope[Any]] = field(default_factory=list)
    available: bool = True
    slow_instead: bool = False
    """With ``available`` off: pretend Kafka took the command but did not acknowledge in time."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ready(self) -> bool:
        return self.available

    async def publish(self, envelope: Envelope[Any]) -> None:
        if not self.available:
            raise BrokerUnavailableError(
                "pretending Kafka is down", maybe_recorded=self.slow_instead
            )
        self.published.append(envelope)
