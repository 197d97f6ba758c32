"""A retry with the same Idempotency-Key yields the same claim and the same command id."""

from __future__ import annotations

import httpx

from intake.publisher import RecordingPublisher
from tests.unit.intake.conftest import bearer, filing


async def _file(client: httpx.AsyncClient, who: str, key: str | None) -> dict[str, str]:
    headers = bearer(who) | ({"Idempotency-Key": key} if key else {})
    response = await client.post("/v1/claims", json=filing(), headers=headers)
    assert response.status_code == 202
    body: dict[str, str] = response.json()
    return body


async def test_a_retry_with_the_same_key_gets_the_same_claim_and_command_ids(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    first = await _file(client, "buyer", "retry-me")
    second = await _file(client, "buyer", "retry-me")
    assert first["claim_id"] == second["claim_id"]
    assert first["command_id"] == second["command_id"]
    # The republished message is identical but for its send time, so adjudication's inbox,
    # keyed by message id, applies it once.
    assert publisher.published[0].id == publisher.published[1].id
    assert publisher.published[0].data == publisher.published[1].data


async def test_different_keys_file_different_claims(client: httpx.AsyncClient) -> None:
    first = await _file(client, "buyer", "key-a")
    second = await _file(client, "buyer", "key-b")
    assert first["claim_id"] != second["claim_id"]


async def test_without_a_key_every_call_is_a_new_claim(client: httpx.AsyncClient) -> None:
    first = await _file(client, "buyer", None)
    second = await _file(client, "buyer", None)
    assert first["claim_id"] != second["claim_id"]
    assert first["command_id"] != second["command_id"]


async def test_the_same_key_from_another_caller_is_another_claim(
    client: httpx.AsyncClient,
) -> None:
    mine = await _file(client, "buyer", "shared-key")
    theirs = await _file(client, "other_buyer", "shared-key")
    assert mine["claim_id"] != theirs["claim_id"]


async def test_the_same_key_on_another_action_is_another_command(
    client: httpx.AsyncClient,
) -> None:
    headers = bearer("buyer") | {"Idempotency-Key": "k"}
    withdrawal = await client.post(
        "/v1/claims/clm-1/withdrawal", json={"order_id": "o-1"}, headers=headers
    )
    appeal = await client.post(
        "/v1/claims/clm-1/appeals", json={"order_id": "o-1", "statement": "no"}, headers=headers
    )
    assert withdrawal.json()["command_id"] != appeal.json()["command_id"]
