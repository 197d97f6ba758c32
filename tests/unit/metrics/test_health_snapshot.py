"""The health snapshot (``odr.snapshot``) and when it is saved and published (``odr.refresh``):
pure, checked against recomputations from scratch over random histories."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import example, given, settings

from contracts.envelope import Payload
from contracts.sellers import Channel, DefectCounts, SellerOdrChanged
from metrics import odr
from metrics.odr import DayCounts, OdrSettings
from tests.unit.metrics.histories import (
    DAYS_GO_BY,
    LAGGED,
    SECOND_DEFECT,
    START,
    Batch,
    History,
    Listener,
    StatusChange,
    assert_shown_equals_recomputation,
    fold,
    histories,
    recompute,
)

SETTINGS = odr.default_settings()
TODAY = date(2026, 6, 1)
SELLER = "seller-0"


def _direct(states: list[odr.OrderDefects], channel: Channel, first: date, last: date,
            settings: OdrSettings) -> DefectCounts:  # fmt: skip
    """One channel's figures counted order by order, without daily counts."""
    inside = [s for s in states if s.order_date and first <= s.order_date <= last
              and channel in {"combined", s.channel}]  # fmt: skip
    found = [odr.causes(s, settings) for s in inside]
    defective = sum(c.defective for c in found)
    return DefectCounts(
        channel=channel, orders=len(inside), defective_orders=defective,
        claims=sum(c.claim for c in found),
        negative_feedback=sum(c.negative_feedback for c in found),
        chargebacks=sum(c.chargeback for c in found),
        rate=Decimal(defective) / len(inside) if inside else Decimal(0),
    )  # fmt: skip


def _fewest_to_recover(counts: DefectCounts, settings: OdrSettings) -> int:
    """The fewest defect-free orders after which the rate is strictly below the target."""
    added = 0
    while (
        counts.orders + added
        and counts.defective_orders / Decimal(counts.orders + added) >= settings.target
    ):
        added += 1
    return added


@settings(max_examples=150, deadline=None)
@given(history=histories())
@example(history=SECOND_DEFECT)
@example(history=DAYS_GO_BY)
def test_the_snapshot_counts_each_order_in_its_window_once_by_channel_and_by_defect_type(
    history: History,
) -> None:
    for _, day, applied in history.replay():
        states = list(fold(applied).values())
        first, last = odr.window(day, history.settings)
        for seller, health in recompute(applied, day, history.settings).items():
            own = [state for state in states if state.seller_id == seller]
            assert health.window.as_of == datetime(day.year, day.month, day.day, tzinfo=UTC)
            assert (health.window.first_order_date, health.window.last_order_date) == (first, last)
            assert health.combined == _direct(own, "combined", first, last, history.settings)
            assert health.by_channel == tuple(
                _direct(own, c, first, last, history.settings) for c in odr.CHANNELS
            )
            combined = DayCounts(health.combined.orders, health.combined.defective_orders)
            assert health.status == odr.status(combined, history.settings)
            assert health.orders_to_recover == _fewest_to_recover(health.combined, history.settings)


class _Service:
    """The metrics handlers without a database: each batch adds what its orders' defects now
    contribute, minus what they contributed before, to the daily counts; then the touched
    sellers' snapshots are refreshed, and at a day boundary every seller's."""

    def __init__(self, settings: OdrSettings) -> None:
        self.settings = settings
        self.states: dict[str, odr.OrderDefects] = {}
        self.days: dict[str, dict[str, dict[date, DayCounts]]] = {}
        self.kept: dict[str, SellerOdrChanged] = {}
        self.odr_changed: list[SellerOdrChanged] = []
        self.status_changed: list[StatusChange] = []

    def _counted(self, order_id: str) -> DayCounts:
        state = self.states.get(order_id)
        if state is None or not state.known:
            return DayCounts()  # not an order of its seller's yet
        return odr.contribution(state, self.settings)

    def batch(self, events: tuple[Payload, ...], as_of: date) -> None:
        orders = {event.order_id for event in events}  # type: ignore[attr-defined]
        before = {order_id: self._counted(order_id) for order_id in orders}
        self.states = fold(events, self.states)
        for order_id in orders:
            state = self.states[order_id]
            if state.channel is not None and state.order_date is not None:
                by_day = self.days.setdefault(state.seller_id, {}).setdefault(state.channel, {})
                delta = self._counted(order_id) - before[order_id]
                by_day[state.order_date] = by_day.get(state.order_date, DayCounts()) + delta
        self._refresh({self.states[o].seller_id for o in orders}, as_of)

    def new_day(self, as_of: date) -> None:
        first, last = odr.window(as_of, self.settings)
        with_orders = {
            seller
            for seller, by_channel in self.days.items()
            for by_day in by_channel.values()
            for day, counts in by_day.items()
            if first <= day <= last and counts.orders
        }
        self._refresh(self.kept.keys() | with_orders, as_of)

    def _refresh(self, sellers: set[str], as_of: date) -> None:
        for seller in sorted(sellers):
            fresh = odr.snapshot(seller, self.days.get(seller, {}), as_of, self.settings)
            decision = odr.refresh(self.kept.get(seller), fresh)
            if decision.save:
                self.kept[seller] = fresh
            if decision.odr_changed:
                self.odr_changed.append(fresh)
            if decision.previous_status is not None:
                self.status_changed.append((seller, decision.previous_status, fresh.status))

    def published(self) -> tuple[list[SellerOdrChanged], list[StatusChange]]:
        """The events of the last step."""
        found = (self.odr_changed, self.status_changed)
        self.odr_changed, self.status_changed = [], []
        return found


@settings(max_examples=150, deadline=None)
@given(history=histories())
@example(history=SECOND_DEFECT)
@example(history=DAYS_GO_BY)
@example(history=LAGGED)
def test_the_kept_snapshot_equals_a_recomputation_after_every_batch_and_every_day(
    history: History,
) -> None:
    service, listener = _Service(history.settings), Listener()
    for step, day, applied in history.replay():
        if isinstance(step, Batch):
            service.batch(step.events, day)
        else:
            service.new_day(day)
        assert_shown_equals_recomputation(service.kept, recompute(applied, day, history.settings))
        listener.hear(service.kept, *service.published())


def test_a_second_defect_keeps_the_order_defective_and_the_counts_by_type_follow() -> None:
    service, seen = _Service(SECOND_DEFECT.settings), []
    for step, day, _ in SECOND_DEFECT.replay():
        assert isinstance(step, Batch)
        service.batch(step.events, day)
        combined = service.kept["seller-0"].combined
        published = service.published()
        seen.append((combined.defective_orders, combined.claims, combined.negative_feedback,
                     len(published[0]), len(published[1])))  # fmt: skip
    # placed; claim; negative feedback on top; the claim stops counting; the feedback goes
    assert seen == [(0, 0, 0, 1, 0), (1, 1, 0, 1, 1), (1, 1, 1, 1, 0), (1, 0, 1, 1, 0),
                    (0, 0, 0, 1, 1)]  # fmt: skip


def test_as_of_follows_every_day_and_a_day_that_only_moves_the_date_publishes_nothing() -> None:
    service, seen = _Service(DAYS_GO_BY.settings), []
    for step, day, _ in DAYS_GO_BY.replay():
        if isinstance(step, Batch):
            service.batch(step.events, day)
        else:
            service.new_day(day)
        health = service.kept["seller-0"]
        published = service.published()
        seen.append((health.window.as_of.date(), health.combined.orders, len(published[0])))
    assert seen == [
        (START, 1, 1),
        (START + timedelta(days=1), 1, 0),  # the same figures on a new day: nothing published
        (START + timedelta(days=1), 2, 1),
        (START + timedelta(days=3), 1, 1),  # the first order has left the window
        (START + timedelta(days=4), 0, 1),  # and then the second
    ]


def _snapshot(as_of: date = TODAY, **days: DayCounts) -> SellerOdrChanged:
    """A seller's snapshot from counts of one day ago, per channel."""
    yesterday = TODAY - timedelta(days=1)
    by_channel = {channel: {yesterday: counts} for channel, counts in days.items()}
    return odr.snapshot(SELLER, by_channel, as_of, SETTINGS)


def test_a_day_that_changes_nothing_but_the_date_is_saved_and_not_published() -> None:
    # One order in a thousand: projected to stay under the line, no crossing to move.
    before = _snapshot(seller_fulfilled=DayCounts(1000, 1, 1, 0, 0))
    after = _snapshot(TODAY + timedelta(days=1), seller_fulfilled=DayCounts(1000, 1, 1, 0, 0))
    assert after.window.as_of > before.window.as_of
    assert odr.refresh(before, after) == odr.Refresh(
        save=True, odr_changed=False, previous_status=None
    )


def test_negative_feedback_on_an_order_already_defective_is_saved_and_published() -> None:
    claim_only = _snapshot(seller_fulfilled=DayCounts(10, 1, 1, 0, 0))
    with_feedback = _snapshot(seller_fulfilled=DayCounts(10, 1, 1, 1, 0))
    assert with_feedback.combined.defective_orders == claim_only.combined.defective_orders
    assert with_feedback.combined.negative_feedback == 1
    assert odr.refresh(claim_only, with_feedback) == odr.Refresh(
        save=True, odr_changed=True, previous_status=None
    )


def test_a_change_of_status_is_published_with_the_status_before() -> None:
    normal = _snapshot(platform_fulfilled=DayCounts(200, 1, 0, 0, 1))
    at_risk = _snapshot(platform_fulfilled=DayCounts(200, 2, 0, 0, 2))
    assert (normal.status, at_risk.status) == ("NORMAL", "AT_RISK")
    assert odr.refresh(normal, at_risk).previous_status == "NORMAL"
    assert odr.refresh(at_risk, normal).previous_status == "AT_RISK"


def test_a_first_snapshot_is_saved_and_published_and_its_status_before_is_normal() -> None:
    at_risk = _snapshot(seller_fulfilled=DayCounts(1, 1, 1, 0, 0))
    normal = _snapshot(seller_fulfilled=DayCounts(1, 0))
    assert odr.refresh(None, at_risk) == odr.Refresh(
        save=True, odr_changed=True, previous_status="NORMAL"
    )
    assert odr.refresh(None, normal) == odr.Refresh(
        save=True, odr_changed=True, previous_status=None
    )


def test_an_unchanged_snapshot_is_neither_saved_nor_published() -> None:
    health = _snapshot(seller_fulfilled=DayCounts(5, 1, 0, 1, 0))
    assert odr.refresh(health, health.model_copy()) == odr.Refresh(
        save=False, odr_changed=False, previous_status=None
    )


def test_a_seller_with_no_snapshot_and_no_order_in_the_window_is_left_alone() -> None:
    # A claim came before its order, or every order is still inside the lag.
    assert odr.refresh(None, _snapshot()) == odr.Refresh(
        save=False, odr_changed=False, previous_status=None
    )
