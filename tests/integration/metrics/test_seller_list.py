"""The operator's list of every seller (``GET /v1/sellers``) on a real PostgreSQL: worst rate
first, ties by seller id, paged with a total, and for staff only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from contracts.examples import seller_payloads
from contracts.sellers import SellerOdrChanged
from metrics import store
from metrics.api import build_router
from servicekit import postgres
from servicekit.auth import Readers, TokenGrant, hash_token

pytestmark = pytest.mark.integration
AS_OF = date(2026, 5, 4)
# (seller, orders, defective): rates 3%, 1%, 1%, 0.5% and 0%
SELLERS = [
    ("seller-c", 100, 1),
    ("seller-a", 200, 2),
    ("seller-z", 100, 3),
    ("seller-b", 200, 1),
    ("seller-d", 50, 0),
]


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{role}"}


def _snapshot(seller: str, orders: int, defective: int) -> SellerOdrChanged:
    rate = Decimal(defective) / Decimal(orders)
    status = "AT_RISK" if rate >= Decimal("0.01") else "NORMAL"
    template = seller_payloads()[0]
    assert isinstance(template, SellerOdrChanged)
    combined = template.combined.model_copy(
        update={"orders": orders, "defective_orders": defective, "rate": rate}
    )
    return template.model_copy(update={"seller_id": seller, "status": status, "combined": combined})


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    pool = await postgres.create_pool(database_url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        async with pool.acquire() as conn:
            await store.save_health(conn, [_snapshot(*seller) for seller in SELLERS], AS_OF)
        readers = Readers(
            TokenGrant(sha256=hash_token(f"token-{role}"), role=role, subject=f"{role}-1")
            for role in ("reviewer", "seller")
        )
        app = FastAPI()
        app.include_router(build_router(lambda: pool, readers))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as http:
            yield http
    finally:
        await pool.close()


async def test_the_seller_list_is_worst_rate_first_with_ties_in_seller_id_order(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/sellers", headers=_bearer("reviewer"))
    assert answer.status_code == 200
    body = answer.json()
    assert [s["seller_id"] for s in body["sellers"]] == [
        "seller-z",
        "seller-a",
        "seller-c",
        "seller-b",
        "seller-d",
    ]
    assert [Decimal(s["rate"]) for s in body["sellers"]] == [
        Decimal("0.03"),
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("0.005"),
        Decimal(0),
    ]
    assert (body["limit"], body["offset"], body["total"]) == (100, 0, 5)
    # Each entry is the same health view as /v1/sellers/{id}/health.
    one = await client.get("/v1/sellers/seller-a/health", headers=_bearer("reviewer"))
    assert body["sellers"][1] == one.json()


async def test_a_page_of_the_seller_list_keeps_the_total_of_all_sellers(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/sellers?limit=2&offset=2", headers=_bearer("reviewer"))
    body = answer.json()
    assert [s["seller_id"] for s in body["sellers"]] == ["seller-c", "seller-b"]
    assert (body["limit"], body["offset"], body["total"]) == (2, 2, 5)
    beyond = (await client.get("/v1/sellers?offset=10", headers=_bearer("reviewer"))).json()
    assert (beyond["sellers"], beyond["total"]) == ([], 5)


async def test_the_seller_list_is_for_staff_only(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/v1/sellers")
    seller = await client.get("/v1/sellers", headers=_bearer("seller"))
    assert anonymous.status_code == 401
    assert seller.status_code == 403


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1"])
async def test_the_seller_list_refuses_a_page_out_of_bounds(
    client: httpx.AsyncClient, query: str
) -> None:
    answer = await client.get(f"/v1/sellers?{query}", headers=_bearer("reviewer"))
    assert answer.status_code == 422
