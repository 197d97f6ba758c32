"""Composition root of the intake service: ``create_app`` wires settings and broker.

Run with ``faststream run intake.app:create_app --factory --host 127.0.0.1 --port 8001``.
Nothing connects at import time.
"""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker

from intake.settings import IntakeSettings
from servicekit.health import health_routes
from servicekit.logging import configure_logging


def create_app(settings: IntakeSettings | None = None) -> AsgiFastStream:
    """Build the intake service from ``settings`` (read from the environment when omitted)."""
    settings = settings or IntakeSettings()
    configure_logging(settings.log_format, settings.log_level, service=settings.service_name)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, client_id=settings.service_name)

    async def broker_answers() -> bool:
        return await broker.ping(timeout=1.0)

    return AsgiFastStream(broker, asgi_routes=health_routes({"kafka": broker_answers}))
