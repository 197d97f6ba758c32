"""Composition root of the adjudication service.

``create_app`` wires settings, the database (migrations applied at start), the exactly-once
consumer of ``orders.v1`` and ``claims.commands.v1``, the outbox relay to ``claims.events.v1``,
the deadline scheduler and the read API. Nothing connects at import time.
Run with ``python -m adjudication`` (host and port from settings).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from adjudication import handlers, store
from adjudication.api import build_router
from adjudication.eventclock import PartitionKey, event_clock
from adjudication.policy import Policy
from adjudication.settings import AdjudicationSettings
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS
from servicekit import asyncapi, progress
from servicekit.auth import Readers
from servicekit.delivery import Delivered
from servicekit.kafka import utc_now
from servicekit.logging import configure_logging
from servicekit.loophealth import LoopHealth
from servicekit.problems import install_problem_handlers
from servicekit.runtime import ConsumingService
from servicekit.tracing import Tracing

log = structlog.get_logger("adjudication")

DESCRIPTION = (
    "Adjudication: applies order facts and claim commands exactly once, decides who pays, and "
    "publishes claim events."
)


INPUTS = (ORDERS, CLAIMS_COMMANDS)


class EventTime:
    """ "Now" on event time: the partitions' times in the database, with Kafka's word on which
    partitions still hold unread records (asked again by every scheduler pass; the read API
    and the gauges use the latest answer)."""

    def __init__(self, service: ConsumingService, idle_seconds: float) -> None:
        self._service = service
        self._idle_seconds = idle_seconds
        self.unread: frozenset[PartitionKey] | None = None

    async def refresh(self) -> None:
        """Ask Kafka which input partitions the group has not read to their end."""
        consumer = self._service.consumer.subscriber.consumer
        self.unread = await progress.unread_partitions(consumer, [t.name for t in INPUTS])

    async def now(self, conn: asyncpg.Connection) -> datetime | None:
        """The event-time clock as of the latest answer (None before any event)."""
        return event_clock(await store.partition_times(conn, self._idle_seconds), self.unread)


async def _scheduler(
    pool: asyncpg.Pool,
    health: LoopHealth,
    settings: AdjudicationSettings,
    policy: Policy,
    clock: Callable[[], datetime],
    *,
    event_time: EventTime,
    tracing: Tracing,
    cache: store.FactsCache,
) -> None:
    """Fire due deadlines, forever; on event time, "now" is :class:`EventTime`'s, asked of
    Kafka afresh each pass (a pass that cannot ask fires nothing). Each pass takes a connection
    of its own from the pool, so one the database dropped is never reused; the pass is reported
    on ``health`` for the probes."""
    while True:
        try:
            if settings.clock == "event":
                await event_time.refresh()
                async with pool.acquire() as conn:
                    now = await event_time.now(conn)
            else:
                now = clock()
            fired = (
                await handlers.fire_deadlines(
                    pool, now=now, policy=policy, tracing=tracing, cache=cache
                )
                if now
                else 0
            )
            health.worked()
        except progress.NotReadingError:
            # Starting or stopping: without the group's progress there is no event time, so
            # nothing fires (not a fault of the scheduler; the consumer's health tells a stuck
            # one).
            fired = 0
        except (OSError, KafkaError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("scheduler.retry", error=f"{type(error).__name__}: {error}")
            health.failed(error)
            fired = 0
        except Exception as error:
            # A bug must not stop every deadline for good: log it loudly and keep going (the
            # deadline stays in its table, so it is tried again).
            log.exception("scheduler.failed")
            health.failed(error)
            fired = 0
        if not fired:
            await asyncio.sleep(settings.scheduler_interval_seconds)


def create_app(
    settings: AdjudicationSettings | None = None,
    *,
    policy: Policy | None = None,
    clock: Callable[[], datetime] = utc_now,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the adjudication service from ``settings`` (read from the environment if omitted);
    spans go to ``tracer_provider`` if given, else to the settings' OTLP endpoint, if any."""
    settings = settings or AdjudicationSettings()
    policy = policy or settings.policy()
    configure_logging(settings.log_format, settings.log_level, service=settings.service_name)
    tracing = Tracing.for_service(settings.service_name, settings.otlp_endpoint, tracer_provider)

    timekeeper = settings.timekeeper(clock)
    facts_cache = store.FactsCache()

    async def handle(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
        await handlers.apply_batch(
            conn, batch, policy=policy, timekeeper=timekeeper, tracing=tracing, cache=facts_cache
        )

    async def scheduler(pool: asyncpg.Pool, health: LoopHealth) -> None:
        await _scheduler(
            pool,
            health,
            settings,
            policy,
            clock,
            event_time=event_time,
            tracing=tracing,
            cache=facts_cache,
        )

    service = ConsumingService.from_settings(
        settings,
        topics=INPUTS,
        publishes=[CLAIMS_EVENTS],
        migrations=store.MIGRATIONS,
        handler=handle,
        loops=[scheduler],
        description=DESCRIPTION,
        tracing=tracing,
    )
    event_time = EventTime(service, settings.event_clock_idle_seconds)
    app = FastAPI(title="A-to-z claims: adjudication", version="1.0.0", lifespan=service.lifespan)
    install_problem_handlers(app)

    async def service_now() -> datetime:
        if settings.clock == "event":
            async with service.pool.acquire() as conn:
                return await event_time.now(conn) or clock()
        return clock()

    app.include_router(build_router(lambda: service.pool, Readers(settings.tokens), service_now))
    waiting = service.metrics.gauge("atoz_deadlines_waiting", "Deadlines not fired yet")
    due = service.metrics.gauge(
        "atoz_deadlines_due", "Deadlines whose time has come (the scheduler fires them next)"
    )

    async def sample(pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            moment = await event_time.now(conn)
            now = (moment or clock()) if settings.clock == "event" else clock()
            counts = await store.deadline_counts(conn, now)
        service.metrics.watermark.set(moment.timestamp() if moment else 0)
        waiting.set(counts[0])
        due.set(counts[1])

    service.metrics.samplers.append(sample)
    service.install(app)
    asyncapi.install(app, service.broker, description=DESCRIPTION)
    app.state.service = service
    return app
