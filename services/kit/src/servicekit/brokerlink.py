"""Starting a service's faststream broker without waiting for Kafka, and watching the link.

faststream's ``KafkaBroker.start()`` connects its producer and every subscriber's consumer, and
raises when the brokers cannot be reached: an app whose lifespan awaits it does not start while
Kafka is down. A service must start anyway (its read API and probes answer, its probes say it is
not ready) and connect when Kafka comes back. :class:`BrokerLink` is that extension, through the
service's lifespan: it starts the broker in a background task, retrying with backoff (each failed
attempt stops what the attempt opened, so nothing half-connected is reused). ``connected`` is set
once the producer is up, before the subscribers have joined their group. Then it pings the
cluster every ``ping_seconds`` and reports both on its :class:`~servicekit.loophealth.LoopHealth`
``kafka``, which the readiness probe reads.

Once started, faststream's own consume loop rides out broker outages (aiokafka reconnects; a
failed poll is retried), so nothing here restarts a running broker.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from faststream.kafka import KafkaBroker

from servicekit.loophealth import LoopHealth
from servicekit.retry import Backoff

log = structlog.get_logger(__name__)


class BrokerLink:
    """Starts ``broker`` in the background and reports on its link to Kafka."""

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        name: str,
        backoff: Backoff | None = None,
        ping_seconds: float = 5.0,
        ping_timeout_seconds: float = 3.0,
    ) -> None:
        self.broker = broker
        self._name = name
        self._backoff = backoff or Backoff(initial_seconds=0.2, max_seconds=5.0)
        self._ping_seconds = ping_seconds
        self._ping_timeout = ping_timeout_seconds
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.health = LoopHealth("kafka")

    @property
    def running(self) -> bool:
        """True while the link's task runs (connecting, then watching)."""
        return self._task is not None and not self._task.done()

    async def start(self, *, wait_seconds: float = 0.0) -> None:
        """Start connecting in the background; wait up to ``wait_seconds`` for the first try."""
        if self._task is not None:
            raise RuntimeError(f"{self._name}: broker link already started")
        # Not ready until connected: the first attempt may take a while to fail.
        self.health.failed(ConnectionError("not connected to Kafka yet"))
        self._task = asyncio.create_task(self._run(), name=f"broker-link-{self._name}")
        if wait_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.connected.wait()), wait_seconds)

    async def stop(self) -> None:
        """Stop watching, then stop the broker: subscribers finish their batch in flight (up
        to the broker's ``graceful_timeout``) and the producer flushes."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Stopped even when the first start is still under way: what it opened is closed.
        with contextlib.suppress(Exception):  # a broker already gone has nothing to flush
            await self.broker.stop()

    async def _run(self) -> None:
        await self._connect()
        while True:
            await asyncio.sleep(self._ping_seconds)
            try:
                answered = await self.broker.ping(timeout=self._ping_timeout)
            except Exception as error:  # a probe reports, it never ends the watch
                self.health.failed(error)
                continue
            if answered:
                self.health.worked()
            else:
                self.health.failed(TimeoutError(f"Kafka did not answer in {self._ping_timeout}s"))

    async def _connect(self) -> None:
        failures = 0
        while True:
            try:
                # The producer first: publishing (the outbox relay, intake) needs only it, and
                # must not wait for the subscriber's group join, which after a crash waits out
                # the dead member's session (aiokafka's start blocks until assignment).
                await self.broker.connect()
                self.connected.set()
                self.health.worked()  # Kafka answers; the group join below may take a while
                await self.broker.start()
            except Exception as error:
                self.connected.clear()
                failures += 1
                self.health.failed(error)
                with contextlib.suppress(Exception):
                    await self.broker.stop()  # what the attempt opened, so none of it is reused
                delay = self._backoff.delay(failures)
                log.warning(
                    "broker.unreachable",
                    service=self._name,
                    attempt=failures,
                    retry_in=round(delay, 3),
                    error=f"{type(error).__name__}: {error}",
                )
                await asyncio.sleep(delay)
                continue
            self.health.worked()
            log.info("broker.connected", service=self._name)
            return
