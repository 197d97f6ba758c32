"""Run a service's ASGI app with uvicorn, on the host and port its settings name.

uvicorn finishes in-flight requests on SIGTERM/SIGINT before the lifespan closes the broker
and database connections, within ``shutdown_grace_seconds``.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from servicekit.collector import tune_for_service
from servicekit.settings import ServiceSettings


def serve(app: Any, settings: ServiceSettings) -> None:
    """Serve ``app`` until stopped; logging stays as ``configure_logging`` set it."""
    tune_for_service()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,  # our own middleware logs each request with its context bound
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
    )
