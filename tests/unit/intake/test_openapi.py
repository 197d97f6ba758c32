"""The committed OpenAPI document is the one the app serves, and fuzzing it finds no 5xx."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from intake.app import create_app
from intake.openapi import DOCUMENT, build_document
from intake.publisher import RecordingPublisher
from servicekit.committed import render
from tests.unit.intake.conftest import bearer, intake_settings


def test_committed_openapi_document_is_current() -> None:
    assert DOCUMENT.read_text() == render(build_document()), "run python -m intake.openapi"


def test_every_claim_action_is_documented_with_its_error_answers() -> None:
    document = json.loads(DOCUMENT.read_text())
    paths = document["paths"]
    for path in ("/v1/claims", "/v1/claims/{claim_id}/withdrawal", "/v1/claims/{claim_id}/response",
                 "/v1/claims/{claim_id}/decision", "/v1/claims/{claim_id}/appeals"):  # fmt: skip
        responses = paths[path]["post"]["responses"]
        assert {"202", "401", "403", "413", "422", "503"} <= set(responses), path
    assert "HTTPBearer" in document["components"]["securitySchemes"]


def _accepts(schema_name: str, body: object) -> bool:
    """Whether the committed document's schema ``schema_name`` accepts ``body``."""
    document = json.loads(DOCUMENT.read_text())
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    return bool(jsonschema_rs.validator_for(root).is_valid(body))


REFUND = {"amount": {"amount": "50.00", "currency": "EUR"}}


@pytest.mark.parametrize(
    ("schema_name", "body"),
    [
        # A tagged union is told apart by its tag: without it the service cannot tell which.
        ("RespondRequest", {"order_id": "o-1", "response": REFUND}),
        ("DecideRequest", {"order_id": "o-1", "decision": {"outcome": "granted",
                                                             "funded_by": "seller"}}),
        ("AppealRequest", {"order_id": "o-1", "statement": "Signed for.",
                           "evidence": [{"sent_at": "2026-03-10T08:00:00Z", "text": "Here."}]}),
        # Zero is not an amount anyone can claim or refund, whatever its form.
        ("RespondRequest", {"order_id": "o-1", "response": {
            "action": "refund", "amount": {"amount": "0", "currency": "EUR"}}}),
        ("PositiveMoney", {"amount": "000.00", "currency": "EUR"}),
        # Times are bounded to 2000-2100.
        ("SellerContact", {"contacted_at": "2200-01-01T00:00:00Z"}),
    ],
)  # fmt: skip
def test_the_document_refuses_what_the_service_refuses(schema_name: str, body: object) -> None:
    assert not _accepts(schema_name, body)


@pytest.mark.parametrize(
    ("schema_name", "body"),
    [
        ("RespondRequest", {"order_id": "o-1", "response": {"action": "refund", **REFUND}}),
        ("PositiveMoney", {"amount": "0.01", "currency": "EUR"}),
        ("PositiveMoney", {"amount": "10", "currency": "JPY"}),
        ("SellerContact", {"contacted_at": "2026-03-10T08:00:00+01:00"}),
    ],
)
def test_the_document_accepts_what_the_service_accepts(schema_name: str, body: object) -> None:
    assert _accepts(schema_name, body)


_fuzzed_app = create_app(
    intake_settings(log_format="json", log_level="warning"), publisher=RecordingPublisher()
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _fuzzed_app)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzing_the_api_finds_no_server_error_and_no_undocumented_answer(
    case: schemathesis.Case[Any],
) -> None:
    # Half the roles can act on each path; the buyer token exercises both 202 and 403 paths.
    who = "seller" if case.path.endswith(("/response", "/appeals")) else "buyer"
    if case.path.endswith("/decision"):
        who = "reviewer"
    # Only a service token may send these; any other stops at 403 before the body is read.
    if {"X-On-Behalf-Of", "X-Event-Time"} & set(case.headers or {}):
        who = "service"
    # Every default check (no 5xx; documented status codes, content types, headers and bodies;
    # schema-invalid data refused) but one: "schema-valid data accepted" cannot hold, because
    # some rules span fields and the document does not say them (an amount's precision depends
    # on its currency, a denial needs its reason) or depend on who calls (a buyer may not name
    # another buyer).
    case.call_and_validate(headers=bearer(who), excluded_checks=[positive_data_acceptance])
