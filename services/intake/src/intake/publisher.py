"""Publishing commands to ``claims.commands.v1`` so that nothing accepted is lost.

The Kafka publisher is a faststream publisher object on the service's broker (an idempotent
producer with ``acks=all``) and waits for the broker's acknowledgement: intake answers 202 only
after it. When the broker cannot be reached in time it raises :class:`BrokerUnavailableError`,
which the API turns into 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import structlog
from aiokafka.errors import KafkaError

from contracts import codec
from contracts.envelope import Envelope
from contracts.topics import CLAIMS_COMMANDS
from servicekit.brokerlink import BrokerLink
from servicekit.kafka import KafkaAccess, service_broker

log = structlog.get_logger(__name__)


READY_PROBE_SECONDS: Final = 2.0
"""How long the readiness probe waits for the broker's metadata, at least."""

SHUTDOWN_QUEUE_SECONDS: Final = 5.0
"""How long stopping waits for commands still being handed to the producer."""


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
    """Publishes through faststream's publisher of ``claims.commands.v1``; the broker connects
    in the background (:class:`~servicekit.brokerlink.BrokerLink`), so the API starts even
    while Kafka is down."""

    def __init__(
        self,
        kafka: KafkaAccess,
        *,
        timeout_seconds: float,
        client_id: str,
        middlewares: Sequence[Any] = (),
    ) -> None:
        self._timeout = timeout_seconds
        self.broker = service_broker(
            kafka,
            client_id=client_id,
            linger_ms=1,
            # The wait for an ack is bounded by the answer (publish); the producer's own
            # requests keep a sane timeout, however short the answer must be.
            request_timeout_ms=max(int(timeout_seconds * 1000), 1000),
            description="Intake: the authenticated front door of claim commands.",
            middlewares=middlewares,
        )
        self._commands = self.broker.publisher(
            CLAIMS_COMMANDS.name,
            title=f"{CLAIMS_COMMANDS.name}:intake",
            description="Each accepted command, published before intake answers 202.",
            schema=codec.envelope_model(CLAIMS_COMMANDS),
        )
        self._link = BrokerLink(self.broker, name=client_id)
        self._queueing: set[asyncio.Future[Any]] = set()

    async def start(self) -> None:
        # Give a healthy broker a moment so the first request rarely sees 503.
        await self._link.start(wait_seconds=self._timeout)

    async def stop(self) -> None:
        if self._queueing:
            # Commands still waiting for the topic's metadata are queued before the producer
            # stops, so a 503 that said "may be recorded" stays true.
            await asyncio.wait(self._queueing, timeout=SHUTDOWN_QUEUE_SECONDS)
        await self._link.stop()  # flushes what is queued

    async def ready(self) -> bool:
        if not self._link.connected.is_set():
            return False
        # A fresh request proves the broker answers now: the producer's cached metadata would
        # say yes long after Kafka went away.
        return await self.broker.ping(timeout=max(self._timeout, READY_PROBE_SECONDS))

    async def publish(self, envelope: Envelope[Any]) -> None:
        if not self._link.connected.is_set():
            raise BrokerUnavailableError("not connected to Kafka", maybe_recorded=False)
        # Queued whatever the answer (shielded: a record is never half-sent), then the ack
        # awaited within the answer's time. A command still being queued, or queued and not yet
        # acknowledged, when time runs out is delivered later: the 503 says it may be recorded.
        sending = asyncio.ensure_future(
            self._commands.publish(
                codec.encode(envelope),
                key=codec.message_key(CLAIMS_COMMANDS, envelope),
                no_confirm=True,  # hands back the delivery future once the record is queued
            )
        )
        sending.add_done_callback(_settled_later)
        self._queueing.add(sending)
        sending.add_done_callback(self._queueing.discard)
        try:
            async with asyncio.timeout(self._timeout):
                delivery = await asyncio.shield(sending)
                delivery.add_done_callback(_settled_later)
                await asyncio.shield(delivery)
        except (KafkaError, TimeoutError) as error:
            raise BrokerUnavailableError(
                f"Kafka did not acknowledge: {error!r}", maybe_recorded=True
            ) from error


def _settled_later(future: asyncio.Future[Any]) -> None:
    """Reads the outcome of a send the answer stopped waiting for, so a late failure is logged
    once rather than reported by asyncio as never retrieved."""
    if not future.cancelled() and future.exception() is not None:
        log.warning("intake.late_send_failed", error=repr(future.exception()))


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
