"""The read API refuses a malformed seller id or page with a 422 in the shared shape, before the
database is asked anything: no NUL byte or 64-bit overflow reaches PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from metrics.api import build_router
from servicekit.auth import Readers, TokenGrant, hash_token
from servicekit.problems import install_problem_handlers
from tests.support.unreachable import UnreachableDatabase

TOKENS = {"service": "operator", "seller": "seller-acme", "buyer": "seller-acme"}


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{role}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    readers = Readers(
        TokenGrant(sha256=hash_token(f"token-{role}"), role=role, subject=subject)  # type: ignore[arg-type]  # keys are roles
        for role, subject in TOKENS.items()
    )
    app = FastAPI()
    install_problem_handlers(app)
    database = UnreachableDatabase()
    app.include_router(build_router(lambda: database, readers))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as http:
        yield http


@pytest.mark.parametrize(
    ("bad", "kind"),
    [("%00", "string_pattern_mismatch"), ("a%20b", "string_pattern_mismatch"),
     (".hidden", "string_pattern_mismatch"), ("x" * 65, "string_too_long")],
)  # fmt: skip
@pytest.mark.parametrize("template", ["/v1/sellers/{}/health", "/v1/sellers/{}/history"])
async def test_a_seller_id_outside_the_identifier_form_is_a_422_on_the_path(
    client: httpx.AsyncClient, template: str, bad: str, kind: str
) -> None:
    answer = await client.get(template.format(bad), headers=_bearer("service"))
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "validation_failed"
    assert [(f["field"], f["type"]) for f in body["fields"]] == [("path.seller_id", kind)]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/sellers?offset=9223372036854775808", "query.offset"),  # bigint overflow: a 500
        ("/v1/sellers?offset=2147483648", "query.offset"),
        ("/v1/sellers/at-risk?offset=" + "9" * 23, "query.offset"),
        ("/v1/sellers/at-risk?offset=-1", "query.offset"),
        ("/v1/sellers?limit=" + "9" * 23, "query.limit"),
        ("/v1/sellers/at-risk?limit=0", "query.limit"),
        ("/v1/sellers/seller-acme/history?days=366", "query.days"),
        ("/v1/sellers/seller-acme/history?days=" + "9" * 40, "query.days"),
    ],
)
async def test_a_page_or_window_out_of_bounds_is_a_422_on_that_query_parameter(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    answer = await client.get(path, headers=_bearer("service"))
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["fields"]] == [field]


async def test_an_unauthenticated_caller_learns_nothing_from_validation(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/sellers/%00/health")
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("buyer", "/v1/sellers/seller-acme/health"),  # a buyer whose id is also a seller's
        ("buyer", "/v1/sellers/seller-acme/history"),
        ("seller", "/v1/sellers/seller-other/health"),
        ("seller", "/v1/sellers"),
        ("seller", "/v1/sellers/at-risk"),
    ],
)
async def test_another_sellers_figures_are_forbidden_whatever_the_subject(
    client: httpx.AsyncClient, role: str, path: str
) -> None:
    answer = await client.get(path, headers=_bearer(role))
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
