"""The read API refuses a malformed id or page in the path or query with a 422 in the shared
shape, before any token's claims are looked up and before the database is asked anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from adjudication.api import build_router
from servicekit.auth import Readers, TokenGrant, hash_token
from servicekit.problems import install_problem_handlers
from tests.support.unreachable import UnreachableDatabase

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
TOKENS = {"service": "operator", "seller": "seller-acme", "buyer": "buyer-42"}


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{role}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    readers = Readers(
        TokenGrant(sha256=hash_token(f"token-{role}"), role=role, subject=subject)  # type: ignore[arg-type]  # keys are roles
        for role, subject in TOKENS.items()
    )

    async def clock() -> datetime:
        return NOW

    app = FastAPI()
    install_problem_handlers(app)
    database = UnreachableDatabase()
    app.include_router(build_router(lambda: database, readers, clock))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://adjudication") as http:
        yield http


BAD_IDS = [
    ("%00", "string_pattern_mismatch"),  # PostgreSQL refuses NUL in text: this was a 500
    ("a%20b", "string_pattern_mismatch"),
    ("-leading-dash", "string_pattern_mismatch"),
    ("%C3%A9t%C3%A9", "string_pattern_mismatch"),
    ("x" * 65, "string_too_long"),
]
PATHS = [
    ("/v1/claims/{}", "claim_id"),
    ("/v1/sellers/{}/claims", "seller_id"),
    ("/v1/buyers/{}/claims", "buyer_id"),
]


@pytest.mark.parametrize(("bad", "kind"), BAD_IDS)
@pytest.mark.parametrize(("template", "name"), PATHS)
async def test_an_id_outside_the_identifier_form_is_a_422_on_that_path_parameter(
    client: httpx.AsyncClient, template: str, name: str, bad: str, kind: str
) -> None:
    answer = await client.get(template.format(bad), headers=_bearer("service"))
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "validation_failed"
    assert [(f["field"], f["type"]) for f in body["fields"]] == [(f"path.{name}", kind)]


@pytest.mark.parametrize(
    ("query", "field"),
    [("tab=everything", "query.tab"), ("limit=0", "query.limit"), ("limit=501", "query.limit"),
     ("limit=9223372036854775808", "query.limit"), ("limit=1e3", "query.limit")],
)  # fmt: skip
async def test_a_tab_or_limit_out_of_bounds_is_a_422(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    answer = await client.get(f"/v1/sellers/seller-acme/claims?{query}", headers=_bearer("service"))
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["fields"]] == [field]


async def test_an_unauthenticated_caller_learns_nothing_from_validation(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/claims/%00")
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("buyer", "/v1/sellers/buyer-42/claims"),  # a buyer whose id is also a seller's
        ("seller", "/v1/buyers/seller-acme/claims"),  # a seller whose id is also a buyer's
        ("seller", "/v1/sellers/seller-other/claims"),
        ("buyer", "/v1/buyers/buyer-43/claims"),
        ("buyer", "/v1/review-queue"),
        ("seller", "/v1/review-queue"),
    ],
)
async def test_a_list_of_someone_else_is_forbidden_whatever_the_subject(
    client: httpx.AsyncClient, role: str, path: str
) -> None:
    answer = await client.get(path, headers=_bearer(role))
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
