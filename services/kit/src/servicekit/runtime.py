"""The running parts every consuming service shares, wired once.

A :class:`ConsumingService` owns the service's faststream broker (built at once, so its
subscriber and publishers are declared and its AsyncAPI document exists before anything
connects), the database pool (migrations applied at start), the exactly-once
:class:`~servicekit.consumer.BatchConsumer`, the :class:`~servicekit.outbox.OutboxRelay` and any
background loops the service adds (a deadline scheduler, a day-boundary refresh). Its
:meth:`lifespan` starts them in order and stops them in reverse; :meth:`install` adds liveness
and readiness probes to a FastAPI app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker

from contracts import codec
from contracts.topics import Topic
from servicekit import postgres
from servicekit.brokerlink import BrokerLink
from servicekit.consumer import BatchConsumer, Handler, pool_transactions
from servicekit.kafka import KafkaAccess, service_broker
from servicekit.loophealth import LoopHealth
from servicekit.outbox import OutboxRelay

log = structlog.get_logger(__name__)


def _say_if_crashed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("loop.crashed", loop=task.get_name(), exc_info=task.exception())


_OLDEST_OUTBOX_ROW_SECONDS: Final = (
    "SELECT extract(epoch FROM clock_timestamp() - min(created_at))::float8 FROM outbox"
)

Loop = Callable[[asyncpg.Pool, LoopHealth], Coroutine[Any, Any, None]]
"""A background loop: it gets the pool and reports each pass on its :class:`LoopHealth`."""


@dataclass
class ConsumingService:
    """Pool, consumer, relay and background loops of one service."""

    name: str
    database_url: str
    pool_size: int
    kafka: KafkaAccess
    consumer_group: str
    topics: Sequence[Topic]
    max_batch: int
    migrations: Path
    handler: Handler
    grace_seconds: float
    publishes: Sequence[Topic] = ()
    """The topics its outbox relay publishes to (each gets a faststream publisher)."""
    loops: Sequence[Loop] = ()
    outbox_stall_seconds: float = 60.0
    wedged_after_seconds: float = 300.0
    description: str | None = None
    broker: KafkaBroker = field(init=False)
    _pool: asyncpg.Pool | None = field(default=None, init=False)
    _loop_health: list[LoopHealth] = field(default_factory=list, init=False)
    _loop_tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)
    _link: BrokerLink = field(init=False)
    _consumer: BatchConsumer = field(init=False)
    _relay: OutboxRelay = field(init=False)
    _running: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.broker = service_broker(
            self.kafka,
            client_id=self.name,
            graceful_timeout=self.grace_seconds,
            description=self.description,
        )
        self._link = BrokerLink(self.broker, name=self.name)
        self._consumer = BatchConsumer(
            self.broker,
            self.consumer_group,
            self.topics,
            self.handler,
            begin=pool_transactions(lambda: self.pool),
            consumer_name=self.consumer_group,
            max_batch=self.max_batch,
        )
        publishers = {
            topic.name: self.broker.publisher(
                topic.name,
                title=f"{topic.name}:{self.name}",
                description=f"What {self.name} emits, relayed from its transactional outbox.",
                schema=codec.envelope_model(topic),
            )
            for topic in self.publishes
        }
        self._relay = OutboxRelay(
            lambda: self.pool,
            publishers,
            name=f"{self.name}-relay",
            connected=self._link.connected,
        )

    @property
    def consumer(self) -> BatchConsumer:
        """The service's exactly-once batch subscriber."""
        return self._consumer

    @property
    def pool(self) -> asyncpg.Pool:
        """The database pool (only while the service runs)."""
        if self._pool is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._pool

    @asynccontextmanager
    async def lifespan(self, _: Any = None) -> AsyncIterator[None]:
        """Start everything, yield while the service serves, then stop it all gracefully."""
        self._pool = pool = await postgres.create_pool(self.database_url, max_size=self.pool_size)
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, self.migrations)
        self._running = True
        await self._link.start()
        await self._relay.start()
        self._loop_health = [LoopHealth(getattr(loop, "__name__", "loop")) for loop in self.loops]
        self._loop_tasks = tasks = [
            asyncio.create_task(loop(pool, health), name=health.name)
            for loop, health in zip(self.loops, self._loop_health, strict=True)
        ]
        for task in tasks:
            task.add_done_callback(_say_if_crashed)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                # A loop that crashed was logged (and failed liveness) when it did.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._consumer.request_stop()
            await self._link.stop()  # the batch in flight finishes, up to grace_seconds
            await self._relay.stop(self.grace_seconds)
            self._running = False
            await pool.close()
            self._pool = None

    def _parts(self) -> list[tuple[LoopHealth, bool]]:
        """Every loop's health, and whether its task still runs."""
        if not self._running:
            return []
        self._consumer.note_idle()
        found = [
            (self._link.health, self._link.running),
            (self._consumer.health, self._consumer.alive and self._link.running),
            (self._relay.health, self._relay.running),
        ]
        found += [
            (h, not t.done()) for h, t in zip(self._loop_health, self._loop_tasks, strict=True)
        ]
        return found

    async def readiness(self) -> dict[str, Any]:
        """Each part's state, for the readiness probe: ready when PostgreSQL answers, every
        loop runs and its last pass worked, and the outbox is not stuck."""
        checks: dict[str, Any] = {
            health.name: {**health.report(), "running": running}
            for health, running in self._parts()
        }
        for check in checks.values():
            check["ok"] = check["healthy"] and check["running"]
        try:
            oldest = await self.pool.fetchval(_OLDEST_OUTBOX_ROW_SECONDS)
            checks["postgres"] = {"ok": True}
            stuck = oldest is not None and oldest > self.outbox_stall_seconds
            checks["outbox"] = {"ok": not stuck, "oldest_row_seconds": round(oldest or 0.0, 1)}
        except (RuntimeError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            checks["postgres"] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        return checks

    def liveness(self) -> dict[str, Any]:
        """Whether the process should be restarted: a loop whose task died, or that has made no
        pass at all for ``wedged_after_seconds``, is beyond recovery (see
        :mod:`servicekit.loophealth`). A loop riding out an outage is alive."""
        return {
            health.name: {"ok": running and not health.wedged(self.wedged_after_seconds)}
            for health, running in self._parts()
        }

    def install(self, app: FastAPI) -> None:
        """Liveness and readiness probes on ``app``."""

        @app.get("/health/live", tags=["operations"])
        async def live() -> JSONResponse:
            checks = self.liveness()
            ok = all(check["ok"] for check in checks.values())
            return JSONResponse(
                {"status": "alive" if ok else "wedged", "checks": checks},
                status_code=200 if ok else 503,
            )

        @app.get("/health/ready", tags=["operations"])
        async def ready() -> JSONResponse:
            checks = await self.readiness()
            ok = all(check["ok"] for check in checks.values())
            return JSONResponse(
                {"status": "ready" if ok else "not_ready", "checks": checks},
                status_code=200 if ok else 503,
            )
