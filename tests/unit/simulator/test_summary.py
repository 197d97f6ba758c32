"""How the summary judges a claim against the outcome its story must end in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from marketsim.runner import Observed
from marketsim.scenarios import Case, Expected, Scenario, denied, granted
from marketsim.summary import judge, summarize
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
            "rules": [want.rule],
            "denial_reason": want.denial_reason,
        }
    cases[0].observed["funded_by"] = "nobody"  # ...but one
    result = summarize(world, Observed(), odr=[])
    assert (result["matched"], result["claims"]) == (len(cases) - 1, len(cases))
    [mismatch] = result["mismatches"]
    assert mismatch["order_id"] == cases[0].order_id
    assert "nobody" in mismatch["observed"]
    assert mismatch["matched"] is False
