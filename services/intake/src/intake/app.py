"""Composition root of the intake service: ``create_app`` wires settings, auth, Kafka and HTTP.

Run with ``python -m intake`` (host and port from settings), or
``uvicorn intake.app:create_app --factory --host 127.0.0.1 --port 8001``. Nothing
connects at import time: the Kafka producer starts in the lifespan, in the background, so the
API comes up (and says "not ready") even while Kafka is down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider

from intake.api import build_api
from intake.auth import TokenRegistry
from intake.observability import BodySizeLimitMiddleware, IntakeMetrics, RequestContextMiddleware
from intake.publisher import CommandPublisher, KafkaCommandPublisher
from intake.settings import IntakeSettings
from servicekit import asyncapi
from servicekit.kafka import utc_now
from servicekit.logging import configure_logging
from servicekit.tracing import Tracing

DESCRIPTION = (
    "Intake: the authenticated HTTP front door. Each accepted claim command is published to "
    "claims.commands.v1, acknowledged by Kafka, before the 202."
)


def create_app(
    settings: IntakeSettings | None = None,
    *,
    publisher: CommandPublisher | None = None,
    clock: Callable[[], datetime] = utc_now,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the intake API from ``settings`` (read from the environment when omitted); spans
    go to ``tracer_provider`` if given, else to the settings' OTLP endpoint, if any."""
    settings = settings or IntakeSettings()
    configure_logging(settings.log_format, settings.log_level, service=settings.service_name)
    tracing = Tracing.for_service(settings.service_name, settings.otlp_endpoint, tracer_provider)
    metrics = IntakeMetrics()
    kafka_publisher = KafkaCommandPublisher(
        settings.kafka(),
        timeout_seconds=settings.publish_timeout_seconds,
        client_id=settings.service_name,
        # faststream's own series (published per topic, duration, errors) beside intake's.
        middlewares=[
            KafkaPrometheusMiddleware(registry=metrics.registry, app_name=settings.service_name)
        ],
    )
    publisher = publisher or kafka_publisher
    app = build_api(
        registry=TokenRegistry(settings.tokens),
        publisher=publisher,
        metrics=metrics,
        timekeeper=settings.timekeeper(clock),
        claims_base_url=settings.claims_base_url,
        retry_after_seconds=settings.retry_after_seconds,
        tracing=tracing,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()
            tracing.shutdown()

    app.router.lifespan_context = lifespan
    # Documented from the Kafka publisher's broker even when a test publishes elsewhere: it is
    # only declared, never started, unless it is the one in use.
    asyncapi.install(app, kafka_publisher.broker, description=DESCRIPTION)
    # Our own limit, not FastAPI's max_body_size: that one answers 413 in plain text, and every
    # error of this API is JSON.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, tracing=tracing)
    return app
