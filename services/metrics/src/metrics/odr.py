"""Order Defect Rate arithmetic: pure, exact, and I/O-free.

Two folds and a few formulas:

* :func:`apply` folds ``orders.v1`` and ``claims.events.v1`` into one order's
  :class:`OrderDefects` (a claim counts by its latest version only; feedback and chargebacks by
  their ids), so duplicates and reorderings give the same state.
* :func:`is_defective` says whether an order is a defect: one defect per order whatever its
  causes (a counting claim, negative feedback not removed, a service chargeback).
* :func:`window_counts` sums per-day counts over the 60-day window ending at ``as_of - lag``;
  :func:`status`, :func:`orders_to_recover` and :func:`projected_crossing` answer the seller's
  questions. Rates are :class:`~decimal.Decimal` fractions, never floats.
* :func:`snapshot` is the health snapshot: every figure a seller's health shows, recomputed
  from the per-channel day counts; :func:`refresh` compares it with the stored one and says
  whether to save it and what to publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Final, Literal

from contracts.claims import ClaimEvent, ClaimState
from contracts.orders import (
    ChargebackFiled,
    FeedbackPosted,
    FeedbackRemoved,
    OrderFact,
    OrderPlaced,
)
from contracts.policy import PolicyDocument, load_policy
from contracts.sellers import AccountStatus, DefectCounts, OdrWindow, SellerOdrChanged
from contracts.sellers import Channel as ReportedChannel

Channel = Literal["seller_fulfilled", "platform_fulfilled"]
CHANNELS: Final[tuple[Channel, ...]] = ("seller_fulfilled", "platform_fulfilled")
NEGATIVE_RATING_AT_MOST = 2


@dataclass(frozen=True, slots=True)
class OdrSettings:
    """The metric's settings: the policy document's ``[odr]`` table (:meth:`from_document`)."""

    window_days: int
    lag_days: int
    target: Decimal
    deactivation_line: Decimal | None
    pending_claims_count: bool
    minimum_orders: int

    @classmethod
    def from_document(cls, document: PolicyDocument) -> OdrSettings:
        terms = document.odr
        return cls(
            window_days=terms.window_days,
            lag_days=terms.lag_days,
            target=terms.target,
            deactivation_line=terms.deactivation_line,
            pending_claims_count=terms.pending_claims_count,
            minimum_orders=terms.minimum_orders,
        )


@cache
def default_settings() -> OdrSettings:
    """The shipped policy document's metric (``policies/default.toml``), read once."""
    return OdrSettings.from_document(load_policy())


@dataclass(frozen=True, slots=True)
class ClaimMark:
    """What the latest version of a claim says about the ODR."""

    version: int
    counts: bool
    pending: bool


@dataclass(frozen=True, slots=True)
class OrderDefects:
    """One order's defect causes. ``placed`` is None until ``order.placed`` is seen."""

    order_id: str
    seller_id: str
    channel: Channel | None = None
    order_date: date | None = None
    claims: Mapping[str, ClaimMark] = field(default_factory=dict)
    feedback: Mapping[str, bool] = field(default_factory=dict)  # id -> negative and not removed
    removed_feedback: frozenset[str] = frozenset()
    service_chargebacks: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        return self.order_date is not None


def can_change(event: OrderFact | ClaimEvent) -> bool:
    """Whether ``event`` can change an order's defects: :func:`apply` hands any other event
    back the state it was given, so a batch need not load nor save its order for it."""
    return isinstance(
        event, OrderPlaced | FeedbackPosted | FeedbackRemoved | ChargebackFiled | ClaimEvent
    )


def apply(
    state: OrderDefects | None, event: OrderFact | ClaimEvent, seller_id: str | None = None
) -> OrderDefects:
    """The order's state after ``event``; applying the same event twice changes nothing."""
    if state is None:
        owner = getattr(event, "seller_id", None) or seller_id or ""
        state = OrderDefects(order_id=event.order_id, seller_id=owner)
    if isinstance(event, OrderPlaced):
        channel: Channel = (
            "seller_fulfilled" if event.fulfillment == "merchant" else "platform_fulfilled"
        )
        return replace(
            state, seller_id=event.seller_id, channel=channel, order_date=event.placed_at.date()
        )
    if isinstance(event, FeedbackPosted):
        if event.feedback_id in state.removed_feedback:
            return state  # removed before we saw it posted: stays removed
        negative = event.rating <= NEGATIVE_RATING_AT_MOST
        return replace(state, feedback={**state.feedback, event.feedback_id: negative})
    if isinstance(event, FeedbackRemoved):
        feedback = {**state.feedback, event.feedback_id: False}
        return replace(
            state, feedback=feedback, removed_feedback=state.removed_feedback | {event.feedback_id}
        )
    if isinstance(event, ChargebackFiled):
        if event.kind != "service":
            return state  # fraud chargebacks are not the seller's defect
        return replace(state, service_chargebacks=state.service_chargebacks | {event.chargeback_id})
    if isinstance(event, ClaimEvent):
        return with_claim(state, event.claim)
    return state


def with_claim(state: OrderDefects, claim: ClaimState) -> OrderDefects:
    """The order's state once it knows ``claim`` as of this version (an older or the same
    version changes nothing: a claim counts by its latest version only)."""
    known = state.claims.get(claim.claim_id)
    if known is not None and known.version >= claim.version:
        return state  # a stale or repeated event
    mark = ClaimMark(claim.version, claim.counts_toward_odr, claim.status != "closed")
    return replace(state, claims={**state.claims, claim.claim_id: mark})


@dataclass(frozen=True, slots=True)
class Causes:
    claim: bool
    negative_feedback: bool
    chargeback: bool

    @property
    def defective(self) -> bool:
        return self.claim or self.negative_feedback or self.chargeback


def causes(state: OrderDefects, settings: OdrSettings) -> Causes:
    """Which kinds of defect the order has now."""
    claim = any(
        mark.counts and (settings.pending_claims_count or not mark.pending)
        for mark in state.claims.values()
    )
    return Causes(
        claim=claim,
        negative_feedback=any(state.feedback.values()),
        chargeback=bool(state.service_chargebacks),
    )


def is_defective(state: OrderDefects, settings: OdrSettings) -> bool:
    """One defect per order, whatever its causes."""
    return causes(state, settings).defective


@dataclass(frozen=True, slots=True)
class DayCounts:
    """One seller's orders of one day and channel, and how many of them are defects."""

    orders: int = 0
    defective: int = 0
    claims: int = 0
    negative_feedback: int = 0
    chargebacks: int = 0

    def __sub__(self, other: DayCounts) -> DayCounts:
        return self + DayCounts(
            -other.orders,
            -other.defective,
            -other.claims,
            -other.negative_feedback,
            -other.chargebacks,
        )

    def __add__(self, other: DayCounts) -> DayCounts:
        return DayCounts(
            self.orders + other.orders,
            self.defective + other.defective,
            self.claims + other.claims,
            self.negative_feedback + other.negative_feedback,
            self.chargebacks + other.chargebacks,
        )


def contribution(state: OrderDefects, settings: OdrSettings) -> DayCounts:
    """What one order adds to its day's counts."""
    found = causes(state, settings)
    return DayCounts(
        1,
        int(found.defective),
        int(found.claim),
        int(found.negative_feedback),
        int(found.chargeback),
    )


def window(as_of: date, settings: OdrSettings) -> tuple[date, date]:
    """First and last order date counted: 60 days ending at ``as_of - lag``, both included."""
    last = as_of - timedelta(days=settings.lag_days)
    return last - timedelta(days=settings.window_days - 1), last


def window_counts(days: Mapping[date, DayCounts], as_of: date, settings: OdrSettings) -> DayCounts:
    """The sum of the days inside the window."""
    first, last = window(as_of, settings)
    total = DayCounts()
    for day, counts in days.items():
        if first <= day <= last:
            total = total + counts
    return total


def rate(counts: DayCounts) -> Decimal:
    """Defective orders / orders, exactly (0 with no orders)."""
    if counts.orders == 0:
        return Decimal(0)
    return Decimal(counts.defective) / Decimal(counts.orders)


def status(counts: DayCounts, settings: OdrSettings) -> AccountStatus:
    """NORMAL strictly below the target; AT_RISK at or above; DEACTIVATION_RISK past the second
    line when one is set. Below the minimum order count the sample is too small to judge."""
    if counts.orders < settings.minimum_orders:
        return "NORMAL"
    current = rate(counts)
    if settings.deactivation_line is not None and current >= settings.deactivation_line:
        return "DEACTIVATION_RISK"
    return "AT_RISK" if current >= settings.target else "NORMAL"


def orders_to_recover(counts: DayCounts, settings: OdrSettings) -> int:
    """Defect-free orders needed for the rate to fall strictly below the target (0 if it is)."""
    if rate(counts) < settings.target:
        return 0
    # defective / (orders + k) < target  <=>  k > defective / target - orders
    bound = Decimal(counts.defective) / settings.target - counts.orders
    return int(bound.to_integral_value(rounding="ROUND_FLOOR")) + 1


def projected_crossing(
    days: Mapping[date, DayCounts], as_of: date, settings: OdrSettings, horizon_days: int = 120
) -> date | None:
    """The first day the status would change if the window's average daily orders and defects
    went on, while today's window days leave it one by one; None within the horizon."""
    first, last = window(as_of, settings)
    span = settings.window_days
    # Orders and defects per day of the current window, oldest first, and what is left of the
    # window once its oldest ``k`` days have gone (suffix sums): O(window + horizon).
    orders = [0] * span
    defects = [0] * span
    for day, counts in days.items():
        if first <= day <= last:
            index = (day - first).days
            orders[index] += counts.orders
            defects[index] += counts.defective
    total_orders, total_defects = sum(orders), sum(defects)
    if total_orders == 0:
        return None
    # A projection, not a measure: floats are precise enough and keep this cheap.
    per_day_orders = total_orders / span
    per_day_defects = total_defects / span
    target = float(settings.target)
    current = DayCounts(orders=total_orders, defective=total_defects)
    now_normal = status(current, settings) == "NORMAL"
    left_orders, left_defects = total_orders, total_defects
    # After ``span`` days the window holds only projected days: the rate stops changing.
    for ahead in range(1, min(horizon_days, span) + 1):
        left_orders -= orders[ahead - 1]
        left_defects -= defects[ahead - 1]
        projected_orders = left_orders + per_day_orders * ahead
        if projected_orders <= 0:
            continue
        normal = (left_defects + per_day_defects * ahead) / projected_orders < target
        if normal != now_normal:
            return as_of + timedelta(days=ahead)
    return None


def _reported(channel: ReportedChannel, counts: DayCounts) -> DefectCounts:
    return DefectCounts(
        channel=channel,
        orders=counts.orders,
        defective_orders=counts.defective,
        claims=counts.claims,
        negative_feedback=counts.negative_feedback,
        chargebacks=counts.chargebacks,
        rate=rate(counts),
    )


def snapshot(
    seller_id: str,
    days: Mapping[str, Mapping[date, DayCounts]],
    as_of: date,
    settings: OdrSettings,
) -> SellerOdrChanged:
    """The health snapshot: every figure a seller's health shows as of ``as_of``.

    ``days`` holds the seller's counts per channel and order date (days outside the window are
    ignored). The window, the combined and per-channel counts of each defect type, the rate, the
    status, the orders needed to recover and the projected crossing all come from ``days`` and
    ``settings`` alone, so the same counts always give the same snapshot.
    """
    first, last = window(as_of, settings)
    per_channel = {c: window_counts(days.get(c, {}), as_of, settings) for c in CHANNELS}
    combined = per_channel["seller_fulfilled"] + per_channel["platform_fulfilled"]
    merged: dict[date, DayCounts] = {}
    for channel in CHANNELS:
        for day, counts in days.get(channel, {}).items():
            merged[day] = merged.get(day, DayCounts()) + counts
    return SellerOdrChanged(
        seller_id=seller_id,
        window=OdrWindow(
            as_of=datetime.combine(as_of, time(), tzinfo=UTC),
            first_order_date=first,
            last_order_date=last,
        ),
        combined=_reported("combined", combined),
        by_channel=tuple(_reported(c, per_channel[c]) for c in CHANNELS),
        status=status(combined, settings),
        target=settings.target,
        orders_to_recover=orders_to_recover(combined, settings),
        projected_crossing=projected_crossing(merged, as_of, settings),
    )


@dataclass(frozen=True, slots=True)
class Refresh:
    """What a recomputed snapshot calls for, given the stored one."""

    save: bool
    """Some figure differs from the stored snapshot, ``as_of`` and the window included."""
    odr_changed: bool
    """Some figure other than the window changed: publish ``seller.odr_changed``."""
    previous_status: AccountStatus | None
    """The status before, when the status changed: publish ``seller.status_changed``."""


def refresh(stored: SellerOdrChanged | None, fresh: SellerOdrChanged) -> Refresh:
    """Compare a seller's recomputed snapshot with the stored one (None when there is none).

    Any difference, ``as_of`` included, saves the fresh snapshot, so what is shown is never
    stale. Only a change of a figure other than the window is news: a day boundary that moves
    nothing but the date rewrites the snapshot and publishes nothing. A first snapshot's status
    before is NORMAL; a seller with no snapshot yet and no order in its window (a claim came
    before its order, or its orders are all still inside the lag) is left alone.
    """
    if stored is None and fresh.combined.orders == 0:
        return Refresh(save=False, odr_changed=False, previous_status=None)
    if stored == fresh:
        return Refresh(save=False, odr_changed=False, previous_status=None)
    before: AccountStatus = "NORMAL" if stored is None else stored.status
    return Refresh(
        save=True,
        odr_changed=stored is None or _figures(stored) != _figures(fresh),
        previous_status=before if before != fresh.status else None,
    )


def _figures(health: SellerOdrChanged) -> dict[str, object]:
    return health.model_dump(exclude={"window"})
