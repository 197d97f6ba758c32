"""Prometheus metrics of a consuming service: faststream's middleware plus the project's own.

Each app has its own ``CollectorRegistry`` (two apps in one process, as in tests, never collide)
served at ``GET /metrics``:

* faststream's ``KafkaPrometheusMiddleware`` on the broker, for what it consumes: messages
  received per topic, their sizes, processing time and exceptions (``faststream_*``). Not for
  what it publishes: there the middleware costs some 30 µs a record (its label lookups and
  timers: a 17% lower adjudication throughput in bench/README.md) and would count records
  merely queued, since the relay queues a batch and awaits the acknowledgements together;
* the project's own (``atoz_*``): what the consumer applied and dead-lettered (by reason), what
  was published per topic once the broker acknowledged it (counted per batch), how long a
  batch took, the consumer's lag per partition, the outbox's backlog and the age of its
  oldest row, the event-time watermark, and HTTP requests by route and status. A service adds
  its own gauges (adjudication's deadlines, metrics' health recomputations) through
  :meth:`ServiceMetrics.gauge` and :attr:`ServiceMetrics.samplers`.

Gauges that need the database or the consumer are sampled every ``sample_seconds`` by
:func:`sample_forever`, a background loop like the others (its passes are on its health).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request, Response
from faststream import BaseMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.routing import Match

from servicekit.loophealth import LoopHealth

log = structlog.get_logger(__name__)

_OUTBOX: Final = (
    "SELECT count(*)::bigint AS rows,"
    " coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 AS oldest"
    " FROM outbox"
)

Sampler = Callable[[asyncpg.Pool], Awaitable[None]]


@dataclass
class ServiceMetrics:
    """The metrics of one service, in a registry of its own."""

    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    samplers: list[Sampler] = field(default_factory=list)
    """Extra gauges a service refreshes from its database at each sampling pass."""

    def __post_init__(self) -> None:
        registry = self.registry
        self.applied = Counter(
            "atoz_messages_applied_total", "Messages applied (first deliveries)", ["topic"],
            registry=registry,
        )  # fmt: skip
        self.duplicates = Counter(
            "atoz_messages_duplicate_total", "Deliveries the inbox had already applied", ["topic"],
            registry=registry,
        )  # fmt: skip
        self.published = Counter(
            "atoz_messages_published_total", "Records the broker acknowledged", ["topic"],
            registry=registry,
        )  # fmt: skip
        self.dead_letters = Counter(
            "atoz_dead_letters_total", "Records sent to a DLQ", ["topic", "reason"],
            registry=registry,
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "atoz_batch_apply_seconds", "Time to apply one poll batch, commit included",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )  # fmt: skip
        self.lag = Gauge(
            "atoz_consumer_lag", "Records on a partition not yet read", ["topic", "partition"],
            registry=registry,
        )  # fmt: skip
        self.outbox_rows = Gauge(
            "atoz_outbox_rows", "Outbox rows waiting for the relay", registry=registry
        )
        self.outbox_oldest = Gauge(
            "atoz_outbox_oldest_row_seconds", "Age of the oldest outbox row", registry=registry
        )
        self.watermark = Gauge(
            "atoz_event_clock_watermark_seconds",
            "The event-time clock (Unix seconds; 0 before any event)",
            registry=registry,
        )
        self.http = Counter(
            "atoz_http_requests_total", "HTTP requests answered", ["route", "method", "status"],
            registry=registry,
        )  # fmt: skip

    def gauge(self, name: str, documentation: str) -> Gauge:
        """A service's own gauge in this registry."""
        return Gauge(name, documentation, registry=self.registry)

    def counter(self, name: str, documentation: str) -> Counter:
        """A service's own counter in this registry."""
        return Counter(name, documentation, registry=self.registry)

    def broker_middleware(self) -> Any:
        """faststream's Prometheus middleware, for the broker's consumption, in this registry."""
        return _ConsumedOnly(registry=self.registry, app_name=self.service)

    def count_published(self, topics: Iterable[str]) -> None:
        """Count records the broker acknowledged, one topic name per record."""
        for topic, records in collections.Counter(topics).items():
            self.published.labels(topic).inc(records)

    def install(self, app: FastAPI) -> None:
        """``GET /metrics`` and the HTTP request counter on ``app``."""
        app.add_middleware(BaseHTTPMiddleware, dispatch=self._count_request)

        @app.get("/metrics", tags=["operations"], include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def _count_request(self, request: Request, call_next: RequestResponseEndpoint) -> Any:
        response = await call_next(request)
        self.http.labels(_route_of(request), request.method, str(response.status_code)).inc()
        return response


def _route_of(request: Request) -> str:
    # The route's template, never the raw path: ids in paths would make a series per claim.
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "other"))
    return "unmatched"


async def sample_once(metrics: ServiceMetrics, pool: asyncpg.Pool, consumer: Any | None) -> None:
    """Refresh every sampled gauge once: outbox, lag, and the service's own samplers."""
    row = await pool.fetchrow(_OUTBOX)
    metrics.outbox_rows.set(row["rows"])
    metrics.outbox_oldest.set(row["oldest"])
    if consumer is not None:
        with contextlib.suppress(KafkaError):
            # During a rebalance the committed offsets cannot be fetched: this pass leaves the
            # lag as it was (a rebalance is not a failure of the service).
            await _sample_lag(metrics, consumer)
    for sampler in metrics.samplers:
        await sampler(pool)


async def _sample_lag(metrics: ServiceMetrics, consumer: Any) -> None:
    for partition in consumer.assignment():
        end = consumer.highwater(partition)
        # Lag counts from the committed offset, not the fetch position: aiokafka fetches
        # ahead, and a record is done only once its batch is applied and committed.
        committed = await consumer.committed(partition)
        if end is None or committed is None:
            continue  # nothing fetched or committed yet: no honest figure
        metrics.lag.labels(partition.topic, str(partition.partition)).set(max(end - committed, 0))


async def sample_forever(
    metrics: ServiceMetrics,
    pool: asyncpg.Pool,
    health: LoopHealth,
    consumer: Callable[[], Any | None],
    *,
    sample_seconds: float = 5.0,
) -> None:
    """Sample the gauges every ``sample_seconds``, forever; a failed pass is retried next."""
    while True:
        started = time.monotonic()
        try:
            await sample_once(metrics, pool, consumer())
            health.worked()
        except Exception as error:  # a metrics pass must never end the loop
            health.failed(error)
            log.warning("metrics.sample_failed", error=f"{type(error).__name__}: {error}")
        await asyncio.sleep(max(sample_seconds - (time.monotonic() - started), 0.1))


class _ConsumedOnly(KafkaPrometheusMiddleware):
    """faststream's middleware on consumption only: a publish (faststream builds the middleware
    with no message for one) passes straight through, counted by :meth:`count_published`."""

    def __call__(self, msg: Any, /, *, context: Any) -> Any:
        if msg is None:
            return BaseMiddleware(msg, context=context)
        return super().__call__(msg, context=context)
