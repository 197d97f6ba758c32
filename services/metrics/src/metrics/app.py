"""Composition root of the metrics service.

``create_app`` wires settings, the database (migrations applied at start), the exactly-once
consumer of ``orders.v1`` and ``claims.events.v1``, the outbox relay to ``sellers.health.v1``,
the day-boundary refresh and the read API. Nothing connects at import time.
Run with ``python -m metrics`` (host and port from settings).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from contracts.topics import CLAIMS_EVENTS, ORDERS
from metrics import handlers, store
from metrics.api import build_router
from metrics.odr import OdrSettings
from metrics.settings import MetricsSettings
from servicekit import postgres
from servicekit.auth import Readers
from servicekit.consumer import BatchConsumer, Delivered
from servicekit.logging import configure_logging
from servicekit.outbox import OutboxRelay

log = structlog.get_logger("metrics")


def wall_clock() -> datetime:
    return datetime.now(UTC)


async def _day_boundaries(
    pool: asyncpg.Pool,
    today: Callable[[asyncpg.Connection], Awaitable[date]],
    odr_settings: OdrSettings,
    interval: float,
) -> None:
    """Orders leave the window when a day ends, even when nothing else happens: at each new
    day, every seller's health is recomputed (and published where it changed)."""
    last: date | None = None
    while True:
        try:
            async with pool.acquire() as conn, conn.transaction():
                current = await today(conn)
                if current != last:
                    sellers = await store.all_sellers(conn)
                    await handlers.refresh_health(
                        conn, sellers, as_of=current, settings=odr_settings, cause=f"day/{current}"
                    )
                    last = current
        except Exception:
            log.exception("metrics.day_refresh_failed")  # keeps trying: the next tick retries
        await asyncio.sleep(interval)


def create_app(
    settings: MetricsSettings | None = None, *, clock: Callable[[], datetime] = wall_clock
) -> FastAPI:
    """Build the metrics service from ``settings`` (read from the environment if omitted)."""
    settings = settings or MetricsSettings()
    configure_logging(settings.log_format, settings.log_level, service=settings.service_name)
    odr_settings = settings.odr()
    parts: dict[str, Any] = {}

    def pool() -> asyncpg.Pool:
        return parts["pool"]

    async def as_of(conn: asyncpg.Connection) -> date:
        if settings.clock == "event":
            moment = await store.watermark(conn)
            return (moment or clock()).date()
        return clock().date()

    async def handle(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
        # On event time, "today" is the watermark after this batch: apply_batch works it out.
        today = None if settings.clock == "event" else clock().date()
        await handlers.apply_batch(conn, batch, settings=odr_settings, as_of=today)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        parts["pool"] = db = await postgres.create_pool(
            settings.database_url, max_size=settings.database_pool_size
        )
        await postgres.apply_migrations(db, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        consumer = BatchConsumer(
            settings.kafka_bootstrap_servers,
            settings.consumer_group,
            [ORDERS, CLAIMS_EVENTS],
            db,
            handle,
            consumer_name=settings.consumer_group,
            max_batch=settings.max_batch,
        )
        relay = OutboxRelay(db, settings.kafka_bootstrap_servers, client_id="metrics-relay")
        parts["consumer"], parts["relay"] = consumer, relay
        await relay.start()
        await consumer.start()
        refresher = asyncio.create_task(
            _day_boundaries(db, as_of, odr_settings, settings.day_check_seconds)
        )
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await consumer.stop(settings.shutdown_grace_seconds)
            await relay.stop(settings.shutdown_grace_seconds)
            await db.close()

    app = FastAPI(title="A-to-z claims: metrics", version="1.0.0", lifespan=lifespan)
    app.include_router(build_router(pool, Readers(settings.tokens)))

    @app.get("/health/live", tags=["operations"])
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready", tags=["operations"])
    async def ready() -> JSONResponse:
        checks = {
            "consumer": "consumer" in parts and parts["consumer"].running,
            "relay": "relay" in parts and parts["relay"].running,
        }
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    return app
