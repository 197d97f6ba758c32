"""A claim's life through the pure state machine: every path, every rejection."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from adjudication import claim as claim_rules
from adjudication import lifecycle
from adjudication.lifecycle import Claim, Transition
from adjudication.policy import default_policy
from contracts.base import PositiveMoney
from contracts.claims import (
    AcceptResponse,
    Actor,
    AppealClaim,
    AppealRuling,
    ClaimCommand,
    ClaimDeadlines,
    DecideClaim,
    RefundResponse,
    ReplacementResponse,
    RespondToClaim,
    ReviewDecision,
    WithdrawClaim,
)
from contracts.orders import OrderDelivered, OrderRefunded, SellerReplied
from tests.unit.adjudication.builders import (
    BUYER_ACTOR,
    ESTIMATED_DELIVERY,
    FILED,
    ORDER,
    POLICY,
    REVIEWER,
    SELLER,
    SELLER_ACTOR,
    admitted,
    event_types,
    filing,
    order_facts,
    placed,
    respond_with,
    run_command,
    under_review,
)


def test_an_admissible_claim_waits_72_hours_for_the_seller() -> None:
    claim = admitted()
    assert claim.state.status == "action_required"
    assert claim.state.deadlines.respond_by == FILED + timedelta(hours=72)
    assert claim.state.counts_toward_odr is True  # pending
    assert lifecycle.pending_deadlines(claim) == [("respond_by", FILED + timedelta(hours=72))]


def test_a_denied_filing_is_closed_with_a_reason_and_a_sentence_in_the_buyers_language() -> None:
    transition = run_command(filing(amount="100.01", language="fr"), None, FILED)
    assert event_types(transition) == ["claim.filed", "claim.denied"]
    denied = transition.events[-1]
    assert denied.reason == "amount_over_order_total"  # type: ignore[attr-defined]
    assert denied.message.language == "fr"  # type: ignore[attr-defined]
    assert transition.claim is not None
    assert (transition.claim.state.status, transition.claim.state.resolution) == (
        "closed",
        "denied",
    )
    assert transition.claim.state.counts_toward_odr is False


def test_silent_seller_pays_after_72_hours() -> None:
    claim = admitted()
    due = FILED + timedelta(hours=72)
    assert (
        lifecycle.deadline_due(
            claim, "respond_by", now=due - timedelta(minutes=1), policy=POLICY
        ).claim
        is None
    )
    transition = lifecycle.deadline_due(claim, "respond_by", now=due, policy=POLICY)
    assert event_types(transition) == ["claim.decided", "claim.closed"]
    state = transition.events[-1].claim  # type: ignore[attr-defined]
    assert (state.resolution, state.funded_by, state.counts_toward_odr) == (
        "granted",
        "seller",
        True,
    )
    assert transition.events[0].rules == ("decision.silent_seller_pays",)  # type: ignore[attr-defined]
    assert state.deadlines.appeal_by == due + timedelta(days=30)


def test_a_seller_refund_closes_the_claim_refunded_by_seller() -> None:
    transition = respond_with(
        admitted(),
        RefundResponse(amount=PositiveMoney(amount=Decimal("100.00"), currency="EUR")),
        FILED + timedelta(hours=1),
    )
    assert event_types(transition) == ["claim.responded", "claim.closed"]
    assert transition.claim is not None
    state = transition.claim.state
    assert (state.resolution, state.funded_by, state.counts_toward_odr) == (
        "refunded_by_seller",
        "seller",
        True,
    )


def test_a_seller_accepting_grants_the_claim_seller_funded() -> None:
    transition = respond_with(admitted(), AcceptResponse(), FILED + timedelta(hours=1))
    assert event_types(transition) == ["claim.responded", "claim.decided", "claim.closed"]
    assert transition.claim is not None
    assert transition.claim.state.funded_by == "seller"


def test_a_replacement_delivered_closes_the_claim_replaced() -> None:
    eta = FILED + timedelta(days=4)
    replacement = ReplacementResponse(carrier="ups", tracking_id="1Z-R", estimated_delivery=eta)
    waiting = respond_with(admitted(), replacement, FILED + timedelta(hours=2)).claim
    assert waiting is not None
    assert lifecycle.pending_deadlines(waiting) == [("replacement_due_by", eta)]
    delivered = OrderDelivered(
        order_id=ORDER,
        seller_id=SELLER,
        shipment_id="shp-r",
        delivered_at=eta - timedelta(days=1),
        carrier="ups",
        tracking_id="1Z-R",
    )
    transition = lifecycle.fact_seen(
        waiting, delivered, facts=order_facts(delivered), now=delivered.delivered_at, policy=POLICY
    )
    assert event_types(transition) == ["claim.closed"]
    assert transition.claim is not None
    assert transition.claim.state.resolution == "replaced"


def test_a_replacement_not_delivered_by_its_date_goes_back_to_the_sellers_queue() -> None:
    eta = FILED + timedelta(days=4)
    replacement = ReplacementResponse(carrier="ups", tracking_id="1Z-R", estimated_delivery=eta)
    waiting = respond_with(admitted(), replacement, FILED + timedelta(hours=2)).claim
    assert waiting is not None
    transition = lifecycle.deadline_due(waiting, "replacement_due_by", now=eta, policy=POLICY)
    assert event_types(transition) == ["claim.action_required"]
    assert transition.claim is not None
    assert transition.claim.state.deadlines.respond_by == eta + timedelta(hours=72)


def test_a_refund_seen_on_the_order_closes_an_open_claim() -> None:
    refund = OrderRefunded(
        order_id=ORDER,
        seller_id=SELLER,
        refund_id="rf-1",
        refunded_at=FILED + timedelta(hours=5),
        initiated_by="seller",
        amount=PositiveMoney(amount=Decimal("100.00"), currency="EUR"),
    )
    transition = lifecycle.fact_seen(
        admitted(), refund, facts=order_facts(refund), now=refund.refunded_at, policy=POLICY
    )
    assert event_types(transition) == ["claim.closed"]
    assert transition.claim is not None
    assert transition.claim.state.resolution == "refunded_by_seller"


def test_the_buyer_may_withdraw_before_a_decision() -> None:
    command = WithdrawClaim(claim_id="clm-1", order_id=ORDER, actor=BUYER_ACTOR)
    transition = run_command(command, admitted(), FILED + timedelta(hours=1))
    assert event_types(transition) == ["claim.closed"]
    assert transition.claim is not None
    state = transition.claim.state
    assert (state.resolution, state.counts_toward_odr) == ("withdrawn", False)


@pytest.mark.parametrize(
    ("decision", "resolution", "funded_by", "counts"),
    [
        (ReviewDecision(outcome="granted", funded_by="platform"), "granted", "platform", False),
        (ReviewDecision(outcome="granted", funded_by="seller"), "granted", "seller", True),
        (
            ReviewDecision(outcome="denied", denial_reason="reviewer_denied"),
            "denied",
            "none",
            False,
        ),
    ],
    ids=["platform_funded", "seller_funded", "denied"],
)
def test_a_reviewer_decides_a_claim_under_review(
    decision: ReviewDecision, resolution: str, funded_by: str, counts: bool
) -> None:
    command = DecideClaim(claim_id="clm-1", order_id=ORDER, actor=REVIEWER, decision=decision)
    transition = run_command(command, under_review(), FILED + timedelta(days=1))
    assert event_types(transition) == ["claim.decided", "claim.closed"]
    assert transition.claim is not None
    state = transition.claim.state
    assert (state.resolution, state.funded_by, state.counts_toward_odr) == (
        resolution,
        funded_by,
        counts,
    )


def test_a_seller_appeal_reversed_moves_the_money_and_the_odr_impact() -> None:
    granted = lifecycle.deadline_due(
        admitted(), "respond_by", now=FILED + timedelta(hours=72), policy=POLICY
    ).claim
    assert granted is not None
    appeal = AppealClaim(
        claim_id="clm-1",
        order_id=ORDER,
        actor=SELLER_ACTOR,
        appeal_id="apl-1",
        statement="Delivered and signed.",
    )
    appealed = run_command(appeal, granted, FILED + timedelta(days=10))
    assert event_types(appealed) == ["claim.appealed"]
    assert appealed.claim is not None
    ruling = DecideClaim(
        claim_id="clm-1",
        order_id=ORDER,
        actor=REVIEWER,
        decision=AppealRuling(appeal_id="apl-1", outcome="reversed"),
    )
    transition = run_command(ruling, appealed.claim, FILED + timedelta(days=12))
    assert event_types(transition) == ["claim.appeal_decided"]
    assert transition.claim is not None
    state = transition.claim.state
    assert (state.status, state.funded_by, state.counts_toward_odr) == ("closed", "platform", False)


def test_an_appeal_after_30_days_is_rejected() -> None:
    granted = lifecycle.deadline_due(
        admitted(), "respond_by", now=FILED + timedelta(hours=72), policy=POLICY
    ).claim
    appeal = AppealClaim(
        claim_id="clm-1",
        order_id=ORDER,
        actor=SELLER_ACTOR,
        appeal_id="apl-1",
        statement="Too late?",
    )
    transition = run_command(appeal, granted, FILED + timedelta(hours=72, days=30, minutes=1))
    assert transition.claim is None
    assert transition.events[0].reason == "deadline_passed"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (
            RespondToClaim(
                claim_id="clm-1",
                order_id=ORDER,
                actor=Actor(role="seller", subject="seller-other"),
                response=AcceptResponse(),
            ),
            "not_your_claim",
        ),
        (
            WithdrawClaim(
                claim_id="clm-1", order_id=ORDER, actor=Actor(role="buyer", subject="buyer-other")
            ),
            "not_your_claim",
        ),
        (
            DecideClaim(
                claim_id="clm-1",
                order_id=ORDER,
                actor=BUYER_ACTOR,
                decision=ReviewDecision(outcome="granted", funded_by="platform"),
            ),
            "role_not_allowed",
        ),
        (
            DecideClaim(
                claim_id="clm-1",
                order_id=ORDER,
                actor=REVIEWER,
                decision=ReviewDecision(outcome="granted", funded_by="platform"),
            ),
            "action_not_available",
        ),
        (
            WithdrawClaim(claim_id="clm-1", order_id="another-order", actor=BUYER_ACTOR),
            "claim_not_found",
        ),
    ],
    ids=["another_seller", "another_buyer", "buyer_deciding", "not_under_review", "wrong_order"],
)
def test_a_command_that_may_not_act_changes_nothing_and_says_why(
    command: ClaimCommand, reason: str
) -> None:
    transition = run_command(command, admitted(), FILED + timedelta(hours=1))
    assert transition.claim is None
    assert event_types(transition) == ["claim.command_rejected"]
    assert transition.events[0].reason == reason  # type: ignore[attr-defined]


def test_a_seller_responding_after_the_window_is_rejected() -> None:
    transition = respond_with(admitted(), AcceptResponse(), FILED + timedelta(hours=72, minutes=1))
    assert transition.events[0].reason == "deadline_passed"  # type: ignore[attr-defined]


def test_a_claim_for_an_unknown_order_is_held_then_admitted_when_the_order_arrives() -> None:
    held = lifecycle.file_claim(filing(), facts=None, open_claim=None, now=FILED, policy=POLICY)
    assert held.claim is not None
    assert held.claim.held
    assert lifecycle.pending_deadlines(held.claim) == [
        ("hold_until", FILED + POLICY.unknown_order_hold)
    ]
    released = lifecycle.order_arrived(
        held.claim, order_facts(), open_claim=None, now=FILED + timedelta(hours=1), policy=POLICY
    )
    assert event_types(released) == ["claim.action_required"]
    assert released.claim is not None
    assert released.claim.state.seller_id == SELLER


def test_a_claim_whose_order_never_arrives_is_denied_unknown_order() -> None:
    held = lifecycle.file_claim(filing(), facts=None, open_claim=None, now=FILED, policy=POLICY)
    assert held.claim is not None
    due = FILED + POLICY.unknown_order_hold
    transition = lifecycle.deadline_due(held.claim, "hold_until", now=due, policy=POLICY)
    assert event_types(transition) == ["claim.denied"]
    assert transition.events[0].reason == "unknown_order"  # type: ignore[attr-defined]


def test_every_event_carries_the_next_version_of_the_claim() -> None:
    transition = run_command(filing(), None, FILED)
    versions = [event.claim.version for event in transition.events]  # type: ignore[attr-defined]
    assert versions == [1, 2]


def test_platform_fulfilled_claim_is_denied_not_covered_at_filing() -> None:
    facts = order_facts(placed(fulfillment="platform"))
    transition = run_command(filing(), None, FILED, facts)
    assert transition.events[-1].reason == "not_covered"  # type: ignore[attr-defined]


def test_a_held_claim_is_judged_as_of_its_filing_when_its_order_arrives_later() -> None:
    held = lifecycle.file_claim(filing(), facts=None, open_claim=None, now=FILED, policy=POLICY)
    assert held.claim is not None
    # The order's facts carry their own, earlier, event times; the claim keeps its filing time.
    released = lifecycle.order_arrived(
        held.claim, order_facts(), open_claim=None, now=FILED, policy=POLICY
    )
    assert event_types(released) == ["claim.action_required"]


def test_the_platform_files_when_the_seller_never_answered_the_buyer() -> None:
    facts = order_facts()  # the buyer wrote on the 9th; nobody answered
    transition = lifecycle.automatic_filing(facts, "msg-1", claims=[], now=FILED, policy=POLICY)
    assert event_types(transition) == ["claim.filed", "claim.action_required"]
    assert transition.claim is not None
    assert transition.claim.state.filed_by == "platform"
    assert transition.events[0].rules == ("filing.automatic_after_silent_contact",)  # type: ignore[attr-defined]
    assert transition.claim.state.claim_id == lifecycle.platform_claim_id(ORDER, "msg-1")


def test_the_platform_does_not_file_when_the_seller_answered() -> None:

    replied = SellerReplied(
        order_id=ORDER, seller_id=SELLER, contact_id="msg-1", replied_at=FILED - timedelta(days=2)
    )
    transition = lifecycle.automatic_filing(
        order_facts(replied), "msg-1", claims=[], now=FILED, policy=POLICY
    )
    assert transition == Transition(None)


def test_the_platform_does_not_file_a_claim_that_would_be_denied() -> None:
    too_early = ESTIMATED_DELIVERY  # not received: not before 3 days after the estimate
    transition = lifecycle.automatic_filing(
        order_facts(), "msg-1", claims=[], now=too_early, policy=POLICY
    )
    assert transition == Transition(None)


def test_automatic_filing_is_a_setting() -> None:

    transition = lifecycle.automatic_filing(
        order_facts(),
        "msg-1",
        claims=[],
        now=FILED,
        policy=replace(default_policy(), automatic_filing=False),
    )
    assert transition == Transition(None)


def test_the_platform_does_not_file_again_when_the_buyer_already_claimed() -> None:
    claim = admitted()
    transition = lifecycle.automatic_filing(
        order_facts(), "msg-1", claims=[claim], now=FILED + timedelta(days=5), policy=POLICY
    )
    assert transition == Transition(None)


def _denied_by_reviewer() -> Claim:
    command = DecideClaim(
        claim_id="clm-1",
        order_id=ORDER,
        actor=REVIEWER,
        decision=ReviewDecision(outcome="denied", denial_reason="reviewer_denied"),
    )
    denied = run_command(command, under_review(), FILED + timedelta(days=1)).claim
    assert denied is not None
    return denied


def test_a_buyer_appeal_of_a_denial_reversed_grants_the_claim() -> None:
    appeal = AppealClaim(
        claim_id="clm-1",
        order_id=ORDER,
        actor=BUYER_ACTOR,
        appeal_id="apl-b",
        statement="I never got it.",
    )
    appealed = run_command(appeal, _denied_by_reviewer(), FILED + timedelta(days=3))
    assert event_types(appealed) == ["claim.appealed"]
    assert appealed.claim is not None
    ruling = DecideClaim(
        claim_id="clm-1",
        order_id=ORDER,
        actor=REVIEWER,
        decision=AppealRuling(appeal_id="apl-b", outcome="reversed", funded_by="seller"),
    )
    transition = run_command(ruling, appealed.claim, FILED + timedelta(days=4))
    assert transition.claim is not None
    state = transition.claim.state
    assert (state.resolution, state.funded_by, state.counts_toward_odr) == (
        "granted",
        "seller",
        True,
    )


def test_an_upheld_appeal_changes_neither_the_money_nor_the_odr_impact() -> None:
    denied = _denied_by_reviewer()
    appeal = AppealClaim(
        claim_id="clm-1",
        order_id=ORDER,
        actor=BUYER_ACTOR,
        appeal_id="apl-u",
        statement="Please look again.",
    )
    appealed = run_command(appeal, denied, FILED + timedelta(days=3)).claim
    assert appealed is not None
    ruling = DecideClaim(
        claim_id="clm-1",
        order_id=ORDER,
        actor=REVIEWER,
        decision=AppealRuling(appeal_id="apl-u", outcome="upheld"),
    )
    transition = run_command(ruling, appealed, FILED + timedelta(days=4))
    assert event_types(transition) == ["claim.appeal_decided"]
    assert transition.claim is not None
    after, before = transition.claim.state, denied.state
    assert (after.status, after.resolution, after.funded_by, after.counts_toward_odr) == (
        "closed",
        before.resolution,
        before.funded_by,
        before.counts_toward_odr,
    )


def test_a_seller_cannot_appeal_a_denial() -> None:
    appeal = AppealClaim(
        claim_id="clm-1", order_id=ORDER, actor=SELLER_ACTOR, appeal_id="apl-s", statement="Me too."
    )
    transition = run_command(appeal, _denied_by_reviewer(), FILED + timedelta(days=3))
    assert transition.events[0].reason == "action_not_available"  # type: ignore[attr-defined]


def test_an_open_claim_stands_in_the_way_of_another_but_a_held_one_or_a_closed_one_does_not() -> (
    None
):
    waiting = admitted()
    held = lifecycle.file_claim(filing(claim_id="clm-held"), facts=None, open_claim=None,
                                now=FILED, policy=POLICY).claim  # fmt: skip
    assert held is not None
    assert held.held
    assert lifecycle.open_claim([held, waiting], other_than="clm-2") is waiting
    assert lifecycle.open_claim([held], other_than="clm-2") is None
    assert lifecycle.open_claim([waiting], other_than=waiting.state.claim_id) is None  # itself
    withdrawn = run_command(WithdrawClaim(claim_id="clm-1", order_id=ORDER, actor=BUYER_ACTOR),
                            waiting, FILED + timedelta(hours=1)).claim  # fmt: skip
    assert withdrawn is not None
    assert not withdrawn.is_open
    assert lifecycle.open_claim([withdrawn], other_than="clm-2") is None


def test_a_decision_can_be_appealed_until_the_appeal_window_ends_included() -> None:
    decided_at = FILED + timedelta(hours=80)
    appeal_by = claim_rules.appeal_deadline(decided_at, POLICY)
    assert appeal_by == decided_at + timedelta(days=30)
    closed = admitted().state.model_copy(
        update={"status": "closed", "deadlines": ClaimDeadlines(appeal_by=appeal_by)}
    )
    assert claim_rules.appeal_open(closed, appeal_by)
    assert not claim_rules.appeal_open(closed, appeal_by + timedelta(microseconds=1))
    waiting = closed.model_copy(update={"status": "action_required"})
    assert not claim_rules.appeal_open(waiting, decided_at)
