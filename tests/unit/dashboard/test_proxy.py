"""The dashboard's server: its page and files, its probes, and the read-only proxy that carries
the page's reads (path, query and bearer token) to the right service and their answers back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, MutableMapping
from datetime import datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from adjudication.api import build_router
from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from servicekit.auth import Readers, TokenGrant, hash_token
from servicekit.problems import install_problem_handlers
from tests.support.unreachable import UnreachableDatabase

SETTINGS = DashboardSettings(
    adjudication_url="http://adjudication.test:8002/",  # a trailing slash is tolerated
    metrics_url="http://metrics.test:8003",
    log_format="console",
    upstream_timeout_seconds=2,
)
Upstream = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """The services behind the proxy: answers with ``reply`` and keeps what it was sent."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []
        self.reply: Upstream = lambda request: httpx.Response(200, json={"ok": True})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.reply(request)


@pytest.fixture
def upstream() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(upstream: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS, transport=httpx.MockTransport(upstream))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as http:
            yield http


async def test_a_read_is_forwarded_with_its_path_query_and_bearer_token(
    client: httpx.AsyncClient, upstream: Recorder
) -> None:
    await client.get(
        "/api/adjudication/v1/sellers/seller-7/claims?tab=action_required&limit=500",
        headers={"Authorization": "Bearer secret-token"},
    )
    [sent] = upstream.seen
    assert sent.method == "GET"
    assert str(sent.url) == (
        "http://adjudication.test:8002/v1/sellers/seller-7/claims?tab=action_required&limit=500"
    )
    assert sent.headers["authorization"] == "Bearer secret-token"


@pytest.mark.parametrize(
    ("service", "path", "base"),
    [
        ("adjudication", "v1/review-queue", "http://adjudication.test:8002"),
        ("metrics", "v1/sellers/at-risk", "http://metrics.test:8003"),
    ],
)
async def test_each_service_name_goes_to_that_services_base_url(
    client: httpx.AsyncClient, upstream: Recorder, service: str, path: str, base: str
) -> None:
    await client.get(f"/api/{service}/{path}")
    assert [str(request.url) for request in upstream.seen] == [f"{base}/{path}"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/metrics/docs",
        "/api/metrics/openapi.json",
        "/api/adjudication/docs/assets/swagger-ui-bundle.js",
        "/api/metrics/health/ready",
        "/api/metrics/v1/sellers/s-1/health/extra",
        "/api/intake/v1/claims",
    ],
)
async def test_the_proxy_forwards_only_the_read_routes_the_page_uses(
    client: httpx.AsyncClient, upstream: Recorder, path: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"] in {"not_proxied", "unknown_service"}
    assert upstream.seen == []


@pytest.mark.parametrize(
    "path", ["/", "/static/app.js", "/api/metrics/v1/sellers", "/api/metrics/docs", "/nowhere"]
)
async def test_every_response_carries_the_content_security_policy(
    client: httpx.AsyncClient, path: str
) -> None:
    answer = await client.get(path)
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_a_read_without_a_token_is_forwarded_without_one(
    client: httpx.AsyncClient, upstream: Recorder
) -> None:
    await client.get("/api/metrics/v1/sellers/at-risk")
    assert "authorization" not in upstream.seen[0].headers


async def test_an_id_with_a_question_mark_stays_in_the_path(
    client: httpx.AsyncClient, upstream: Recorder
) -> None:
    await client.get("/api/metrics/v1/sellers/odd%3Fid/health")
    assert upstream.seen[0].url.raw_path == b"/v1/sellers/odd%3Fid/health"


async def test_the_services_answer_is_relayed_with_its_status_body_and_content_type(
    client: httpx.AsyncClient, upstream: Recorder
) -> None:
    body = b'{"error":"forbidden","message":"a seller reads only their own health"}'
    upstream.reply = lambda request: httpx.Response(
        403, content=body, headers={"content-type": "application/problem+json"}
    )
    answer = await client.get("/api/metrics/v1/sellers/seller-9/health")
    assert answer.status_code == 403
    assert answer.content == body
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["cache-control"] == "no-store"


async def test_a_refused_token_is_relayed_as_a_401_with_its_challenge(
    client: httpx.AsyncClient, upstream: Recorder
) -> None:
    upstream.reply = lambda request: httpx.Response(
        401,
        json={"error": "unauthenticated", "message": "a valid bearer token is required"},
        headers={"WWW-Authenticate": "Bearer"},
    )
    answer = await client.get("/api/adjudication/v1/review-queue")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json() == {
        "error": "unauthenticated",
        "message": "a valid bearer token is required",
    }


async def test_an_unknown_service_is_a_404_and_nothing_is_forwarded(
    client: httpx.AsyncClient, upstream: Recorder
) -> None:
    answer = await client.get("/api/billing/v1/invoices")
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown_service"
    assert upstream.seen == []


async def test_an_unreachable_service_is_a_502_that_names_it(
    client: httpx.AsyncClient, upstream: Recorder
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    upstream.reply = refuse
    answer = await client.get("/api/metrics/v1/sellers/at-risk")
    assert answer.status_code == 502
    body = answer.json()
    assert body["error"] == "upstream_unreachable"
    assert "metrics" in body["message"]
    assert "http://metrics.test:8003" in body["message"]


async def test_a_service_that_does_not_answer_in_time_is_a_504(
    client: httpx.AsyncClient, upstream: Recorder
) -> None:
    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    upstream.reply = stall
    answer = await client.get("/api/adjudication/v1/review-queue")
    assert answer.status_code == 504
    assert answer.json()["error"] == "upstream_timeout"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_only_reads_are_forwarded(
    client: httpx.AsyncClient, upstream: Recorder, method: str
) -> None:
    answer = await client.request(method, "/api/intake/v1/claims", json={"order_id": "o-1"})
    assert answer.status_code == 405
    assert upstream.seen == []


async def test_the_page_is_served_at_the_root_as_html_under_a_strict_content_policy(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/app.js">' in answer.text
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/static/app.js", "javascript"), ("/static/style.css", "text/css")],
)
async def test_the_pages_files_are_served_with_their_content_types(
    client: httpx.AsyncClient, path: str, content_type: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 200
    assert content_type in answer.headers["content-type"]
    assert answer.content


async def test_a_missing_file_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/static/nothing.js")).status_code == 404


async def test_the_probes_answer_once_started(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    ready = await client.get("/health/ready")
    assert (live.status_code, ready.status_code) == (200, 200)
    assert ready.json() == {"status": "ready"}


async def test_nothing_connects_before_the_lifespan_starts(upstream: Recorder) -> None:
    app = create_app(SETTINGS, transport=httpx.MockTransport(upstream))
    transport = httpx.ASGITransport(app=app)  # no lifespan: the shared client does not exist
    async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as http:
        ready = await http.get("/health/ready")
        read = await http.get("/api/metrics/v1/sellers")
    assert ready.status_code == 503
    assert read.status_code == 503
    assert upstream.seen == []


def test_the_settings_default_to_the_services_local_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PORT", "ADJUDICATION_URL"):
        monkeypatch.delenv(f"DASHBOARD_{name}", raising=False)
    monkeypatch.setenv("DASHBOARD_METRICS_URL", "http://elsewhere:9003/")
    settings = DashboardSettings()
    assert settings.http_port == 8000
    assert settings.upstreams() == {
        "adjudication": "http://127.0.0.1:8002",
        "metrics": "http://elsewhere:9003",
    }


def _fields(answer: httpx.Response) -> list[str]:
    body = answer.json()
    assert body["error"] == "validation_failed"
    assert body["message"]
    return [field["field"] for field in body["fields"]]


@pytest.mark.parametrize(
    "path",
    [
        "/api/adjudication/v1/claims/%00",  # a NUL byte: PostgreSQL answered 500 to it
        "/api/metrics/v1/sellers/%1b%5b31m/health",  # a terminal escape, for whoever reads logs
        "/api/metrics/v1/sellers/%c2%85/history",  # a C1 control (NEL)
    ],
)
async def test_a_control_character_in_the_path_is_a_422_and_nothing_is_forwarded(
    client: httpx.AsyncClient, upstream: Recorder, path: str
) -> None:
    answer = await client.get(path, headers={"Authorization": "Bearer secret-token"})
    assert answer.status_code == 422
    assert _fields(answer) == ["path"]
    assert upstream.seen == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/metrics/v1/sellers/%2e%2e/%2e%2e/metrics",  # would reach intake's /metrics
        "/api/adjudication/v1/claims/%2e/x",
        "/api/metrics/v1//sellers",
    ],
)
async def test_a_path_that_climbs_out_or_has_an_empty_segment_is_a_422_and_not_forwarded(
    client: httpx.AsyncClient, upstream: Recorder, path: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 422
    assert _fields(answer) == ["path"]
    assert upstream.seen == []


@pytest.mark.parametrize("length", [5_000, 70_000])  # past 65,536 httpx refused: a 500
async def test_an_overlong_path_is_a_422_and_not_forwarded(upstream: Recorder, length: int) -> None:
    status, body = await _raw_get(upstream, "/api/metrics/v1/sellers/" + "a" * length)
    assert status == 422
    assert b'"field":"path"' in body
    assert upstream.seen == []


@pytest.mark.parametrize("header", ["Authorization", "Accept"])
async def test_a_header_the_proxy_forwards_must_be_printable_ascii(
    client: httpx.AsyncClient, upstream: Recorder, header: str
) -> None:
    value = "Bearer t\xe9st" if header == "Authorization" else "text/\xe9"
    answer = await client.get(
        "/api/metrics/v1/sellers", headers={header.encode(): value.encode("latin-1")}
    )
    assert answer.status_code == 422
    assert _fields(answer) == [f"header.{header}"]
    assert upstream.seen == []


async def _raw_get(upstream: Recorder, path: str, query: bytes = b"") -> tuple[int, bytes]:
    """A GET as raw ASGI, for what an HTTP client would refuse to send: its status and body."""
    app = create_app(SETTINGS, transport=httpx.MockTransport(upstream))
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "headers": [(b"host", b"dashboard")], "root_path": "", "server": ("dashboard", 80),
        "client": ("127.0.0.1", 1),
    }  # fmt: skip
    async with LifespanManager(app) as manager:
        await manager.app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("query", [b"offset=\xff", b"offset=1 2", b"tab=%00&x=\x01"])
async def test_a_query_outside_url_characters_is_a_422_and_not_forwarded(
    upstream: Recorder, query: bytes
) -> None:
    status, body = await _raw_get(upstream, "/api/metrics/v1/sellers", query)
    assert status == 422
    assert b'"field":"query"' in body
    assert upstream.seen == []


async def test_an_invalid_id_is_answered_by_the_service_in_its_error_shape_through_the_proxy(
) -> None:  # fmt: skip
    """The proxy forwards what it cannot judge (an id with a space is a URL-safe path); the
    service refuses it, and its 422 comes back as it was."""

    async def clock() -> datetime:
        raise AssertionError("not asked")

    service = FastAPI()
    install_problem_handlers(service)
    grants = [TokenGrant(sha256=hash_token("staff"), role="service", subject="operator")]
    database = UnreachableDatabase()
    service.include_router(build_router(lambda: database, Readers(grants), clock))
    app = create_app(SETTINGS, transport=httpx.ASGITransport(app=service))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as http:
            answer = await http.get(
                "/api/adjudication/v1/claims/a%20b", headers={"Authorization": "Bearer staff"}
            )
    assert answer.status_code == 422
    assert _fields(answer) == ["path.claim_id"]
