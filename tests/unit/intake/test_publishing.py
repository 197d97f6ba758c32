"""Each endpoint publishes its command, keyed by order id, only once Kafka acknowledged it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from contracts import codec
from contracts.topics import CLAIMS_COMMANDS
from intake.publisher import RecordingPublisher
from tests.unit.intake.conftest import NOW, bearer, filing

ENDPOINTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("buyer", "/v1/claims", filing(), "claim.file"),
    ("buyer", "/v1/claims/clm-1/withdrawal", {"order_id": "o-1", "note": "found it"},
     "claim.withdraw"),
    ("seller", "/v1/claims/clm-1/response",
     {"order_id": "o-1", "response": {"action": "replacement_sent", "carrier": "ups",
                                      "tracking_id": "1Z999",
                                      "estimated_delivery": "2026-03-25T18:00:00Z"}},
     "claim.respond"),
    ("reviewer", "/v1/claims/clm-1/decision",
     {"order_id": "o-1", "decision": {"kind": "review", "outcome": "denied",
                                      "denial_reason": "reviewer_denied"}},
     "claim.decide"),
    ("seller", "/v1/claims/clm-1/appeals", {"order_id": "o-1", "statement": "It was signed."},
     "claim.appeal"),
]  # fmt: skip


@pytest.mark.parametrize(("who", "path", "body", "command_type"), ENDPOINTS)
async def test_each_endpoint_publishes_its_command_and_answers_202(
    client: httpx.AsyncClient, publisher: RecordingPublisher, who: str, path: str,
    body: dict[str, Any], command_type: str,
) -> None:  # fmt: skip
    response = await client.post(path, json=body, headers=bearer(who))
    assert response.status_code == 202, response.text
    answer = response.json()
    [envelope] = publisher.published
    assert envelope.type == command_type
    assert envelope.time == NOW
    assert envelope.source == "/atoz/intake"
    assert answer["claim_id"] == envelope.data.claim_id
    assert answer["command_id"] == envelope.id
    assert answer["links"]["claim"].endswith(f"/v1/claims/{envelope.data.claim_id}")
    assert response.headers["location"] == answer["links"]["claim"]
    assert codec.message_key(CLAIMS_COMMANDS, envelope) == body["order_id"].encode()
    # What was published satisfies the topic's contract byte for byte.
    assert codec.decode(CLAIMS_COMMANDS, codec.encode(envelope)) == envelope


async def test_when_kafka_does_not_acknowledge_the_answer_is_503_with_retry_after(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    publisher.available = False
    response = await client.post("/v1/claims", json=filing(), headers=bearer("buyer"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "broker_unavailable"
    assert publisher.published == []


async def test_readiness_follows_the_broker(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    assert (await client.get("/health/ready")).status_code == 200
    publisher.available = False
    not_ready = await client.get("/health/ready")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"] == {"kafka": False}
    assert (await client.get("/health/live")).status_code == 200


async def test_metrics_count_requests_and_published_commands(client: httpx.AsyncClient) -> None:
    await client.post("/v1/claims", json=filing(), headers=bearer("buyer"))
    await client.post("/v1/claims", json=filing())
    text = (await client.get("/metrics")).text
    assert 'intake_commands_published_total{type="claim.file"} 1.0' in text
    assert 'intake_requests_total{method="POST",route="/v1/claims",status="401"} 1.0' in text
    assert "intake_request_duration_seconds_bucket" in text


async def test_the_request_id_is_echoed_and_becomes_the_correlation_id(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post(
        "/v1/claims", json=filing(), headers={**bearer("buyer"), "X-Request-ID": "req-123"}
    )
    assert response.headers["x-request-id"] == "req-123"
    assert publisher.published[0].correlationid == "req-123"


async def test_each_request_writes_one_log_line_with_its_claim_order_and_request_ids(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = await client.post(
            "/v1/claims", json=filing(), headers={**bearer("buyer"), "X-Request-ID": "req-9"}
        )
    [line] = [entry for entry in logs if entry["event"] == "http.request"]
    assert line["request_id"] == "req-9"
    assert line["claim_id"] == response.json()["claim_id"]
    assert line["order_id"] == filing()["order_id"]
    assert line["command"] == "claim.file"
    assert line["status"] == 202
    assert "Bearer" not in str(logs)  # the token never reaches the logs
