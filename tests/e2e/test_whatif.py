"""``atoz-whatif`` on what ``./platform up`` recorded: the seeded simulation's topics replayed
under a 48-hour answer window change exactly the claims the simulator built to be answered (or
still awaiting an answer at the end) between 48 and 72 hours after the seller was asked, and
nothing else; the shipped policy against itself changes nothing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from contracts.policy import PolicyDocument, load_policy, parse_policy
from tests.e2e.conftest import RunningPlatform
from whatif import history
from whatif.compare import Report, Service, compare

pytestmark = pytest.mark.e2e


def _answering_in(document: PolicyDocument, hours: int) -> PolicyDocument:
    raw = json.loads(document.model_dump_json())
    raw["guarantee"]["seller_response_hours"] = hours
    raw["name"] = f"answer-within-{hours}h"
    return parse_policy(json.dumps(raw))


async def _replayed(running: RunningPlatform, candidate: PolicyDocument) -> Report:
    # Up to the simulated span's end: what the e2e tests after the simulation sent is not
    # part of the story the simulator knows.
    end = datetime.fromisoformat(running.summary["to"])
    records = await history.read(running.kafka)
    groups: dict[Service, str] = {"adjudication": "adjudication", "metrics": "metrics"}
    dead_letters = await history.read_dead_letters(running.kafka, groups)
    assert dead_letters is not None, "the admin reads the DLQs"
    found = history.ordered(records, until=end, dead_letters=dead_letters)
    assert found.undecodable == 0
    return compare(found.inputs, load_policy(), candidate, until=end, refused=found.refused)


def _silent_for(story: dict[str, Any], low: float, high: float) -> bool:
    hours = story["seller_silent_hours"]
    return hours is not None and low <= hours < high


async def test_48_hours_instead_of_72_changes_exactly_the_claims_the_seller_left_unanswered_48_to_72_hours(  # noqa: E501  # the sentence is the test
    running_platform: RunningPlatform,
) -> None:
    baseline = load_policy()
    assert baseline.guarantee.seller_response_hours == 72
    report = await _replayed(running_platform, _answering_in(baseline, 48))
    stories = running_platform.summary["stories"]
    expected = {s["order_id"] for s in stories if _silent_for(s, 48, 72)}
    # The seed tells both kinds: answers on the third day, and claims still waiting then.
    scenarios = {s["scenario"] for s in stories if s["order_id"] in expected}
    assert {"answers_on_the_third_day", "awaiting_seller"} <= scenarios
    assert {change.order_id for change in report.changed} == expected
    for change in report.changed:
        # Silence past 48 hours grants the buyer, and the seller pays: it counts.
        assert change.candidate is not None
        assert (change.candidate.resolution, change.candidate.funded_by) == ("granted", "seller")
        assert change.candidate.counts_toward_odr
    # A third-day answer was a signed proof: the platform paid; under 48 hours the seller does.
    third_day = {s["order_id"] for s in stories if s["scenario"] == "answers_on_the_third_day"}
    moved = [c for c in report.changed if c.order_id in third_day]
    assert moved
    assert all(c.baseline is not None and c.baseline.funded_by == "platform" for c in moved)
    platform_paid = {(m.currency, m.funder): m.difference for m in report.money}
    for currency in {c.currency for c in moved}:
        assert platform_paid[(currency, "platform")] < 0
        assert platform_paid[(currency, "seller")] > 0


async def test_the_shipped_policy_against_itself_changes_nothing_in_the_recorded_history(
    running_platform: RunningPlatform,
) -> None:
    report = await _replayed(running_platform, load_policy())
    assert (
        report.claims_baseline
        == report.claims_candidate
        >= len(running_platform.summary["stories"])
    )
    assert report.changed == ()
    assert all(money.difference == 0 for money in report.money)
    assert report.sellers == ()
