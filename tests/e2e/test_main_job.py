"""The main job, end to end: ``./platform up`` started everything and played a seeded
simulation; every claim must have ended as the policy gives, and every seller's rate on the
metrics API must equal a from-scratch recomputation from the events on the topics."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest

from contracts import codec
from contracts.claims import ClaimEvent
from contracts.schema_export import DEFAULT_OUTPUT
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, SELLERS_HEALTH
from tests.e2e.conftest import PORTS, RunningPlatform
from tests.support.kafka import facts_and_claim_events, from_offset_zero
from tests.support.odr import odr_mismatches

pytestmark = pytest.mark.e2e


def test_up_prints_the_summary_and_the_addresses_of_apis_dashboard_and_prometheus(
    running_platform: RunningPlatform,
) -> None:
    output = running_platform.up_output
    assert "claims reached the outcome the policy gives" in output
    assert "Sellers' Order Defect Rate" in output
    assert f"{running_platform.dashboard_url}/#token=" in output
    for url in running_platform.api.values():
        assert url in output
    assert f"http://127.0.0.1:{PORTS['DEVSTACK_PROMETHEUS_PORT']}/graph?" in output


def test_every_simulated_claim_reached_the_outcome_the_policy_gives(
    running_platform: RunningPlatform,
) -> None:
    summary = running_platform.summary
    assert summary["claims"] >= 20, "the simulation should tell enough claim stories"
    assert summary["mismatches"] == []
    assert summary["matched"] == summary["claims"]
    assert summary["run"]["http_failures"] == []
    assert summary["run"]["rejected_moves"] == []  # no move came too late or from the wrong party
    # Many kinds of outcome, not one repeated: the simulation exercises the rule book.
    assert len(summary["by_scenario"]) >= 8
    assert {"granted/seller", "granted/platform", "denied/none"} <= set(summary["resolutions"])


async def test_every_message_the_platform_published_validates_against_its_published_schema(
    running_platform: RunningPlatform,
) -> None:
    published = (CLAIMS_COMMANDS, CLAIMS_EVENTS, SELLERS_HEALTH)
    found = await from_offset_zero(running_platform.kafka, *(t.name for t in published))
    for topic in published:
        schema = json.loads((DEFAULT_OUTPUT / f"topic.{topic.name}.json").read_text())
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        records = found[topic.name]
        assert records, f"the simulation published nothing on {topic.name}"
        for record in records:
            errors = [error.message for error in validator.iter_errors(json.loads(record.value))]
            assert errors == [], (topic.name, record.offset, errors)


async def test_each_claims_versions_run_one_two_three_without_a_gap(
    running_platform: RunningPlatform,
) -> None:
    records = (await from_offset_zero(running_platform.kafka, CLAIMS_EVENTS.name))[
        CLAIMS_EVENTS.name
    ]
    versions: dict[str, list[int]] = {}
    # A claim's events share its order's partition, so their offsets give their order.
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        data = codec.decode(CLAIMS_EVENTS, record.value).data
        if isinstance(data, ClaimEvent):
            versions.setdefault(data.claim_id, []).append(data.claim.version)
    assert len(versions) >= 20
    gapped = {c: v for c, v in versions.items() if v != list(range(1, len(v) + 1))}
    assert gapped == {}


async def test_each_sellers_rate_on_the_api_equals_a_recomputation_from_the_events(
    running_platform: RunningPlatform,
) -> None:
    events = await facts_and_claim_events(running_platform.kafka)
    compared, wrong = await odr_mismatches(
        events,
        running_platform.api["metrics"],
        running_platform.tokens["operator"],
        running_platform.seller_ids,
    )
    assert wrong == []
    assert compared == len(running_platform.seller_ids) >= 6
    at_risk = [row for row in running_platform.summary["odr"] if row["status"] != "NORMAL"]
    assert at_risk, "the bad profiles should put some sellers at risk"
