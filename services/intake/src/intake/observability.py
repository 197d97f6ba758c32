"""Prometheus metrics and per-request context for intake.

Each app gets its own ``CollectorRegistry`` so two apps in one process (tests) never collide.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.tracing import OFF, TRACEPARENT_HEADER, Span, SpanKind, StatusCode, Tracing

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()
TRACEPARENT_HEADER_BYTES = TRACEPARENT_HEADER.encode()
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


@dataclass
class IntakeMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "intake_requests_total", "HTTP requests answered", ["route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "intake_request_duration_seconds", "Time to answer, publishing included", ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )  # fmt: skip
        self.published = Counter(
            "intake_commands_published_total", "Commands acknowledged by Kafka", ["type"],
            registry=self.registry,
        )  # fmt: skip
        self.publish_failures = Counter(
            "intake_publish_failures_total", "Commands Kafka did not acknowledge (503)", ["type"],
            registry=self.registry,
        )  # fmt: skip
        # prometheus-client's labels() hashes and locks on every call; the children are few
        # (routes x methods x statuses), so each is looked up once and kept.
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (metric._name, *labels)  # the metric's own name keys the cache
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        self._child(self.requests, route, method, str(status)).inc()
        self._child(self.latency, route).observe(seconds)

    def command_published(self, command_type: str) -> None:
        self._child(self.published, command_type).inc()

    def publish_failed(self, command_type: str) -> None:
        self._child(self.publish_failures, command_type).inc()


class RequestContextMiddleware:
    """Binds a request id to logs, echoes it, records count and latency per route, and runs the
    request in a server span (continuing the caller's W3C ``traceparent`` when it is valid)."""

    def __init__(self, app: ASGIApp, metrics: IntakeMetrics, tracing: Tracing = OFF) -> None:
        self.app = app
        self.metrics = metrics
        self.tracing = tracing
        # A logger per app, not per module: structlog caches a logger's configuration on first
        # use, and each app (each test's too) should get the configuration current when it runs.
        self.log = structlog.get_logger("intake.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER_BYTES), b"")
        text = given.decode("latin-1")
        request_id = text if _REQUEST_ID.match(text) else secrets.token_hex(16)
        # Handlers add fields to the request's one log line through request.state.log_fields.
        log_fields: dict[str, Any] = {}
        state = scope.setdefault("state", {})
        state["request_id"], state["log_fields"] = request_id, log_fields
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                echoed = (REQUEST_ID_HEADER_BYTES, request_id.encode())
                message["headers"] = [*message.get("headers", []), echoed]
            await send(message)

        # Each request runs in its own task, so this binding ends with it; it tags whatever a
        # deeper layer logs (a broker warning, say) with the request it happened in.
        structlog.contextvars.bind_contextvars(request_id=request_id)
        method = scope["method"]
        caller = next((v for k, v in scope["headers"] if k == TRACEPARENT_HEADER_BYTES), b"")
        with self.tracing.span(
            f"HTTP {method}",
            parent=caller.decode("latin-1") or None,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "atoz.request_id": request_id},
        ) as traced:
            state["traceparent"] = traced.traceparent
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                # FastAPI names its own routes in the scope; the claim routes name themselves.
                route = getattr(scope.get("route"), "path", None) or state.get("route", "unmatched")
                elapsed = time.perf_counter() - started
                self.metrics.request_answered(route, method, status, elapsed)
                _describe(traced.span, method, route, status)
                self.log.info("http.request", method=method, route=route, status=status,
                              duration_ms=round(elapsed * 1000, 2), **log_fields)  # fmt: skip


def _describe(span: Span, method: str, route: str, status: int) -> None:
    # Named by the route's template once it is known, never the raw path (ids in paths).
    if not span.is_recording():
        return
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(StatusCode.ERROR)


class BodySizeLimitMiddleware:
    """Answers 413 for a body over the limit, whether it declares its length or streams it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _too_large(self, send: Send) -> None:
        body = b'{"error":"body_too_large","message":"request body exceeds %d bytes"}' % (
            self.max_bytes
        )
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        received = 0
        replied = False

        async def counting_receive() -> Message:
            nonlocal received, replied
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not replied:
                    # Answer now and tell the app the client left: it stops reading, and
                    # whatever it tries to send afterwards is dropped below.
                    replied = True
                    await self._too_large(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not replied:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except ClientDisconnect:
            if not replied:  # a real disconnect, not the one we staged
                raise
