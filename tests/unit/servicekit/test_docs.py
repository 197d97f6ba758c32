"""Each service's ``/docs`` renders offline: the page and every file it loads come from the
service itself (Swagger UI as installed with it), under a Content-Security-Policy that allows
nothing else; FastAPI's CDN-backed pages are gone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from adjudication.app import create_app as adjudication_app
from adjudication.settings import AdjudicationSettings
from intake.app import create_app as intake_app
from intake.publisher import RecordingPublisher
from intake.settings import IntakeSettings
from metrics.app import create_app as metrics_app
from metrics.settings import MetricsSettings
from servicekit.docs import install_offline_docs

APPS: dict[str, Callable[[], FastAPI]] = {
    "intake": lambda: intake_app(IntakeSettings(), publisher=RecordingPublisher()),
    "adjudication": lambda: adjudication_app(AdjudicationSettings()),
    "metrics": lambda: metrics_app(MetricsSettings()),
}
# Where a page names another resource: src=, href=, and url(...) in inline styles.
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]*)""")


@pytest.fixture(params=sorted(APPS))
async def service(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = APPS[request.param]()  # no lifespan: the docs need neither Kafka nor a database
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        yield http


def _references(html: str) -> list[str]:
    return [first or second for first, second in REFERENCE.findall(html)]


async def test_the_docs_page_names_no_external_url(service: httpx.AsyncClient) -> None:
    page = await service.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?:|//[a-z]", page.text.replace("<!doctype html>", ""))
    references = _references(page.text)
    assert references, "the page loads Swagger UI's files"
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in references)


async def test_every_file_the_docs_page_loads_is_served_by_the_service(
    service: httpx.AsyncClient,
) -> None:
    page = await service.get("/docs")
    kinds = {}
    for reference in _references(page.text):
        answer = await service.get(reference)
        assert answer.status_code == 200, reference
        assert answer.content, reference
        kinds[reference.rsplit(".", 1)[-1]] = answer.headers["content-type"]
    assert kinds["js"].startswith("text/javascript")
    assert kinds["css"].startswith("text/css")
    assert kinds["png"] == "image/png"


async def test_swagger_ui_is_started_on_the_services_own_document(
    service: httpx.AsyncClient,
) -> None:
    page = (await service.get("/docs")).text
    [document] = re.findall(r'data-openapi-url="([^"]+)"', page)
    assert document == "/openapi.json"
    assert (await service.get(document)).json()["openapi"].startswith("3.")
    [start] = [ref for ref in _references(page) if ref.endswith("start.js")]
    script = (await service.get(start)).text
    assert "SwaggerUIBundle(" in script
    assert "validatorUrl: null" in script  # no badge fetched from validator.swagger.io


async def test_the_docs_page_is_served_under_a_strict_content_security_policy(
    service: httpx.AsyncClient,
) -> None:
    page = await service.get("/docs")
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in page.headers["content-security-policy"].split(";")
    }
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "<script>" not in page.text  # no inline script for the policy to allow
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    ["/redoc", "/docs/oauth2-redirect", "/docs/assets/index.html", "/docs/assets/..%2Fcore.py"],
)
async def test_nothing_else_is_served_as_documentation(
    service: httpx.AsyncClient, path: str
) -> None:
    answer = await service.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_installing_the_docs_twice_leaves_one_route_each() -> None:
    app = FastAPI()
    install_offline_docs(app)
    install_offline_docs(app)
    paths = [getattr(route, "path", None) for route in app.routes]
    assert paths.count("/docs") == 1
    assert paths.count("/docs/assets/{name}") == 1
