"""The dishonest seller's claim stories (issue #10: trust only what can be verified) are built
so that the outcome the simulator expects follows from the story itself: a proof the carrier's
facts contradict goes to a reviewer, part of a refund is not a refund, and a replacement
promised months out is refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from contracts.envelope import Payload
from contracts.orders import OrderDelivered, OrderPlaced, OrderShipped
from marketsim import runner
from marketsim.profiles import PROFILES
from marketsim.scenarios import REVIEW_WINDOW, Call, Case, Fact, Scenario
from marketsim.world import (
    FAR_OUT,
    REPLACEMENT_LONGEST_DELIVERY,
    SIGNATURE_THRESHOLD,
    World,
    WorldConfig,
    build_world,
)

END = datetime(2026, 6, 1, tzinfo=UTC)
RESPONSE_WINDOW = timedelta(hours=72)
INVENTED = (Scenario.INVENTED_TRACKING, Scenario.INVENTED_SIGNATURE)
DISHONEST = (
    *INVENTED,
    Scenario.PARTIAL_REFUND_THEN_SILENT,
    Scenario.PARTIAL_REFUND_THEN_REST,
    Scenario.FAR_OUT_REPLACEMENT,
)


@cache
def world(seed: int = 1) -> World:
    return build_world(WorldConfig(seed=seed, days=90, end=END, sellers_per_profile=3))


def _cases(*scenarios: Scenario) -> list[Case]:
    found = [case for case in world().cases.values() if case.scenario in scenarios]
    assert found, f"the world should tell {scenarios}"
    return found


def _facts(case: Case) -> list[Payload]:
    return [
        item.fact
        for item in world().timeline
        if item.fact is not None and getattr(item.fact, "order_id", None) == case.order_id
    ]


def _calls(case: Case) -> list[Call]:
    return [r for r in case.on_action_required if isinstance(r, Call)]


def _response(call: Call) -> dict[str, Any]:
    response: dict[str, Any] = call.body["response"]
    return response


def _proof(case: Case) -> dict[str, Any]:
    [dispute] = _calls(case)
    [proof] = _response(dispute)["evidence"]
    assert proof["kind"] == "proof_of_delivery"
    return dict(proof)


def _claimed(case: Case) -> Decimal:
    assert case.filing is not None
    return Decimal(case.filing.body["amount"]["amount"])


def test_the_default_marketplace_deals_four_dishonest_sellers_among_twenty_eight() -> None:
    config = WorldConfig(seed=1, days=14, end=END)
    sellers = build_world(config).sellers
    assert len(sellers) == 4 * len(PROFILES) == 28
    assert [s.seller_id for s in sellers if s.profile.name == "dishonest"] == [
        f"dishonest-{n:02d}" for n in range(1, 5)
    ]


def test_only_the_dishonest_seller_tells_the_dishonest_stories() -> None:
    for case in world().cases.values():
        dishonest = case.seller_id.startswith("dishonest-")
        if case.scenario in DISHONEST:
            assert dishonest, case.order_id
    told = {c.scenario for c in world().cases.values() if c.seller_id.startswith("dishonest-")}
    assert set(DISHONEST) <= told


def test_an_invented_proof_is_about_an_order_shipped_tracked_and_delivered_unsigned() -> None:
    for case in _cases(*INVENTED):
        facts = _facts(case)
        placed = next(f for f in facts if isinstance(f, OrderPlaced))
        [shipped] = [f for f in facts if isinstance(f, OrderShipped)]
        [delivered] = [f for f in facts if isinstance(f, OrderDelivered)]
        assert placed.total.amount <= SIGNATURE_THRESHOLD  # unsigned is no fault down here
        assert shipped.tracking_id is not None
        assert delivered.tracking_id == shipped.tracking_id
        assert not delivered.signature_obtained
        assert case.filing is not None
        assert case.filing.body["reason"] == "not_received"


def test_an_invented_tracking_id_is_none_the_carrier_reported_for_the_order() -> None:
    for case in _cases(Scenario.INVENTED_TRACKING):
        reported = {
            f.tracking_id for f in _facts(case) if isinstance(f, OrderShipped | OrderDelivered)
        }
        proof = _proof(case)
        assert proof["tracking_id"] not in reported
        assert proof["signature_obtained"] is True
        assert "evidence.tracking_is_the_orders" in case.expected.rules


def test_an_invented_signature_is_on_the_real_parcel_the_carrier_delivered_unsigned() -> None:
    for case in _cases(Scenario.INVENTED_SIGNATURE):
        [delivered] = [f for f in _facts(case) if isinstance(f, OrderDelivered)]
        proof = _proof(case)
        # Everything else is the carrier's own word: only the signature is made up.
        assert proof["tracking_id"] == delivered.tracking_id
        assert proof["carrier"] == delivered.carrier
        assert datetime.fromisoformat(proof["delivered_at"]) == delivered.delivered_at
        assert proof["signature_obtained"] is True
        assert not delivered.signature_obtained
        assert "evidence.signature_as_reported" in case.expected.rules


def test_an_invented_proof_goes_to_a_reviewer_who_makes_the_seller_pay() -> None:
    appealed = 0
    for case in _cases(*INVENTED):
        want = case.expected
        assert (want.status, want.resolution, want.funded_by) == ("closed", "granted", "seller")
        assert want.counts_toward_odr
        assert "decision.evidence_not_corroborated" in want.rules
        assert "review.decided_by_reviewer" in want.rules
        assert case.review is not None
        assert (case.review.outcome, case.review.funded_by) == ("granted", "seller")
        if case.review.appeal is not None:
            appealed += 1
            assert case.review.appeal == "upheld"
            assert want.rule == "appeal.upheld"
        else:
            assert want.rule == "review.decided_by_reviewer"
    assert appealed, "some dishonest sellers appeal"


def test_reviewers_decide_and_rule_well_inside_the_review_window() -> None:
    assert runner.REVIEW_AFTER < REVIEW_WINDOW
    assert runner.RULING_AFTER < REVIEW_WINDOW


def test_a_dispute_left_in_the_queue_at_the_end_is_still_inside_its_review_window() -> None:
    for case in world().cases.values():
        if case.scenario is Scenario.AWAITING_REVIEWER:
            assert case.filing is not None
            [dispute] = _calls(case)
            assert END - (case.filing.at + dispute.after) < REVIEW_WINDOW


def test_a_partial_refund_is_less_than_claimed_then_the_sellers_silence_pays() -> None:
    for case in _cases(Scenario.PARTIAL_REFUND_THEN_SILENT):
        [partial] = _calls(case)
        amount = _response(partial)["amount"]
        assert case.filing is not None
        assert amount["currency"] == case.filing.body["amount"]["currency"]
        assert 0 < Decimal(amount["amount"]) < _claimed(case)
        assert not partial.decides  # the platform records it; the claim waits
        assert partial.after < RESPONSE_WINDOW
        want = case.expected
        assert (want.resolution, want.funded_by, want.counts_toward_odr) == (
            "granted",
            "seller",
            True,
        )
        assert want.rules == ("decision.silent_seller_pays", "response.partial_refund")
        # The seller's 72 hours end (and the silence is decided) before the run does.
        assert case.filing.at + RESPONSE_WINDOW < END


def test_a_partial_refund_then_the_rest_adds_up_to_the_amount_claimed() -> None:
    for case in _cases(Scenario.PARTIAL_REFUND_THEN_REST):
        partial, rest = _calls(case)
        amounts = [Decimal(_response(c)["amount"]["amount"]) for c in (partial, rest)]
        assert 0 < amounts[0] < _claimed(case)
        assert sum(amounts) == _claimed(case)
        assert partial.after < rest.after < RESPONSE_WINDOW
        assert (partial.decides, rest.decides) == (False, True)
        want = case.expected
        assert (want.resolution, want.funded_by) == ("refunded_by_seller", "seller")
        assert want.rules == ("response.refunded_by_seller", "response.partial_refund")


def test_a_far_out_replacement_is_promised_past_the_longest_delivery_and_must_be_refused() -> None:
    for case in _cases(Scenario.FAR_OUT_REPLACEMENT):
        assert case.filing is not None
        [promise] = _calls(case)
        response = _response(promise)
        answered_at = case.filing.at + promise.after
        eta = datetime.fromisoformat(response["estimated_delivery"])
        assert eta - answered_at > REPLACEMENT_LONGEST_DELIVERY
        assert eta == case.filing.at + FAR_OUT
        shipped = {f.tracking_id for f in _facts(case) if isinstance(f, OrderShipped)}
        assert response["tracking_id"] not in shipped  # a new parcel: only the date is wrong
        assert promise.refused == "replacement_estimate_out_of_bounds"
        assert case.refusals == ("replacement_estimate_out_of_bounds",)
        assert not [r for r in case.on_action_required if isinstance(r, Fact)]  # never comes
        want = case.expected
        assert (want.resolution, want.funded_by, want.counts_toward_odr) == (
            "granted",
            "seller",
            True,
        )
        assert want.rule == "decision.silent_seller_pays"


def test_no_other_story_expects_the_platform_to_refuse_a_move() -> None:
    for case in world().cases.values():
        if case.scenario is not Scenario.FAR_OUT_REPLACEMENT:
            assert case.refusals == (), case.scenario


def test_every_amount_sent_is_written_in_fixed_point() -> None:
    amounts = []
    for case in world().cases.values():
        if case.filing is not None:
            amounts.append(case.filing.body["amount"]["amount"])
        responses = [c.body["response"] for c in _calls(case) if "response" in c.body]
        amounts += [r["amount"]["amount"] for r in responses if r["action"] == "refund"]
    assert amounts
    assert all(re.fullmatch(r"[0-9]+\.[0-9]{2}", amount) for amount in amounts), amounts


def _as_bytes(w: World) -> str:
    """The world as the platform would receive it: every fact, filing and planned move."""

    def reaction(r: Call | Fact) -> Any:
        if isinstance(r, Call):
            return [r.party, r.action, r.body, r.after.total_seconds(), r.decides, r.refused]
        return [r.after.total_seconds(), r.build(END).model_dump_json()]

    timeline = [
        [t.at.isoformat(), t.fact.model_dump_json() if t.fact else None, t.case and t.case.order_id]
        for t in w.timeline
    ]
    cases = {
        order: [
            c.scenario.value,
            c.expected.label(),
            list(c.expected.rules),
            c.filing and [c.filing.at.isoformat(), c.filing.body],
            [reaction(r) for r in c.on_action_required],
            c.review and [c.review.outcome, c.review.funded_by, c.review.appeal],
        ]
        for order, c in w.cases.items()
    }
    return json.dumps([timeline, cases], sort_keys=True)


def test_the_same_seed_and_end_build_the_same_dishonest_stories_byte_for_byte() -> None:
    config = WorldConfig(seed=11, days=45, end=END, sellers_per_profile=2)
    first, second = build_world(config), build_world(config)
    assert any(c.scenario in DISHONEST for c in first.cases.values())
    assert _as_bytes(first) == _as_bytes(second)
