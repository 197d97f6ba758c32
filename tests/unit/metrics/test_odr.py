"""ODR arithmetic, table-driven: each case states the rule it checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.base import PositiveMoney
from contracts.claims import ClaimClosed, ClaimEvent, ClaimFiled
from contracts.examples import claim_event_payloads, order_payloads
from contracts.orders import ChargebackFiled, FeedbackPosted, FeedbackRemoved
from metrics import odr
from metrics.odr import DayCounts
from tests.unit.adjudication.builders import placed

SETTINGS = odr.default_settings()
TODAY = date(2026, 6, 1)
ORDER = "114-0000001-0000001"


def _claim_event(version: int, *, status: str, counts: bool, resolution: Any = None,
                 funded_by: str = "none") -> ClaimFiled | ClaimClosed:  # fmt: skip
    template = claim_event_payloads()[0]
    assert isinstance(template, ClaimFiled)
    state = template.claim.model_copy(update={
        "order_id": ORDER, "version": version, "status": status, "counts_toward_odr": counts,
        "resolution": resolution, "funded_by": funded_by})  # fmt: skip
    if status == "closed":
        return ClaimClosed(claim_id=state.claim_id, order_id=ORDER, claim=state,
                           resolution=resolution or "granted")  # fmt: skip
    return ClaimFiled(claim_id=state.claim_id, order_id=ORDER, claim=state, description="x")


def _order(*events: object) -> odr.OrderDefects:
    state = odr.apply(None, placed())
    for event in events:
        state = odr.apply(state, event)  # type: ignore[arg-type]
    return state


def _feedback(rating: int, feedback_id: str = "fb-1") -> FeedbackPosted:
    return FeedbackPosted(order_id=ORDER, seller_id="seller-acme", feedback_id=feedback_id,
                          posted_at=datetime(2026, 3, 20, tzinfo=UTC), rating=rating)  # fmt: skip


def _chargeback(kind: str) -> ChargebackFiled:
    return ChargebackFiled(order_id=ORDER, seller_id="seller-acme", chargeback_id="cb-1",
                           filed_at=datetime(2026, 3, 20, tzinfo=UTC), kind=kind,  # type: ignore[arg-type]
                           amount=PositiveMoney(amount=Decimal(10), currency="EUR"))  # fmt: skip


@pytest.mark.parametrize(
    ("orders", "defective", "rate", "status"),
    [(100, 1, Decimal("0.01"), "AT_RISK"), (101, 1, Decimal(1) / Decimal(101), "NORMAL"),
     (0, 0, Decimal(0), "NORMAL")],
    ids=["1_in_100_is_1.00%_at_risk", "1_in_101_is_0.99%_normal", "no_orders"],
)  # fmt: skip
def test_the_target_is_strictly_below_1_percent(
    orders: int, defective: int, rate: Decimal, status: str
) -> None:
    counts = DayCounts(orders=orders, defective=defective)
    assert odr.rate(counts) == rate
    assert odr.status(counts, SETTINGS) == status


def test_an_order_with_a_claim_and_negative_feedback_is_one_defect() -> None:
    state = _order(_claim_event(1, status="filed", counts=True), _feedback(1))
    contribution = odr.contribution(state, SETTINGS)
    assert (contribution.defective, contribution.claims, contribution.negative_feedback) == (
        1,
        1,
        1,
    )


@pytest.mark.parametrize(("rating", "defective"), [(1, True), (2, True), (3, False), (5, False)])
def test_negative_feedback_is_one_or_two_stars(rating: int, defective: bool) -> None:
    assert odr.is_defective(_order(_feedback(rating)), SETTINGS) is defective


def test_removed_negative_feedback_stops_counting_even_when_removal_arrives_first() -> None:
    removed = FeedbackRemoved(order_id=ORDER, seller_id="seller-acme", feedback_id="fb-1",
                              removed_at=datetime(2026, 3, 21, tzinfo=UTC))  # fmt: skip
    assert not odr.is_defective(_order(_feedback(1), removed), SETTINGS)
    assert not odr.is_defective(_order(removed, _feedback(1)), SETTINGS)


def test_fraud_chargebacks_do_not_count_service_ones_do() -> None:
    assert not odr.is_defective(_order(_chargeback("fraud")), SETTINGS)
    assert odr.is_defective(_order(_chargeback("service")), SETTINGS)


@pytest.mark.parametrize(
    ("resolution", "funded_by", "counts"),
    [("withdrawn", "none", False), ("granted", "platform", False), ("denied", "none", False),
     ("granted", "seller", True), ("refunded_by_seller", "seller", True)],
)  # fmt: skip
def test_a_claim_that_stops_counting_removes_its_defect(
    resolution: str, funded_by: str, counts: bool
) -> None:
    state = _order(
        _claim_event(1, status="filed", counts=True),
        _claim_event(2, status="closed", counts=counts, resolution=resolution,
                     funded_by=funded_by),
    )  # fmt: skip
    assert odr.is_defective(state, SETTINGS) is counts


def test_pending_claims_count_unless_the_setting_says_otherwise() -> None:
    state = _order(_claim_event(1, status="filed", counts=True))
    assert odr.is_defective(state, SETTINGS)
    assert not odr.is_defective(state, replace(odr.default_settings(), pending_claims_count=False))


def test_an_order_61_days_old_has_left_the_window() -> None:
    days = {
        TODAY - timedelta(days=59): DayCounts(1, 1),
        TODAY - timedelta(days=60): DayCounts(1, 1),
    }
    assert odr.window_counts(days, TODAY, SETTINGS) == DayCounts(1, 1)


def test_the_lag_shifts_the_window() -> None:
    days = {TODAY: DayCounts(1, 1), TODAY - timedelta(days=70): DayCounts(1, 0)}
    lagged = replace(odr.default_settings(), lag_days=14)
    assert odr.window(TODAY, lagged) == (TODAY - timedelta(days=73), TODAY - timedelta(days=14))
    assert odr.window_counts(days, TODAY, lagged) == DayCounts(1, 0)


@pytest.mark.parametrize(
    ("orders", "defective", "needed"),
    [(100, 1, 1), (101, 1, 0), (100, 2, 101), (50, 1, 51)],
)
def test_orders_needed_to_get_back_under_the_target(
    orders: int, defective: int, needed: int
) -> None:
    counts = DayCounts(orders=orders, defective=defective)
    assert odr.orders_to_recover(counts, SETTINGS) == needed
    if needed:
        after = DayCounts(orders=orders + needed, defective=defective)
        assert odr.status(after, SETTINGS) == "NORMAL"
        before = DayCounts(orders=orders + needed - 1, defective=defective)
        assert odr.status(before, SETTINGS) == "AT_RISK"


def test_the_second_line_marks_deactivation_risk_and_small_samples_are_not_judged() -> None:
    settings = replace(odr.default_settings(), deactivation_line=Decimal("0.05"), minimum_orders=10)
    assert odr.status(DayCounts(20, 1), settings) == "DEACTIVATION_RISK"
    assert odr.status(DayCounts(9, 9), settings) == "NORMAL"


def test_a_seller_at_risk_is_projected_back_to_normal_when_old_defects_leave() -> None:
    # All defects happened 50 days ago; today's pace has none: they leave in 10 days.
    days = {TODAY - timedelta(days=d): DayCounts(2, 2 if d == 50 else 0) for d in range(60)}
    counts = odr.window_counts(days, TODAY, SETTINGS)
    assert odr.status(counts, SETTINGS) == "AT_RISK"
    crossing = odr.projected_crossing(days, TODAY, SETTINGS)
    assert crossing is not None
    assert crossing == TODAY + timedelta(days=10)  # the day the defects leave the window


claim_versions = st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=20)


@given(claim_versions)
def test_duplicates_and_reordering_of_claim_events_leave_the_latest_version(
    versions: list[int],
) -> None:
    events = [_claim_event(v, status="closed" if v % 2 == 0 else "filed", counts=v % 3 != 0)
              for v in versions]  # fmt: skip
    state = _order(*events)
    latest = max(versions)
    mark = next(iter(state.claims.values()))
    assert (mark.version, mark.counts) == (latest, latest % 3 != 0)


@pytest.mark.parametrize("event", order_payloads(), ids=lambda event: event.type)
def test_an_event_that_cannot_change_defects_leaves_every_state_as_it_was(event: Any) -> None:
    # The batch skips loading and saving an order for such events: apply must agree.
    states = [None, _order(), _order(_feedback(1), _chargeback("service"))]
    if odr.can_change(event):
        assert any(odr.apply(state, event) != state for state in states)
    else:
        assert all(odr.apply(state, event) is state for state in states[1:])


def test_every_claim_event_can_change_defects() -> None:
    events = [e for e in claim_event_payloads() if isinstance(e, ClaimEvent)]
    assert events
    assert all(odr.can_change(event) for event in events)
