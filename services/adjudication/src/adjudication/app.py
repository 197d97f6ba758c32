"""Composition root of the adjudication service.

``create_app`` wires settings, the database (migrations applied at start), the exactly-once
consumer of ``orders.v1`` and ``claims.commands.v1``, the outbox relay to ``claims.events.v1``,
the deadline scheduler and the read API. Nothing connects at import time.
Run with ``python -m adjudication`` (host and port from settings).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from adjudication import handlers, store
from adjudication.api import build_router
from adjudication.policy import Policy
from adjudication.settings import AdjudicationSettings
from contracts.topics import CLAIMS_COMMANDS, ORDERS
from servicekit import postgres
from servicekit.auth import Readers
from servicekit.consumer import BatchConsumer, Delivered
from servicekit.logging import configure_logging
from servicekit.outbox import OutboxRelay

log = structlog.get_logger("adjudication")


def wall_clock() -> datetime:
    return datetime.now(UTC)


async def _scheduler(
    pool: asyncpg.Pool,
    settings: AdjudicationSettings,
    policy: Policy,
    clock: Callable[[], datetime],
) -> None:
    """Fire due deadlines, forever; on event time, "now" is the watermark in the database."""
    while True:
        try:
            if settings.clock == "event":
                async with pool.acquire() as conn:
                    now = await store.watermark(conn, settings.event_clock_idle_seconds)
            else:
                now = clock()
            fired = await handlers.fire_deadlines(pool, now=now, policy=policy) if now else 0
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("scheduler.retry", error=str(error))
            fired = 0
        except Exception:
            # A bug must not stop every deadline for good: log it loudly and keep going (the
            # deadline stays in its table, so it is tried again).
            log.exception("scheduler.failed")
            fired = 0
        if not fired:
            await asyncio.sleep(settings.scheduler_interval_seconds)


def create_app(
    settings: AdjudicationSettings | None = None,
    *,
    policy: Policy | None = None,
    clock: Callable[[], datetime] = wall_clock,
) -> FastAPI:
    """Build the adjudication service from ``settings`` (read from the environment if omitted)."""
    settings = settings or AdjudicationSettings()
    policy = policy or settings.policy()
    configure_logging(settings.log_format, settings.log_level, service=settings.service_name)
    parts: dict[str, Any] = {}

    def pool() -> asyncpg.Pool:
        return parts["pool"]

    async def handle(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
        await handlers.apply_batch(conn, batch, policy=policy)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        parts["pool"] = db = await postgres.create_pool(
            settings.database_url, max_size=settings.database_pool_size
        )
        await postgres.apply_migrations(db, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        consumer = BatchConsumer(
            settings.kafka_bootstrap_servers,
            settings.consumer_group,
            [ORDERS, CLAIMS_COMMANDS],
            db,
            handle,
            consumer_name=settings.consumer_group,
            max_batch=settings.max_batch,
        )
        relay = OutboxRelay(db, settings.kafka_bootstrap_servers, client_id="adjudication-relay")
        parts["consumer"], parts["relay"] = consumer, relay
        await relay.start()
        await consumer.start()
        scheduler = asyncio.create_task(_scheduler(db, settings, policy, clock))
        try:
            yield
        finally:
            scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scheduler
            await consumer.stop(settings.shutdown_grace_seconds)
            await relay.stop(settings.shutdown_grace_seconds)
            await db.close()

    app = FastAPI(title="A-to-z claims: adjudication", version="1.0.0", lifespan=lifespan)

    async def service_now() -> datetime:
        if settings.clock == "event":
            async with pool().acquire() as conn:
                return await store.watermark(conn, settings.event_clock_idle_seconds) or clock()
        return clock()

    app.include_router(build_router(pool, Readers(settings.tokens), service_now))

    @app.get("/health/live", tags=["operations"])
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready", tags=["operations"])
    async def ready() -> JSONResponse:
        checks = {
            "consumer": "consumer" in parts and parts["consumer"].running,
            "relay": "relay" in parts and parts["relay"].running,
        }
        try:
            async with pool().acquire() as conn:
                checks["postgres"] = await conn.fetchval("SELECT true")
        except (KeyError, OSError, asyncpg.PostgresError):
            checks["postgres"] = False
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    app.state.parts = parts
    return app
