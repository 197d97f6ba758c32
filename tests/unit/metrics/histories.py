"""Random histories of a small marketplace for the metrics property tests, and the
from-scratch recomputation of every seller's health they are checked against.

A history is a sequence of steps: a batch of order facts and claim events (order.placed,
feedback posted and removed, service and fraud chargebacks, claim events whose versions
increase and that count or not, pending or closed, some delivered twice), or the next day.
:func:`recompute` folds the full list of events applied so far, order by order, with
:func:`metrics.odr.apply` from scratch and counts: it shares nothing with the incremental path
(per-batch deltas into daily counts, the stored snapshot compared with a fresh one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from hypothesis import strategies as st

from contracts.base import PositiveMoney
from contracts.claims import ClaimClosed, ClaimEvent, ClaimFiled
from contracts.envelope import Payload
from contracts.examples import claim_event_payloads
from contracts.orders import ChargebackFiled, FeedbackPosted, FeedbackRemoved, OrderFact
from contracts.sellers import AccountStatus, SellerOdrChanged
from metrics import odr
from metrics.odr import DayCounts, OdrSettings
from tests.unit.adjudication.builders import placed

START = date(2026, 5, 4)
SELLERS = ("seller-0", "seller-1")
ORDERS = tuple(f"{seller}-o{index}" for seller in SELLERS for index in range(2))


def at(day: date) -> datetime:
    """The moment of a history's events on ``day``."""
    return datetime.combine(day, time(10), tzinfo=UTC)


def seller_of(order_id: str) -> str:
    return order_id.rsplit("-", 1)[0]


def order_placed(order_id: str, on: date, fulfillment: str = "merchant") -> OrderFact:
    return placed(order_id=order_id, seller_id=seller_of(order_id), placed_at=at(on),
                  fulfillment=fulfillment)  # fmt: skip


def feedback(order_id: str, feedback_id: str, rating: int, on: date) -> FeedbackPosted:
    return FeedbackPosted(order_id=order_id, seller_id=seller_of(order_id),
                          feedback_id=feedback_id, posted_at=at(on), rating=rating)  # fmt: skip


def feedback_removed(order_id: str, feedback_id: str, on: date) -> FeedbackRemoved:
    return FeedbackRemoved(order_id=order_id, seller_id=seller_of(order_id),
                           feedback_id=feedback_id, removed_at=at(on))  # fmt: skip


def chargeback(order_id: str, chargeback_id: str, kind: str, on: date) -> ChargebackFiled:
    return ChargebackFiled(
        order_id=order_id, seller_id=seller_of(order_id), chargeback_id=chargeback_id,
        filed_at=at(on), kind=kind,  # type: ignore[arg-type]
        amount=PositiveMoney(amount=Decimal(5), currency="EUR"))  # fmt: skip


def claim_event(order_id: str, claim_id: str, version: int, *, counts: bool,
                closed: bool) -> ClaimEvent:  # fmt: skip
    """Version ``version`` of a claim: pending or closed, counting toward the ODR or not."""
    template = claim_event_payloads()[0]
    assert isinstance(template, ClaimFiled)
    claim = template.claim.model_copy(update={
        "claim_id": claim_id, "order_id": order_id, "seller_id": seller_of(order_id),
        "version": version, "counts_toward_odr": counts,
        "status": "closed" if closed else "filed",
        "resolution": ("granted" if counts else "withdrawn") if closed else None,
        "funded_by": "seller" if counts and closed else "none"})  # fmt: skip
    if closed:
        return ClaimClosed(claim_id=claim_id, order_id=order_id, claim=claim,
                           resolution=claim.resolution or "granted")  # fmt: skip
    return ClaimFiled(claim_id=claim_id, order_id=order_id, claim=claim, description="x")


@dataclass(frozen=True)
class Batch:
    """Events delivered together, in one transaction."""

    events: tuple[Payload, ...]


@dataclass(frozen=True)
class NextDay:
    """The day boundary: ``days`` days go by."""

    days: int = 1


Step = Batch | NextDay


@dataclass(frozen=True)
class History:
    settings: OdrSettings
    steps: tuple[Step, ...]

    def replay(self) -> Iterator[tuple[Step, date, tuple[Payload, ...]]]:
        """Each step, the day after it, and every event applied up to and including it."""
        day, applied = START, cast(tuple[Payload, ...], ())
        for step in self.steps:
            if isinstance(step, NextDay):
                day += timedelta(days=step.days)
            else:
                applied += step.events
            yield step, day, applied


def fold(
    events: Sequence[Payload], start: Mapping[str, odr.OrderDefects] | None = None
) -> dict[str, odr.OrderDefects]:
    """Every order's defect state after ``events``, folded from ``start`` (from scratch by
    default)."""
    states = dict(start or {})
    for event in events:
        if isinstance(event, ClaimEvent):
            states[event.order_id] = odr.apply(
                states.get(event.order_id), event, event.claim.seller_id
            )
        elif isinstance(event, OrderFact):
            states[event.order_id] = odr.apply(states.get(event.order_id), event)
    return states


def recount(
    states: Sequence[odr.OrderDefects], settings: OdrSettings
) -> dict[str, dict[str, dict[date, DayCounts]]]:
    """seller -> channel -> order date -> counts, counting each known order once."""
    days: dict[str, dict[str, dict[date, DayCounts]]] = {}
    for state in states:
        if state.channel is None or state.order_date is None:
            continue  # its order.placed is not seen yet: not an order of the seller's yet
        by_day = days.setdefault(state.seller_id, {}).setdefault(state.channel, {})
        by_day[state.order_date] = by_day.get(state.order_date, DayCounts()) + odr.contribution(
            state, settings
        )
    return days


def recompute(
    events: Sequence[Payload], as_of: date, settings: OdrSettings
) -> dict[str, SellerOdrChanged]:
    """Every seller's health as of ``as_of``, from the full list of events applied."""
    days = recount(list(fold(events).values()), settings)
    return {
        seller: odr.snapshot(seller, by_channel, as_of, settings)
        for seller, by_channel in days.items()
    }


def figures(health: SellerOdrChanged) -> dict[str, Any]:
    """Every figure of a snapshot but its window (``as_of`` and the order dates counted)."""
    return health.model_dump(exclude={"window"})


def assert_shown_equals_recomputation(
    shown: dict[str, SellerOdrChanged], expected: dict[str, SellerOdrChanged]
) -> None:
    """Every snapshot shown equals the recomputation, and every seller with an order in the
    window has one."""
    assert shown == {seller: expected[seller] for seller in shown}
    assert {s for s, health in expected.items() if health.combined.orders} <= shown.keys()


StatusChange = tuple[str, AccountStatus, AccountStatus]
"""A ``seller.status_changed``: seller, status before, status now."""


@dataclass
class Listener:
    """A subscriber of ``sellers.health.v1``: what it heard last about each seller."""

    heard: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, AccountStatus] = field(default_factory=dict)

    def hear(
        self,
        shown: dict[str, SellerOdrChanged],
        odr_changed: Sequence[SellerOdrChanged],
        status_changed: Sequence[StatusChange],
    ) -> None:
        """Take one step's events; then check that each told of a real change, and that
        together they tell the subscriber every figure shown but the date."""
        sellers = [event.seller_id for event in odr_changed]
        assert len(sellers) == len(set(sellers)), "one seller.odr_changed per seller and step"
        for event in odr_changed:
            assert self.heard.get(event.seller_id) != figures(event), "no real change"
            assert event == shown[event.seller_id], "the event is the snapshot saved"
            self.heard[event.seller_id] = figures(event)
        for seller, before, now in status_changed:
            assert (before, now) == (self.status.get(seller, "NORMAL"), shown[seller].status)
            assert before != now
            self.status[seller] = now
        for seller, health in shown.items():
            assert self.heard.get(seller) == figures(health), "a change went unpublished"
            assert self.status.get(seller, "NORMAL") == health.status


@dataclass
class _World:
    """What a history drawn so far holds, so the next events follow on."""

    day: date = START
    placed: dict[str, OrderFact] = field(default_factory=dict)
    feedback: dict[str, int] = field(default_factory=dict)
    chargebacks: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    sent: list[Payload] = field(default_factory=list)


KINDS = ("placed", "feedback", "feedback", "removed", "chargeback", "claim", "claim", "again")


def _event(draw: st.DrawFn, world: _World, settings: OdrSettings) -> Payload:
    placed_orders = sorted(world.placed)  # mostly those, so that defects pile up on them
    mostly_placed = bool(placed_orders) and draw(st.integers(0, 3)) > 0
    order = draw(st.sampled_from(placed_orders if mostly_placed else ORDERS))
    kind = draw(st.sampled_from(KINDS))
    if kind == "again" and world.sent:
        return world.sent[draw(st.integers(0, len(world.sent) - 1))]  # delivered twice
    if kind in {"placed", "again"}:
        if order not in world.placed:  # placed today or before, maybe already out of the window
            age = draw(st.integers(0, settings.window_days + settings.lag_days))
            channel = draw(st.sampled_from(["merchant", "platform"]))
            world.placed[order] = order_placed(order, world.day - timedelta(days=age), channel)
        return world.placed[order]
    if kind in {"feedback", "removed"}:
        number = world.feedback.get(order, 0)
        if kind == "removed":  # one posted before, or one not seen yet (removal first)
            target = draw(st.integers(0, number))
            return feedback_removed(order, f"fb-{order}-{target}", world.day)
        world.feedback[order] = number + 1
        return feedback(order, f"fb-{order}-{number}", draw(st.integers(1, 5)), world.day)
    if kind == "chargeback":
        number = world.chargebacks[order] = world.chargebacks.get(order, 0) + 1
        kind_of = draw(st.sampled_from(["service", "fraud"]))
        return chargeback(order, f"cb-{order}-{number}", kind_of, world.day)
    claim = f"clm-{order}-{draw(st.integers(0, 1))}"
    version = world.versions[claim] = world.versions.get(claim, 0) + 1
    return claim_event(order, claim, version, counts=draw(st.booleans()),
                       closed=draw(st.booleans()))  # fmt: skip


def _settings(draw: st.DrawFn) -> OdrSettings:
    target = draw(st.sampled_from([Decimal("0.01"), Decimal("0.3")]))
    return OdrSettings(
        window_days=draw(st.sampled_from([3, 5, 60])),
        lag_days=draw(st.integers(0, 2)),
        target=target,
        deactivation_line=draw(st.sampled_from([None, Decimal("0.6")])),
        pending_claims_count=draw(st.booleans()),
        minimum_orders=draw(st.sampled_from([0, 2])),
    )


@st.composite
def histories(draw: st.DrawFn, max_steps: int = 16) -> History:
    """A random history: its settings, then batches of events and day boundaries."""
    settings = _settings(draw)
    world = _World()
    steps: list[Step] = []
    for _ in range(draw(st.integers(1, max_steps))):
        if steps and draw(st.integers(0, 3)) == 0:
            days = draw(st.integers(1, 2))
            world.day += timedelta(days=days)
            steps.append(NextDay(days))
            continue
        events = tuple(_event(draw, world, settings) for _ in range(draw(st.integers(1, 5))))
        world.sent.extend(events)
        steps.append(Batch(events))
    return History(settings, tuple(steps))


O1, O2 = ORDERS[0], ORDERS[1]
SECOND_DEFECT = History(
    odr.default_settings(),
    (
        Batch((order_placed(O1, START), order_placed(O2, START))),
        Batch((claim_event(O1, "clm-1", 1, counts=True, closed=False),)),
        Batch((feedback(O1, "fb-1", 1, START),)),  # a second defect on a defective order
        Batch((claim_event(O1, "clm-1", 2, counts=False, closed=True),)),  # the claim stops
        Batch((feedback_removed(O1, "fb-1", START),)),
    ),
)
"""Negative feedback on an order that already has a counting claim, then the claim stops
counting: the order stays defective and the per-type counts follow."""

DAYS_GO_BY = History(
    replace(odr.default_settings(), window_days=3),
    (
        Batch((order_placed(O1, START), chargeback(O1, "cb-1", "service", START))),
        NextDay(),  # nothing changes but the date
        Batch((order_placed(O2, START + timedelta(days=1)),)),
        NextDay(2),  # the first order leaves the window
        NextDay(),  # and then the second
    ),
)
"""Days going by with and without a change: ``as_of`` follows every day."""

LAGGED = History(
    replace(odr.default_settings(), lag_days=2),
    (Batch((order_placed(O1, START),)), NextDay(), NextDay(), NextDay()),
)
"""An order placed today enters the lagged window days later, with no event in between."""
