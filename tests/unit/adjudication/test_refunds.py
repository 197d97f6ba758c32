"""Money adds up: a claim closes refunded only when its refunds reach the amount claimed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from adjudication import lifecycle
from adjudication.lifecycle import Claim
from adjudication.responses import seller_refund_id
from contracts.base import PositiveMoney
from contracts.claims import RefundResponse
from contracts.orders import OrderRefunded
from tests.unit.adjudication.builders import (
    FILED,
    ORDER,
    POLICY,
    SELLER,
    admitted,
    event_types,
    filing,
    order_facts,
    respond_with,
    run_command,
)


def _refund(amount: str, currency: str = "EUR") -> RefundResponse:
    return RefundResponse(amount=PositiveMoney(amount=Decimal(amount), currency=currency))


def _refunded_on_order(amount: str, refund_id: str = "rf-1", hours: int = 5) -> OrderRefunded:
    return OrderRefunded(
        order_id=ORDER,
        seller_id=SELLER,
        refund_id=refund_id,
        refunded_at=FILED + timedelta(hours=hours),
        initiated_by="seller",
        amount=PositiveMoney(amount=Decimal(amount), currency="EUR"),
    )


def _seen(claim: Claim, fact: OrderRefunded) -> lifecycle.Transition:
    return lifecycle.fact_seen(
        claim, fact, facts=order_facts(fact), now=fact.refunded_at, policy=POLICY
    )


def test_a_refund_of_one_yen_on_a_claim_in_euros_is_refused_with_a_reason() -> None:
    transition = respond_with(admitted(), _refund("1", "JPY"), FILED + timedelta(hours=1))
    assert transition.claim is None
    (rejected,) = transition.events
    assert rejected.reason == "refund_currency_mismatch"  # type: ignore[attr-defined]


def test_a_partial_refund_is_recorded_lowers_what_is_owed_and_leaves_the_claim_open() -> None:
    transition = respond_with(admitted(), _refund("30.00"), FILED + timedelta(hours=1))
    assert event_types(transition) == ["claim.responded"]
    assert transition.claim is not None
    state = transition.claim.state
    assert state.status == "action_required"
    assert state.deadlines.respond_by == FILED + timedelta(hours=72)  # the window keeps running
    assert [(r.amount.amount, r.refunded_by, r.source) for r in state.refunds] == [
        (Decimal("30.00"), "seller", "seller_response")
    ]
    assert state.owed.amount == Decimal("70.00")
    assert transition.events[0].rules == ("response.partial_refund",)  # type: ignore[attr-defined]


def test_refunds_that_reach_the_amount_claimed_close_the_claim_refunded_by_seller() -> None:
    first = respond_with(admitted(), _refund("30.00"), FILED + timedelta(hours=1), command_id="a")
    assert first.claim is not None
    second = respond_with(first.claim, _refund("70.00"), FILED + timedelta(hours=2), command_id="b")
    assert event_types(second) == ["claim.responded", "claim.closed"]
    assert second.claim is not None
    state = second.claim.state
    assert (state.status, state.resolution, state.funded_by) == (
        "closed",
        "refunded_by_seller",
        "seller",
    )
    assert state.refunded.amount == Decimal("100.00")
    assert state.owed.amount == 0


def test_a_partial_refund_seen_on_the_order_is_recorded_and_the_claim_stays_open() -> None:
    transition = _seen(admitted(), _refunded_on_order("40.00"))
    assert event_types(transition) == ["claim.refund_recorded"]
    assert transition.claim is not None
    assert transition.claim.state.status == "action_required"
    assert transition.claim.state.owed.amount == Decimal("60.00")
    recorded = transition.events[0]
    assert recorded.refund.refund_id == "rf-1"  # type: ignore[attr-defined]


def test_the_same_refund_seen_twice_is_counted_once() -> None:
    fact = _refunded_on_order("40.00")
    once = _seen(admitted(), fact).claim
    assert once is not None
    assert _seen(once, fact).claim is None


def test_a_refund_from_the_sellers_response_is_the_same_money_when_the_order_reports_it() -> None:
    responded = respond_with(admitted(), _refund("40.00"), FILED + timedelta(hours=1))
    assert responded.claim is not None
    reported = _refunded_on_order("40.00", refund_id=seller_refund_id("cmd-x"))
    assert _seen(responded.claim, reported).claim is None


def test_refunds_before_the_claim_are_not_counted_toward_it() -> None:
    before = _refunded_on_order("100.00", hours=-1)
    assert _seen(admitted(), before).claim is None


def test_a_claim_for_money_already_refunded_is_denied_naming_what_remains() -> None:
    refunded = _refunded_on_order("60.00", hours=-24)
    transition = run_command(filing(amount="50.00"), None, FILED, order_facts(refunded))
    assert event_types(transition) == ["claim.filed", "claim.denied"]
    denied = transition.events[-1]
    assert denied.reason == "already_refunded"  # type: ignore[attr-defined]
    assert "40.00" in denied.message.text  # type: ignore[attr-defined]
    # What remains can still be claimed.
    admitted_rest = run_command(filing(amount="40.00"), None, FILED, order_facts(refunded))
    assert event_types(admitted_rest) == ["claim.filed", "claim.action_required"]
