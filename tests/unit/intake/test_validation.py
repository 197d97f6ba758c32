"""Bad input answers 4xx with field-level errors, never 500, and publishes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from intake.publisher import RecordingPublisher
from tests.unit.intake.conftest import bearer, filing


def _fields(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert body["error"] == "validation_failed"
    return {item["field"]: item["message"] for item in body["fields"]}


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/claims", content=b'{"order_id": ', headers={**bearer("buyer"),
                                                      "content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 422
    assert any("JSON" in message for message in _fields(response).values())


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"reason": "changed_my_mind"}, "body.reason", "Input should be"),
        # Zero and a negative amount are refused with the same sentence.
        ({"amount": {"amount": "-5", "currency": "EUR"}}, "body.amount.amount",
         "Input should be greater than 0"),
        ({"amount": {"amount": "0", "currency": "EUR"}}, "body.amount.amount",
         "Input should be greater than 0"),
        ({"amount": {"amount": "10.001", "currency": "EUR"}}, "body.amount",
         "more decimal places than EUR allows"),
        ({"amount": {"amount": "10", "currency": "EUX"}}, "body.amount.currency",
         "unknown currency"),
        ({"amount": {"amount": "ten", "currency": "EUR"}}, "body.amount.amount", "decimal"),
        ({"order_id": 12345}, "body.order_id", "string"),
        ({"coupon": "FREE"}, "body.coupon", "Extra inputs are not permitted"),
        ({"contact": {"contacted_at": "2026-03-10T08:00:00"}}, "body.contact.contacted_at",
         "timezone"),
        ({"description": ""}, "body.description", "at least 1 character"),
    ],
)  # fmt: skip
async def test_a_bad_field_is_named_in_a_422(
    client: httpx.AsyncClient, publisher: RecordingPublisher, change: dict[str, object],
    field: str, message: str,
) -> None:  # fmt: skip
    response = await client.post("/v1/claims", json=filing(**change), headers=bearer("buyer"))
    assert response.status_code == 422
    fields = _fields(response)
    assert field in fields, fields
    assert message in fields[field]
    assert publisher.published == []


async def test_a_missing_field_is_named(client: httpx.AsyncClient) -> None:
    body = filing()
    del body["reason"]
    response = await client.post("/v1/claims", json=body, headers=bearer("buyer"))
    assert response.status_code == 422
    assert _fields(response)["body.reason"] == "Field required"


async def test_an_agent_must_name_the_buyer(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/claims", json=filing(), headers=bearer("agent"))
    assert response.status_code == 422
    assert "required when an agent files" in _fields(response)["body.buyer_id"]


async def test_a_buyer_cannot_file_for_another_buyer(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/claims", json=filing(buyer_id="buyer-0099"), headers=bearer("buyer")
    )
    assert response.status_code == 422
    assert "only for themselves" in _fields(response)["body.buyer_id"]


async def test_a_bad_claim_id_in_the_path_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/claims/has%20space/withdrawal", json={"order_id": "o-1"}, headers=bearer("buyer")
    )
    assert response.status_code == 422
    assert "path.claim_id" in _fields(response)


async def test_a_dispute_without_evidence_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/claims/clm-1/response",
        json={"order_id": "o-1", "response": {"action": "dispute", "evidence": []}},
        headers=bearer("seller"),
    )
    assert response.status_code == 422
    assert "body.response.dispute.evidence" in _fields(response)


async def test_an_oversized_body_is_413(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    huge = filing(description="x" * 70_000)
    response = await client.post("/v1/claims", json=huge, headers=bearer("buyer"))
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert publisher.published == []


async def test_an_oversized_streamed_body_without_length_is_413(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    response = await client.post(
        "/v1/claims", content=chunks(), headers={**bearer("buyer"),
                                                  "content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 413


async def test_a_bad_idempotency_key_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/claims", json=filing(), headers={**bearer("buyer"), "Idempotency-Key": "x" * 300}
    )
    assert response.status_code == 422
    assert "header.Idempotency-Key" in _fields(response)


async def test_a_body_that_is_not_utf8_is_422_on_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/claims", content=b"\x80", headers={**bearer("buyer"),
                                                     "content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "body" in _fields(response)
