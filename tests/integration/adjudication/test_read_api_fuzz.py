"""Schemathesis over adjudication's OpenAPI document, against the real read routes on a real,
migrated PostgreSQL holding a few claims: no input gives a 5xx, every answer's status is one
the document lists, and every body matches the schema it documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from adjudication.app import create_app
from adjudication.settings import AdjudicationSettings
from tests.integration.adjudication.read_api import (
    IN_REVIEW,
    READERS,
    WAITING,
    bearer,
    read_app,
)
from tests.support.fuzz import reader_for, with_token
from tests.support.served import served

pytestmark = pytest.mark.integration

# The document the service publishes, less the probes (no input; their readiness depends on
# the consumer, which this test does not run).
schema = schemathesis.openapi.from_dict(
    create_app(AdjudicationSettings(log_format="json", log_level="warning")).openapi()
).exclude(path_regex="^/(health/|asyncapi$)")


@pytest.fixture
def adjudication_url(database_url: str) -> Iterator[str]:
    with served(read_app(database_url)) as base_url:
        yield base_url


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzing_the_read_api_finds_no_server_error_and_no_undocumented_answer(
    case: schemathesis.Case[Any], adjudication_url: str
) -> None:
    # Every default check but "schema-valid data is accepted": a valid id may name no claim
    # (404), and a token may not read what it asks for (403).
    case.call_and_validate(
        base_url=adjudication_url,
        headers=with_token(case, bearer(reader_for(case, [*READERS, "anonymous"]))),
        excluded_checks=[positive_data_acceptance],
    )


@pytest.mark.parametrize(
    ("path", "parameters", "who"),
    [
        ("/v1/claims/{claim_id}", {"claim_id": WAITING}, "seller"),
        ("/v1/claims/{claim_id}", {"claim_id": IN_REVIEW}, "buyer"),
        ("/v1/sellers/{seller_id}/claims", {"seller_id": "seller-acme"}, "seller"),
        ("/v1/buyers/{buyer_id}/claims", {"buyer_id": "buyer-42"}, "buyer"),
        ("/v1/review-queue", {}, "service"),
    ],
)
def test_a_read_of_seeded_claims_matches_its_documented_schema(
    adjudication_url: str, path: str, parameters: dict[str, str], who: str
) -> None:
    case = schema[path]["GET"].Case(path_parameters=parameters, headers=bearer(who))
    answer = case.call_and_validate(base_url=adjudication_url)
    assert answer.status_code == 200
    assert WAITING in answer.text or IN_REVIEW in answer.text  # a seeded claim, not an empty list


@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        ("/v1/claims/{claim_id}", {"claim_id": "\x00"}),
        ("/v1/sellers/{seller_id}/claims", {"seller_id": "\x00"}),
        ("/v1/buyers/{buyer_id}/claims", {"buyer_id": "\x00"}),
    ],
)
def test_the_inputs_that_answered_500_are_refused_with_a_documented_422(
    adjudication_url: str, path: str, parameters: dict[str, str]
) -> None:
    case = schema[path]["GET"].Case(path_parameters=parameters, headers=bearer("service"))
    answer = case.call_and_validate(base_url=adjudication_url)
    assert answer.status_code == 422
    assert answer.json()["error"] == "validation_failed"


def test_the_fuzzed_routes_are_the_services_own() -> None:
    served_here = read_app("postgresql://unused").openapi()
    published = create_app(AdjudicationSettings(log_format="json", log_level="warning")).openapi()
    published["paths"] = {
        p: ops
        for p, ops in published["paths"].items()
        if not p.startswith(("/health/", "/asyncapi"))
    }
    assert served_here == published
