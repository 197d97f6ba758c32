"""How the summary judges a claim against the outcome its story must end in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from rich.console import Console

from marketsim.runner import Observed
from marketsim.scenarios import Call, Case, Expected, Scenario, denied, granted
from marketsim.summary import judge, render, summarize
from marketsim.world import WorldConfig, build_world


def _case(expected: Expected, **seen: Any) -> Case:
    case = Case("o1", "s1", "b1", Scenario.NO_VALID_TRACKING, expected, filing=None)
    case.observed = {"status": "closed", "filed_by": "buyer", **seen}
    return case


END = datetime(2026, 6, 1, tzinfo=UTC)
SELLER_PAYS = granted("seller", "decision.no_valid_tracking")
AS_EXPECTED: dict[str, Any] = {
    "resolution": "granted",
    "funded_by": "seller",
    "counts_toward_odr": True,
    "rules": ["scope.order_known", "decision.no_valid_tracking"],
}


def test_a_claim_closed_as_its_story_says_matches() -> None:
    assert judge(_case(SELLER_PAYS, **AS_EXPECTED)).matched


@pytest.mark.parametrize(
    "difference",
    [
        {"funded_by": "platform"},
        {"counts_toward_odr": False},
        {"status": "action_required"},
        {"filed_by": "platform"},
        {"rules": ["decision.silent_seller_pays"]},
    ],
)
def test_any_difference_from_the_story_is_a_mismatch(difference: dict[str, Any]) -> None:
    assert not judge(_case(SELLER_PAYS, **(AS_EXPECTED | difference))).matched


def test_a_claim_never_seen_is_a_mismatch() -> None:
    case = _case(SELLER_PAYS)
    case.observed = {}
    outcome = judge(case)
    assert not outcome.matched
    assert outcome.observed == "never seen"


def test_a_denial_must_give_the_expected_reason() -> None:
    expected = denied("contact_seller_first", "contact.seller_contacted_first")
    seen = {
        "resolution": "denied",
        "funded_by": "none",
        "counts_toward_odr": False,
        "rules": ["contact.seller_contacted_first"],
    }
    assert judge(_case(expected, **seen, denial_reason="contact_seller_first")).matched
    assert not judge(_case(expected, **seen, denial_reason="filed_too_early")).matched


def test_the_summary_lists_each_mismatch_with_what_was_expected_and_seen() -> None:
    world = build_world(WorldConfig(seed=3, days=45, end=END, sellers_per_profile=2))
    cases = list(world.cases.values())
    assert len(cases) >= 2
    for case in cases:  # as if every claim had ended as its story says...
        want = case.expected
        case.observed = {
            "status": want.status,
            "resolution": want.resolution,
            "funded_by": want.funded_by,
            "counts_toward_odr": want.counts_toward_odr,
            "filed_by": want.filed_by,
            "rules": list(want.rules),
            "denial_reason": want.denial_reason,
            "refusals": list(case.refusals),
        }
    cases[0].observed["funded_by"] = "nobody"  # ...but one
    result = summarize(world, Observed(), odr=[])
    assert (result["matched"], result["claims"]) == (len(cases) - 1, len(cases))
    [mismatch] = result["mismatches"]
    assert mismatch["order_id"] == cases[0].order_id
    assert "nobody" in mismatch["observed"]
    assert mismatch["matched"] is False


def test_the_summary_says_of_every_story_how_long_its_seller_left_it_unanswered() -> None:
    world = build_world(WorldConfig(seed=8, days=60, end=END, sellers_per_profile=2))
    stories = {s["order_id"]: s for s in summarize(world, Observed(), odr=[])["stories"]}
    assert set(stories) == set(world.cases)
    for order_id, case in world.cases.items():
        silence = case.seller_silence(END)
        hours = None if silence is None else silence / timedelta(hours=1)
        assert stories[order_id]["seller_silent_hours"] == hours
        assert stories[order_id]["scenario"] == case.scenario.value
        assert stories[order_id]["expected"] == case.expected.label()
    third_day = [s for s in stories.values() if s["scenario"] == "answers_on_the_third_day"]
    assert third_day
    assert all(50 <= s["seller_silent_hours"] <= 70 for s in third_day)


SILENCE_AFTER_PARTIAL = granted(
    "seller", "decision.silent_seller_pays", along=("response.partial_refund",)
)


def test_every_rule_the_story_names_on_the_way_must_be_on_the_claims_events() -> None:
    seen = AS_EXPECTED | {"rules": ["response.partial_refund", "decision.silent_seller_pays"]}
    assert judge(_case(SILENCE_AFTER_PARTIAL, **seen)).matched
    without = AS_EXPECTED | {"rules": ["decision.silent_seller_pays"]}
    outcome = judge(_case(SILENCE_AFTER_PARTIAL, **without))
    assert not outcome.matched
    assert "response.partial_refund" in outcome.expected


def _promising(*seen_refusals: str) -> Case:
    """A far-out replacement story that ended as told, with ``seen_refusals`` on the way."""
    promise = Call(
        "seller",
        "response",
        {"order_id": "o1", "response": {"action": "replacement_sent"}},
        timedelta(hours=10),
        decides=False,
        refused="replacement_estimate_out_of_bounds",
    )
    expected = granted("seller", "decision.silent_seller_pays")
    case = Case("o1", "s1", "b1", Scenario.FAR_OUT_REPLACEMENT, expected, filing=None)
    case.on_action_required = (promise,)
    seen = AS_EXPECTED | {"rules": ["decision.silent_seller_pays"]}
    case.observed = {"status": "closed", "filed_by": "buyer", **seen}
    if seen_refusals:
        case.observed["refusals"] = list(seen_refusals)
    return case


def test_a_refusal_the_story_expects_is_part_of_the_story() -> None:
    outcome = judge(_promising("replacement_estimate_out_of_bounds"))
    assert outcome.matched
    assert "after refusal replacement_estimate_out_of_bounds" in outcome.expected


def test_a_refusal_the_story_expects_that_never_came_is_a_mismatch() -> None:
    assert not judge(_promising()).matched


def test_a_refusal_no_story_expects_is_a_mismatch() -> None:
    assert not judge(_promising("replacement_estimate_out_of_bounds", "deadline_passed")).matched
    assert not judge(_case(SELLER_PAYS, **AS_EXPECTED, refusals=["deadline_passed"])).matched


def test_the_summary_tells_refusals_as_expected_apart_from_refused_moves() -> None:
    world = build_world(WorldConfig(seed=3, days=20, end=END, sellers_per_profile=1))
    observed = Observed(
        refused_as_expected=Counter({"replacement_estimate_out_of_bounds": 3}),
        rejected=["o9 claim.respond: deadline_passed (the response window has closed)"],
    )
    result = summarize(world, observed, odr=[])
    assert result["run"]["refused_as_expected"] == {"replacement_estimate_out_of_bounds": 3}
    assert result["run"]["rejected_moves"] == observed.rejected
    assert result["run"]["rejected_moves_count"] == 1
    out = StringIO()
    render(result, Console(file=out, width=200))
    printed = out.getvalue()
    expected = "3 moves refused as their stories expect (replacement_estimate_out_of_bounds 3)"
    assert expected in printed
    assert "1 move refused that no story expects; first: o9 claim.respond" in printed


def test_a_run_without_refusals_prints_no_refusal_line() -> None:
    world = build_world(WorldConfig(seed=3, days=20, end=END, sellers_per_profile=1))
    out = StringIO()
    render(summarize(world, Observed(), odr=[]), Console(file=out, width=200))
    assert "refused" not in out.getvalue()


def test_a_claim_whose_call_was_abandoned_is_reported_apart_not_as_the_platforms_mistake() -> None:
    world = build_world(WorldConfig(seed=3, days=45, end=END, sellers_per_profile=2))
    cases = list(world.cases.values())
    lost = cases[0]  # never seen: its filing was abandoned after the retry budget
    observed = Observed(http_failures=["/v1/claims: 503"], abandoned={lost.order_id})
    result = summarize(world, observed, odr=[])
    assert lost.order_id in {o["order_id"] for o in result["abandoned"]}
    assert lost.order_id not in {o["order_id"] for o in result["mismatches"]}
    out = StringIO()
    render(result, Console(file=out, width=200))
    assert "claims left out of the judgement" in out.getvalue()
