"""Schemathesis over metrics' OpenAPI document, against the real read routes on a real,
migrated PostgreSQL holding a few sellers: no input gives a 5xx (no NUL byte or 64-bit
overflow reaches PostgreSQL), every answer's status is one the document lists, and every body
matches the schema it documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from metrics.app import create_app
from metrics.settings import MetricsSettings
from tests.integration.metrics.read_api import READERS, bearer, read_app
from tests.support.fuzz import reader_for, with_token
from tests.support.served import served

pytestmark = pytest.mark.integration

# The document the service publishes, less the probes (no input; their readiness depends on
# the consumer, which this test does not run).
schema = schemathesis.openapi.from_dict(
    create_app(MetricsSettings(log_format="json", log_level="warning")).openapi()
).exclude(path_regex="^/(health/|asyncapi$)")


@pytest.fixture
def metrics_url(database_url: str) -> Iterator[str]:
    with served(read_app(database_url)) as base_url:
        yield base_url


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzing_the_read_api_finds_no_server_error_and_no_undocumented_answer(
    case: schemathesis.Case[Any], metrics_url: str
) -> None:
    # Every default check but "schema-valid data is accepted": a valid id may have no figures
    # yet (404), and a token may not read what it asks for (403).
    case.call_and_validate(
        base_url=metrics_url,
        headers=with_token(case, bearer(reader_for(case, [*READERS, "anonymous"]))),
        excluded_checks=[positive_data_acceptance],
    )


@pytest.mark.parametrize(
    ("path", "parameters", "who"),
    [
        ("/v1/sellers", {}, "service"),
        ("/v1/sellers/at-risk", {}, "service"),
        ("/v1/sellers/{seller_id}/health", {"seller_id": "seller-acme"}, "seller"),
        ("/v1/sellers/{seller_id}/history", {"seller_id": "seller-acme"}, "seller"),
    ],
)
def test_a_read_of_seeded_figures_matches_its_documented_schema(
    metrics_url: str, path: str, parameters: dict[str, str], who: str
) -> None:
    case = schema[path]["GET"].Case(path_parameters=parameters, headers=bearer(who))
    answer = case.call_and_validate(base_url=metrics_url)
    assert answer.status_code == 200
    assert "seller-acme" in answer.text or "seller-z" in answer.text  # not an empty page


@pytest.mark.parametrize(
    ("path", "parameters", "query"),
    [
        ("/v1/sellers/{seller_id}/health", {"seller_id": "\x00"}, {}),
        ("/v1/sellers/{seller_id}/history", {"seller_id": "\x00"}, {}),
        ("/v1/sellers", {}, {"offset": "9223372036854775808"}),
        ("/v1/sellers/at-risk", {}, {"offset": "9" * 23}),
    ],
)
def test_the_inputs_that_answered_500_are_refused_with_a_documented_422(
    metrics_url: str, path: str, parameters: dict[str, str], query: dict[str, str]
) -> None:
    case = schema[path]["GET"].Case(
        path_parameters=parameters, query=query, headers=bearer("service")
    )
    answer = case.call_and_validate(base_url=metrics_url)
    assert answer.status_code == 422
    assert answer.json()["error"] == "validation_failed"


def test_the_fuzzed_routes_are_the_services_own() -> None:
    served_here = read_app("postgresql://unused").openapi()
    published = create_app(MetricsSettings(log_format="json", log_level="warning")).openapi()
    published["paths"] = {
        path: operations
        for path, operations in published["paths"].items()
        if not path.startswith(("/health/", "/asyncapi"))
    }
    assert served_here == published
