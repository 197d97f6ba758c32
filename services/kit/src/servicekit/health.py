"""Liveness and readiness probes as plain ASGI routes beside a faststream app.

Liveness answers while the process serves requests; readiness runs every dependency check
(broker reachable, database answering) and answers 503 naming those that failed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.types import ASGIApp, Scope

Check = Callable[[], Awaitable[bool]]

CHECK_TIMEOUT_SECONDS = 2.0


async def run_checks(checks: Mapping[str, Check]) -> dict[str, bool]:
    """Run every check concurrently; a check that raises or times out counts as failed."""

    async def one(check: Check) -> bool:
        try:
            return await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except Exception:  # a probe reports failure, it never crashes
            return False

    results = await asyncio.gather(*(one(check) for check in checks.values()))
    return dict(zip(checks.keys(), results, strict=True))


def _json(status: int, body: dict[str, Any]) -> AsgiResponse:
    return AsgiResponse(
        json.dumps(body).encode(), status, headers={"content-type": "application/json"}
    )


def health_routes(checks: Mapping[str, Check]) -> Sequence[tuple[str, ASGIApp]]:
    """``/health/live`` and ``/health/ready`` routes for ``AsgiFastStream(asgi_routes=...)``."""

    @get
    async def live(scope: Scope) -> AsgiResponse:  # ASGI signature
        return _json(200, {"status": "alive"})

    @get
    async def ready(scope: Scope) -> AsgiResponse:  # ASGI signature
        results = await run_checks(checks)
        ok = all(results.values())
        return _json(
            200 if ok else 503, {"status": "ready" if ok else "not_ready", "checks": results}
        )

    return [("/health/live", live), ("/health/ready", ready)]
