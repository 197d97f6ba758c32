"""Every open claim has a deadline: replacements are bounded promises, reviews and appeals wait
a bounded time, and a dispute waiting for a reviewer is judged again when carrier facts come."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adjudication import decisions, lifecycle
from adjudication.claim import Claim
from contracts.claims import (
    AppealClaim,
    DisputeResponse,
    ProofOfDelivery,
    ReplacementResponse,
)
from tests.unit.adjudication.builders import (
    ESTIMATED_DELIVERY,
    FILED,
    ORDER,
    POLICY,
    SELLER_ACTOR,
    admitted,
    delivered,
    event_types,
    order_facts,
    respond_with,
    run_command,
    under_review,
)

RESPONDED = FILED + timedelta(hours=2)


def _replacement(eta: timedelta, tracking_id: str = "1Z-R") -> ReplacementResponse:
    return ReplacementResponse(
        carrier="ups", tracking_id=tracking_id, estimated_delivery=RESPONDED + eta
    )


@pytest.mark.parametrize(
    "eta",
    [timedelta(days=30, seconds=1), timedelta(days=3650), -timedelta(hours=1)],
    ids=["a_day_past_the_bound", "ten_years_out", "already_past"],
)
def test_a_replacement_promised_out_of_bounds_is_refused_and_the_claim_keeps_its_deadline(
    eta: timedelta,
) -> None:
    claim = admitted()
    transition = respond_with(claim, _replacement(eta), RESPONDED)
    assert transition.claim is None
    (rejected,) = transition.events
    assert rejected.reason == "replacement_estimate_out_of_bounds"  # type: ignore[attr-defined]
    assert lifecycle.pending_deadlines(claim) == [("respond_by", FILED + timedelta(hours=72))]


def test_a_replacement_within_thirty_days_is_awaited_until_its_own_date() -> None:
    transition = respond_with(admitted(), _replacement(timedelta(days=30)), RESPONDED)
    assert transition.claim is not None
    assert lifecycle.pending_deadlines(transition.claim) == [
        ("replacement_due_by", RESPONDED + timedelta(days=30))
    ]


def test_a_replacement_under_the_original_shipments_tracking_id_is_refused() -> None:
    transition = respond_with(admitted(), _replacement(timedelta(days=3), "6A1"), RESPONDED)
    assert transition.claim is None
    assert transition.events[0].reason == "action_not_available"  # type: ignore[attr-defined]


def test_the_replacement_path_numbers_its_events_one_by_one() -> None:
    claim = admitted()
    waiting = respond_with(claim, _replacement(timedelta(days=3)), RESPONDED)
    assert waiting.claim is not None
    parcel = delivered(shipment_id="shp-r", carrier="ups", tracking_id="1Z-R",
                       delivered_at=RESPONDED + timedelta(days=2))  # fmt: skip
    closed = lifecycle.fact_seen(
        waiting.claim, parcel, facts=order_facts(parcel), now=parcel.delivered_at, policy=POLICY
    )
    versions = [e.claim.version for e in (*waiting.events, *closed.events)]  # type: ignore[attr-defined]
    assert versions == [claim.state.version + 1, claim.state.version + 2]


def test_a_delivery_of_the_replacement_tracking_before_it_was_sent_does_not_close_it() -> None:
    waiting = respond_with(admitted(), _replacement(timedelta(days=3)), RESPONDED).claim
    assert waiting is not None
    earlier = delivered(shipment_id="shp-r", carrier="ups", tracking_id="1Z-R",
                        delivered_at=RESPONDED - timedelta(days=1))  # fmt: skip
    seen = lifecycle.fact_seen(
        waiting, earlier, facts=order_facts(earlier), now=RESPONDED, policy=POLICY
    )
    assert seen.claim is None


def test_a_claim_under_review_waits_at_most_the_review_window() -> None:
    claim = under_review()
    review_by = FILED + timedelta(hours=1) + POLICY.review_window
    assert lifecycle.pending_deadlines(claim) == [("review_by", review_by)]
    early = lifecycle.deadline_due(claim, "review_by", now=review_by - timedelta(1), policy=POLICY)
    assert early.claim is None


def test_a_review_not_decided_in_time_is_granted_by_the_platform_without_odr_impact() -> None:
    claim = under_review()
    due = claim.state.deadlines.review_by
    assert due is not None
    transition = lifecycle.deadline_due(claim, "review_by", now=due, policy=POLICY)
    assert event_types(transition) == ["claim.decided", "claim.closed"]
    assert transition.claim is not None
    state = transition.claim.state
    assert (state.resolution, state.funded_by, state.counts_toward_odr) == (
        "granted",
        "platform",
        False,
    )
    assert transition.events[0].rules == ("review.not_decided_in_time",)  # type: ignore[attr-defined]


def _appealed() -> Claim:
    silent = lifecycle.deadline_due(
        admitted(), "respond_by", now=FILED + timedelta(hours=72), policy=POLICY
    ).claim
    assert silent is not None
    command = AppealClaim(
        claim_id="clm-1", order_id=ORDER, actor=SELLER_ACTOR, appeal_id="apl-1", statement="No."
    )
    appealed = run_command(command, silent, FILED + timedelta(days=4)).claim
    assert appealed is not None
    return appealed


def test_an_appeal_not_ruled_on_in_time_fails_and_the_decision_stands() -> None:
    claim = _appealed()
    due = claim.state.deadlines.review_by
    assert due == FILED + timedelta(days=4) + POLICY.review_window
    transition = lifecycle.deadline_due(claim, "review_by", now=due, policy=POLICY)
    assert event_types(transition) == ["claim.appeal_decided"]
    assert transition.events[0].outcome == "upheld"  # type: ignore[attr-defined]
    assert transition.events[0].rules == ("appeal.not_ruled_in_time",)  # type: ignore[attr-defined]
    assert transition.claim is not None
    state = transition.claim.state
    assert (state.status, state.resolution, state.funded_by, state.counts_toward_odr) == (
        "closed",
        "granted",
        "seller",
        True,
    )


def _disputed_with_proof_the_carrier_has_not_reported_yet() -> Claim:
    proof = ProofOfDelivery(
        carrier="colissimo",
        tracking_id="6A1",
        delivered_at=ESTIMATED_DELIVERY,
        signature_obtained=True,
    )
    transition = respond_with(admitted(), DisputeResponse(evidence=(proof,)), RESPONDED)
    assert event_types(transition) == ["claim.responded", "claim.under_review"]
    review = transition.events[-1]
    assert [d.rule for d in review.discrepancies] == ["evidence.delivery_reported_by_carrier"]  # type: ignore[attr-defined]
    assert transition.claim is not None
    return transition.claim


def test_carrier_facts_after_the_dispute_that_back_the_proof_grant_it_platform_funded() -> None:
    claim = _disputed_with_proof_the_carrier_has_not_reported_yet()
    scan = delivered(signature_obtained=True)
    later = RESPONDED + timedelta(hours=6)
    transition = lifecycle.fact_seen(claim, scan, facts=order_facts(scan), now=later, policy=POLICY)
    assert event_types(transition) == ["claim.decided", "claim.closed"]
    assert transition.events[0].rules == (  # type: ignore[attr-defined]
        "decision.reconsidered_on_carrier_facts",
        decisions.SIGNED_PROOF_OF_DELIVERY,
    )
    assert transition.claim is not None
    assert transition.claim.state.funded_by == "platform"


def test_carrier_facts_that_contradict_the_proof_show_the_reviewer_the_new_discrepancy() -> None:
    claim = _disputed_with_proof_the_carrier_has_not_reported_yet()
    scan = delivered(signature_obtained=False)
    transition = lifecycle.fact_seen(
        claim, scan, facts=order_facts(scan), now=RESPONDED + timedelta(hours=6), policy=POLICY
    )
    assert event_types(transition) == ["claim.under_review"]
    discrepancies = transition.events[0].discrepancies  # type: ignore[attr-defined]
    assert [d.rule for d in discrepancies] == ["evidence.signature_as_reported"]
    assert transition.claim is not None
    assert transition.claim.state.deadlines == claim.state.deadlines  # the review window runs on
