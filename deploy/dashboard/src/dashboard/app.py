"""Composition root of the dashboard: one static page and a same-origin, read-only proxy.

The page (plain HTML, CSS and JavaScript modules: nothing to build, nothing from a CDN) calls
``/api/<service>/<path>`` on this server, which forwards the GET with the caller's bearer token
to that service. Going through one origin means the services need no CORS, and the token goes
only to the configured services. The proxy holds no token of its own: what the page may read is
exactly what its token may read, and it forwards only the read routes the page uses
(:data:`READ_ROUTES`: no ``/docs``, nothing of intake's). Every response, the page, its files,
the proxied answers and the errors, carries the :data:`SECURITY_HEADERS`. Nothing connects at
import time; the one HTTP client is made in the lifespan. Run with ``python -m dashboard``
(host and port from settings).

The proxy judges only what it forwards, and refuses with a 422 in the services' error shape
(:mod:`servicekit.problems`, ``fields`` naming ``path``, ``query`` or the header) what no
service could be asked for: a path with a control character, an empty, ``.`` or ``..``
segment (which would climb out of the service's read API) or over :data:`MAX_PATH`
characters; a query of other than URL characters or over :data:`MAX_QUERY`; an
``Authorization`` or ``Accept`` header of other than printable ASCII. Ids and page numbers
are the services' to judge: their own 422 comes back as it was.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final
from urllib.parse import quote

import httpx
import structlog
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.settings import DashboardSettings
from servicekit.logging import configure_logging
from servicekit.problems import FieldErrorOut, validation_problem

log = structlog.get_logger("dashboard")
STATIC = Path(__file__).parent / "static"

# The page builds its DOM with textContent only and loads nothing from elsewhere, so a strict
# policy costs nothing and keeps a token in localStorage out of reach of injected script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


_ID: Final = r"[^/]+"  # an id: the service judges it and answers its own 422
READ_ROUTES: Final[dict[str, tuple[re.Pattern[str], ...]]] = {
    "metrics": tuple(
        re.compile(pattern)
        for pattern in (
            r"v1/sellers",
            r"v1/sellers/at-risk",
            rf"v1/sellers/{_ID}/health",
            rf"v1/sellers/{_ID}/history",
        )
    ),
    "adjudication": tuple(
        re.compile(pattern)
        for pattern in (r"v1/review-queue", rf"v1/sellers/{_ID}/claims", rf"v1/claims/{_ID}")
    ),
}
"""The read routes the page calls, by service: the only paths the proxy forwards."""

MAX_PATH: Final = 2048
MAX_QUERY: Final = 2048
FORWARDED_HEADERS: Final = ("Authorization", "Accept")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# RFC 3986's query characters: unreserved, sub-delims, ":", "@", "/", "?" and percent escapes.
_QUERY: Final = re.compile(rb"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2}")


def _refusals(path: str, query: bytes, request: Request) -> list[FieldErrorOut]:
    """What the proxy will not forward, one field error each (none: forward it)."""
    refusals: list[FieldErrorOut] = []

    def refuse(field: str, message: str) -> None:
        refusals.append(FieldErrorOut(field=field, message=message, type="value_error"))

    if len(path) > MAX_PATH:
        refuse("path", f"at most {MAX_PATH} characters")
    elif _CONTROL.search(path):
        refuse("path", "no control characters")
    elif any(segment in ("", ".", "..") for segment in path.split("/")):
        refuse("path", "no empty, '.' or '..' segment")
    if len(query) > MAX_QUERY:
        refuse("query", f"at most {MAX_QUERY} characters")
    elif _QUERY.sub(b"", query):
        refuse("query", "only URL characters, percent-encoded where needed")
    for name in FORWARDED_HEADERS:
        value = request.headers.get(name)
        if value is not None and not (value.isascii() and value.isprintable()):
            refuse(f"header.{name}", "only printable ASCII")
    return refusals


class _Upstream:
    """The shared client, alive between lifespan start and stop."""

    client: httpx.AsyncClient | None = None


def create_app(
    settings: DashboardSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Build the dashboard from ``settings`` (read from the environment if omitted);
    ``transport`` replaces the network under the proxy (tests pass an ``httpx.MockTransport``)."""
    settings = settings or DashboardSettings()
    configure_logging(settings.log_format, settings.log_level, service=settings.service_name)
    upstreams = settings.upstreams()
    upstream = _Upstream()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.upstream_timeout_seconds)
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            upstream.client = client
            log.info("dashboard.started", upstreams=upstreams)
            try:
                yield
            finally:
                upstream.client = None

    async def index(request: Request) -> Response:
        return FileResponse(
            STATIC / "index.html",
            media_type="text/html; charset=utf-8",
            headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
        )

    async def live(request: Request) -> Response:
        return JSONResponse({"status": "live"})

    async def ready(request: Request) -> Response:
        if upstream.client is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def proxy(request: Request) -> Response:
        service: str = request.path_params["service"]
        base = upstreams.get(service)
        if base is None:
            return _error(404, "unknown_service", f"no service called {service!r}")
        path: str = request.path_params["path"]
        query: bytes = request.scope.get("query_string", b"")
        refusals = _refusals(path, query, request)
        if refusals:
            return _no_store(validation_problem(refusals))
        if not any(route.fullmatch(path) for route in READ_ROUTES[service]):
            return _error(404, "not_proxied", f"the dashboard reads no {path!r} from {service}")
        client = upstream.client
        if client is None:
            return _error(503, "starting", "the dashboard is not started yet")
        # path_params are decoded: quote again so whatever was typed as an id (a space, a "?")
        # stays part of the path upstream instead of starting a query.
        url = f"{base}/{quote(path, safe='/')}"
        if query:
            url = f"{url}?{query.decode('ascii')}"
        headers = {"Accept": request.headers.get("accept", "application/json")}
        if "authorization" in request.headers:
            headers["Authorization"] = request.headers["authorization"]
        try:
            answer = await client.get(url, headers=headers)
        except httpx.TimeoutException:
            log.warning("dashboard.upstream_timeout", service=service, base=base)
            return _error(
                504,
                "upstream_timeout",
                f"{service} did not answer within {settings.upstream_timeout_seconds:g} s",
            )
        except httpx.TransportError as error:
            log.warning("dashboard.upstream_unreachable", service=service, base=base, error=error)
            return _error(
                502,
                "upstream_unreachable",
                f"{service} is unreachable at {base} ({type(error).__name__})",
            )
        relayed = {"Cache-Control": "no-store"}  # live figures, read with someone's token
        for name in ("content-type", "www-authenticate", "retry-after"):
            if name in answer.headers:
                relayed[name] = answer.headers[name]
        return Response(answer.content, status_code=answer.status_code, headers=relayed)

    return Starlette(
        middleware=[Middleware(_SecurityHeaders)],
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/health/live", live, methods=["GET"]),
            Route("/health/ready", ready, methods=["GET"]),
            Route("/api/{service}/{path:path}", proxy, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )


class _SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response (a plain ASGI middleware: it does not
    buffer bodies, so the static files stream as before)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, error: str, message: str) -> JSONResponse:
    """The dashboard's own errors, in the shape the services use for theirs
    (:mod:`servicekit.problems`)."""
    return JSONResponse(
        {"error": error, "message": message},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
