"""The running parts every consuming service shares, wired once.

A :class:`ConsumingService` owns the database pool (migrations applied at start), the
exactly-once :class:`~servicekit.consumer.BatchConsumer`, the :class:`~servicekit.outbox.
OutboxRelay` and any background loops the service adds (a deadline scheduler, a day-boundary
refresh). Its :meth:`lifespan` starts them in order and stops them in reverse; :meth:`install`
adds liveness and readiness probes to a FastAPI app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from contracts.topics import Topic
from servicekit import postgres
from servicekit.consumer import BatchConsumer, Handler
from servicekit.kafka import KafkaAccess
from servicekit.outbox import OutboxRelay

Loop = Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]


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
    loops: Sequence[Loop] = ()
    _pool: asyncpg.Pool | None = field(default=None, init=False)
    _consumer: BatchConsumer | None = field(default=None, init=False)
    _relay: OutboxRelay | None = field(default=None, init=False)

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
        self._relay = OutboxRelay(pool, self.kafka, client_id=f"{self.name}-relay")
        self._consumer = BatchConsumer(
            self.kafka,
            self.consumer_group,
            self.topics,
            pool,
            self.handler,
            consumer_name=self.consumer_group,
            max_batch=self.max_batch,
        )
        await self._relay.start()
        await self._consumer.start()
        tasks = [asyncio.create_task(loop(pool)) for loop in self.loops]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._consumer.stop(self.grace_seconds)
            await self._relay.stop(self.grace_seconds)
            await pool.close()
            self._pool = None

    async def readiness(self) -> dict[str, bool]:
        """Each part's state, for the readiness probe."""
        checks = {
            "consumer": self._consumer is not None and self._consumer.running,
            "relay": self._relay is not None and self._relay.running,
        }
        try:
            checks["postgres"] = bool(await self.pool.fetchval("SELECT true"))
        except (RuntimeError, OSError, asyncpg.PostgresError):
            checks["postgres"] = False
        return checks

    def install(self, app: FastAPI) -> None:
        """Liveness and readiness probes on ``app``."""

        @app.get("/health/live", tags=["operations"])
        async def live() -> dict[str, str]:
            return {"status": "alive"}

        @app.get("/health/ready", tags=["operations"])
        async def ready() -> JSONResponse:
            checks = await self.readiness()
            ok = all(checks.values())
            return JSONResponse(
                {"status": "ready" if ok else "not_ready", "checks": checks},
                status_code=200 if ok else 503,
            )
