"""Composition root of the metrics service.

``create_app`` wires settings, the database (migrations applied at start), the exactly-once
consumer of ``orders.v1`` and ``claims.events.v1``, the outbox relay to ``sellers.health.v1``,
the day-boundary refresh and the read API. Nothing connects at import time.
Run with ``python -m metrics`` (host and port from settings).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime

import asyncpg
import structlog
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from contracts.topics import CLAIMS_EVENTS, ORDERS, SELLERS_HEALTH
from metrics import handlers, store
from metrics.api import build_router
from metrics.odr import OdrSettings
from metrics.settings import MetricsSettings
from servicekit import asyncapi
from servicekit.auth import Readers
from servicekit.delivery import Delivered
from servicekit.kafka import utc_now
from servicekit.logging import configure_logging
from servicekit.loophealth import LoopHealth
from servicekit.problems import install_problem_handlers
from servicekit.runtime import ConsumingService
from servicekit.tracing import Tracing

log = structlog.get_logger("metrics")

DESCRIPTION = (
    "Metrics: applies order facts and claim events exactly once and keeps each seller's Order "
    "Defect Rate, publishing seller health."
)


INPUTS = (ORDERS, CLAIMS_EVENTS)
"""What metrics consumes: every order fact, and adjudication's claim events."""


async def _day_boundaries(
    pool: asyncpg.Pool,
    health: LoopHealth,
    today: Callable[[asyncpg.Connection], Awaitable[date]],
    odr_settings: OdrSettings,
    interval: float,
    *,
    tracing: Tracing,
    caches: store.Caches,
) -> None:
    """Orders leave the window when a day ends, even when nothing else happens: at each new
    day, every seller's health is recomputed (and published where it changed)."""
    last: date | None = None
    while True:
        try:
            async with pool.acquire() as conn, conn.transaction():
                last = await handlers.refresh_new_day(
                    conn, today, last=last, settings=odr_settings, tracing=tracing, caches=caches
                )
            health.worked()
        except Exception as error:
            log.exception("metrics.day_refresh_failed")  # keeps trying: the next tick retries
            health.failed(error)
        await asyncio.sleep(interval)


def create_app(
    settings: MetricsSettings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the metrics service from ``settings`` (read from the environment if omitted);
    spans go to ``tracer_provider`` if given, else to the settings' OTLP endpoint, if any."""
    settings = settings or MetricsSettings()
    configure_logging(settings.log_format, settings.log_level, service=settings.service_name)
    tracing = Tracing.for_service(settings.service_name, settings.otlp_endpoint, tracer_provider)
    odr_settings = settings.odr()
    timekeeper = settings.timekeeper(clock)
    caches = store.Caches()

    async def as_of(conn: asyncpg.Connection) -> date:
        if settings.clock == "event":
            moment = await store.watermark(conn)
            return (moment or clock()).date()
        return clock().date()

    async def handle(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
        # On event time, "today" is the watermark after this batch: apply_batch works it out.
        today = None if settings.clock == "event" else clock().date()
        changed = await handlers.apply_batch(
            conn,
            batch,
            settings=odr_settings,
            timekeeper=timekeeper,
            as_of=today,
            tracing=tracing,
            caches=caches,
        )
        recomputed.inc(changed)

    async def day_boundaries(pool: asyncpg.Pool, health: LoopHealth) -> None:
        await _day_boundaries(
            pool,
            health,
            as_of,
            odr_settings,
            settings.day_check_seconds,
            tracing=tracing,
            caches=caches,
        )

    service = ConsumingService.from_settings(
        settings,
        topics=INPUTS,
        publishes=[SELLERS_HEALTH],
        migrations=store.MIGRATIONS,
        handler=handle,
        loops=[day_boundaries],
        description=DESCRIPTION,
        tracing=tracing,
    )
    app = FastAPI(title="A-to-z claims: metrics", version="1.0.0", lifespan=service.lifespan)
    install_problem_handlers(app)
    app.include_router(build_router(lambda: service.pool, Readers(settings.tokens)))

    recomputed = service.metrics.counter(
        "atoz_health_recomputations_total",
        "Seller health snapshots a batch changed (a batch retried after an outage counts again)",
    )

    async def sample(pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            moment = await store.watermark(conn)
        service.metrics.watermark.set(moment.timestamp() if moment else 0)

    service.metrics.samplers.append(sample)
    service.install(app)
    asyncapi.install(app, service.broker, description=DESCRIPTION)
    app.state.service = service
    return app
