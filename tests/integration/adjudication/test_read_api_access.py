"""Who reads which claim, on a real PostgreSQL: a seller the claims whose seller is their
subject, a buyer those whose buyer is theirs, staff every one; never across roles, even when a
buyer's id is a seller's. Someone else's claim answers exactly as a claim that does not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.integration.adjudication.read_api import IN_REVIEW, WAITING, bearer, read_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(read_app(database_url)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://adjudication") as http:
            yield http


@pytest.mark.parametrize("who", ["seller", "buyer", "service", "operator"])
@pytest.mark.parametrize("claim_id", [WAITING, IN_REVIEW])
async def test_each_party_and_staff_read_the_claim(
    client: httpx.AsyncClient, who: str, claim_id: str
) -> None:
    answer = await client.get(f"/v1/claims/{claim_id}", headers=bearer(who))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["claim_id"], body["seller_id"], body["buyer_id"]) == (
        claim_id, "seller-acme", "buyer-42",
    )  # fmt: skip
    assert body["history"][0]["type"] == "claim.filed"


@pytest.mark.parametrize("who", ["buyer_named_like_the_seller", "seller_named_like_the_buyer"])
@pytest.mark.parametrize("claim_id", [WAITING, IN_REVIEW])
async def test_a_token_of_the_other_role_with_a_partys_id_reads_nothing(
    client: httpx.AsyncClient, who: str, claim_id: str
) -> None:
    answer = await client.get(f"/v1/claims/{claim_id}", headers=bearer(who))
    unknown = await client.get("/v1/claims/clm-never-filed", headers=bearer(who))
    assert answer.status_code == 404
    assert answer.json() == unknown.json()  # nothing tells that the claim exists


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("buyer_named_like_the_seller", "/v1/sellers/seller-acme/claims"),
        ("seller_named_like_the_buyer", "/v1/buyers/buyer-42/claims"),
    ],
)
async def test_a_list_is_not_read_across_roles(
    client: httpx.AsyncClient, who: str, path: str
) -> None:
    answer = await client.get(path, headers=bearer(who))
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("who", "path"),
    [("seller", "/v1/sellers/seller-acme/claims"), ("buyer", "/v1/buyers/buyer-42/claims"),
     ("service", "/v1/sellers/seller-acme/claims"), ("service", "/v1/buyers/buyer-42/claims")],
)  # fmt: skip
async def test_a_party_and_staff_list_the_partys_claims(
    client: httpx.AsyncClient, who: str, path: str
) -> None:
    answer = await client.get(path, headers=bearer(who))
    assert answer.status_code == 200
    assert sorted(c["claim_id"] for c in answer.json()["claims"]) == [WAITING, IN_REVIEW]
