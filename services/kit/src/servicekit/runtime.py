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
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import asyncpg
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker

from contracts import codec
from contracts.topics import Topic
from servicekit import inbox, postgres
from servicekit.brokerlink import BrokerLink
from servicekit.consumer import BatchConsumer, Handler, pool_transactions
from servicekit.delivery import Decode
from servicekit.kafka import KafkaAccess, service_broker
from servicekit.loophealth import LoopHealth
from servicekit.outbox import OutboxRelay
from servicekit.settings import ConsumerSettings
from servicekit.telemetry import ServiceMetrics, sample_forever
from servicekit.tracing import OFF, Tracing

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
    metrics_sample_seconds: float = 5.0
    inbox_retention: timedelta | None = None
    """Inbox rows older than this are pruned every ``inbox_prune_seconds`` (None: kept)."""
    inbox_prune_seconds: float = 3600.0
    decode: Decode = codec.decode
    """Bytes of a consumed topic to an envelope (the contracts'; a test's topic may differ)."""
    tracing: Tracing = OFF
    """Spans of the consumer's processing and the relay's publishing (and the handler's)."""
    broker: KafkaBroker = field(init=False)
    metrics: ServiceMetrics = field(init=False)
    _pool: asyncpg.Pool | None = field(default=None, init=False)
    _loop_health: list[LoopHealth] = field(default_factory=list, init=False)
    _loop_tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)
    _link: BrokerLink = field(init=False)
    _consumer: BatchConsumer = field(init=False)
    _relay: OutboxRelay = field(init=False)
    _running: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.metrics = ServiceMetrics(self.name)
        self.broker = service_broker(
            self.kafka,
            client_id=self.name,
            graceful_timeout=self.grace_seconds,
            description=self.description,
            middlewares=[self.metrics.broker_middleware()],
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
            decode=self.decode,
            metrics=self.metrics,
            tracing=self.tracing,
        )
        publishers = {
            topic.name: self.broker.publisher(
                topic.name,
                title=f"{topic.name}:{self.name}",
                description=f"What {self.name} emits, relayed from its transactional outbox.",
                # A topic outside the contracts (a test's) is documented without a payload schema.
                schema=codec.ENVELOPES.get(topic.name),
            )
            for topic in self.publishes
        }
        self._relay = OutboxRelay(
            lambda: self.pool,
            publishers,
            name=f"{self.name}-relay",
            connected=self._link.connected,
            tracing=self.tracing,
            on_published=self.metrics.count_published,
        )

    @classmethod
    def from_settings(
        cls,
        settings: ConsumerSettings,
        *,
        topics: Sequence[Topic],
        publishes: Sequence[Topic],
        migrations: Path,
        handler: Handler,
        loops: Sequence[Loop] = (),
        description: str | None = None,
        tracing: Tracing = OFF,
    ) -> ConsumingService:
        """The service as its settings describe it: what every consuming service reads the same
        way (pool, Kafka, group, batch size, grace, probes, inbox retention) read once."""
        return cls(
            name=settings.service_name,
            database_url=settings.database_url,
            pool_size=settings.database_pool_size,
            kafka=settings.kafka(),
            consumer_group=settings.consumer_group,
            topics=topics,
            publishes=publishes,
            max_batch=settings.max_batch,
            migrations=migrations,
            handler=handler,
            grace_seconds=settings.shutdown_grace_seconds,
            outbox_stall_seconds=settings.outbox_stall_seconds,
            wedged_after_seconds=settings.wedged_after_seconds,
            inbox_retention=(
                timedelta(days=settings.inbox_retention_days)
                if settings.inbox_retention_days
                else None
            ),
            inbox_prune_seconds=settings.inbox_prune_seconds,
            loops=loops,
            description=description,
            tracing=tracing,
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
        loops = [*self.loops, self.telemetry]
        if self.inbox_retention is not None:
            loops.append(self.inbox_retention_loop)
        self._loop_health = [LoopHealth(getattr(loop, "__name__", "loop")) for loop in loops]
        self._loop_tasks = tasks = [
            asyncio.create_task(loop(pool, health), name=health.name)
            for loop, health in zip(loops, self._loop_health, strict=True)
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
            # The batch in flight applies and commits (up to grace_seconds), no poll after it.
            await self._consumer.drain(self.grace_seconds)
            # The relay before the broker: its batch in flight still has the producer.
            await self._relay.stop(self.grace_seconds)
            await self._link.stop()
            self._running = False
            await pool.close()
            self._pool = None
            self.tracing.shutdown()  # the last spans exported

    async def telemetry(self, pool: asyncpg.Pool, health: LoopHealth) -> None:
        """The metrics sampler: outbox, consumer lag and the service's own gauges."""
        await sample_forever(
            self.metrics,
            pool,
            health,
            lambda: self._consumer.subscriber.consumer,
            sample_seconds=self.metrics_sample_seconds,
        )

    async def inbox_retention_loop(self, pool: asyncpg.Pool, health: LoopHealth) -> None:
        """Prune the inbox of rows older than ``inbox_retention``, every so often."""
        assert self.inbox_retention is not None  # noqa: S101  # only started with one
        while True:
            try:
                removed = await inbox.prune(pool, self.inbox_retention)
                health.worked()
                if removed:
                    log.info("inbox.pruned", rows=removed)
            except Exception as error:  # the next pass tries again
                health.failed(error)
                log.warning("inbox.prune_failed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(self.inbox_prune_seconds)

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
            # Metrics sampling says nothing about whether the service can do its job (the
            # database check does): it counts for liveness only.
            if health.name != "telemetry"
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
        """Liveness and readiness probes, and ``GET /metrics``, on ``app``."""
        self.metrics.install(app)

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
