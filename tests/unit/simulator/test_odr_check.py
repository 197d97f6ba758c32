"""The simulator's own ODR recomputation, written from PRODUCT.md apart from the metrics
service: the yardstick the e2e tests hold the service's figures against."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from contracts.base import PositiveMoney
from contracts.claims import ClaimClosed, ClaimEvent, ClaimFiled
from contracts.examples import claim_event_payloads
from contracts.orders import ChargebackFiled, FeedbackPosted, FeedbackRemoved, OrderFact
from marketsim.odr_check import recompute
from tests.unit.adjudication.builders import placed

SELLER = "s1"
DAY = datetime(2026, 5, 10, 12, tzinfo=UTC)
FIRST, LAST = date(2026, 3, 12), date(2026, 5, 10)


def _placed(order_id: str, at: datetime = DAY) -> OrderFact:
    return placed(order_id=order_id, seller_id=SELLER, placed_at=at)


def _feedback(order_id: str, feedback_id: str, rating: int) -> FeedbackPosted:
    return FeedbackPosted(
        order_id=order_id, seller_id=SELLER, feedback_id=feedback_id, posted_at=DAY, rating=rating
    )


def _chargeback(order_id: str, kind: Literal["service", "fraud"]) -> ChargebackFiled:
    return ChargebackFiled(
        order_id=order_id,
        seller_id=SELLER,
        chargeback_id=f"{order_id}-cb",
        filed_at=DAY,
        kind=kind,
        amount=PositiveMoney(amount=Decimal(10), currency="EUR"),
    )


def _claim(order_id: str, version: int, *, counts: bool, closed: bool = False) -> ClaimEvent:
    template = claim_event_payloads()[0]
    assert isinstance(template, ClaimFiled)
    changes: dict[str, Any] = {
        "order_id": order_id,
        "seller_id": SELLER,
        "version": version,
        "counts_toward_odr": counts,
        "status": "closed" if closed else "action_required",
        "resolution": "denied" if closed and not counts else None,
    }
    state = template.claim.model_copy(update=changes)
    if closed:
        return ClaimClosed(
            claim_id=state.claim_id,
            order_id=order_id,
            claim=state,
            resolution=state.resolution or "granted",
        )
    return ClaimFiled(claim_id=state.claim_id, order_id=order_id, claim=state, description="x")


def test_one_defect_per_order_whatever_its_causes() -> None:
    events: list[OrderFact | ClaimEvent] = [
        _placed("o1"),
        _placed("o2"),
        _claim("o1", 1, counts=True),
        _feedback("o1", "f1", 1),
        _chargeback("o1", "service"),
    ]
    tally = recompute(events, FIRST, LAST)[SELLER]
    assert (tally.orders, tally.defective, tally.rate) == (2, 1, Decimal("0.5"))


def test_removed_negative_feedback_and_fraud_chargebacks_are_no_defect() -> None:
    events: list[OrderFact | ClaimEvent] = [
        _placed("o1"),
        _feedback("o1", "f1", 2),
        FeedbackRemoved(order_id="o1", seller_id=SELLER, feedback_id="f1", removed_at=DAY),
        _placed("o2"),
        _chargeback("o2", "fraud"),
        _placed("o3"),
        _feedback("o3", "f3", 3),
    ]
    assert recompute(events, FIRST, LAST)[SELLER].defective == 0


def test_a_claims_latest_version_decides_even_when_an_older_one_arrives_last() -> None:
    events: list[OrderFact | ClaimEvent] = [
        _placed("o1"),
        _claim("o1", 2, counts=False, closed=True),
        _claim("o1", 1, counts=True),
    ]
    assert recompute(events, FIRST, LAST)[SELLER].defective == 0


def test_only_orders_placed_inside_the_window_count() -> None:
    events: list[OrderFact | ClaimEvent] = [
        _placed("inside-first", datetime.combine(FIRST, datetime.min.time(), UTC)),
        _placed(
            "too-old", datetime.combine(FIRST, datetime.min.time(), UTC) - timedelta(seconds=1)
        ),
        _placed("too-new", datetime.combine(LAST + timedelta(days=1), datetime.min.time(), UTC)),
        _claim("too-old", 1, counts=True),
    ]
    tally = recompute(events, FIRST, LAST)[SELLER]
    assert (tally.orders, tally.defective) == (1, 0)
