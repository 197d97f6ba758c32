"""Composition root of the adjudication service: ``create_app`` wires settings, broker and database.

Run with ``python -m adjudication`` (host and port from settings), or
``faststream run adjudication.app:create_app --factory --host 127.0.0.1 --port 8002``.
Nothing connects at import time: the database pool opens in the lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker

from adjudication.settings import AdjudicationSettings
from servicekit.health import health_routes
from servicekit.logging import configure_logging


def create_app(settings: AdjudicationSettings | None = None) -> AsgiFastStream:
    """Build the adjudication service from ``settings`` (read from the environment when omitted)."""
    settings = settings or AdjudicationSettings()
    configure_logging(settings.log_format, settings.log_level, service=settings.service_name)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, client_id=settings.service_name)
    pool: asyncpg.Pool | None = None

    async def database_answers() -> bool:
        if pool is None:
            return False
        return bool(await pool.fetchval("SELECT 1"))

    async def broker_answers() -> bool:
        return await broker.ping(timeout=1.0)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(
            settings.database_url, min_size=1, max_size=settings.database_pool_size
        )
        try:
            yield
        finally:
            await pool.close()

    return AsgiFastStream(
        broker,
        lifespan=lifespan,
        asgi_routes=health_routes({"kafka": broker_answers, "postgres": database_answers}),
    )
