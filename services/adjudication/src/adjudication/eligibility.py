"""Scope and admissibility: the rules checked when a claim is filed.

``check_filing`` is pure: it takes the filing, what is known of the order, whether another
claim is open, ``now`` and the :class:`~adjudication.policy.Policy`, and returns a
:class:`Verdict`. A claim that fails is denied with a machine-readable reason and the
parameters of the buyer's sentence; a denial is a value, never an exception. The buyer can
file again once the reason no longer holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final

from adjudication.calendar import add_business_days, add_business_hours
from adjudication.facts import OrderFacts
from adjudication.policy import Policy
from contracts.base import Money
from contracts.claims import DenialReason, FileClaim

ORDER_KNOWN: Final = "scope.order_known"
MERCHANT_FULFILLED_THIRD_PARTY: Final = "scope.merchant_fulfilled_third_party_sold"
PHYSICAL_ITEMS: Final = "scope.physical_items"
NO_CHARGEBACK: Final = "scope.no_chargeback_filed"
BUYERS_OWN_ORDER: Final = "scope.buyers_own_order"
ONE_OPEN_CLAIM: Final = "filing.one_open_claim_per_order"
SAME_CURRENCY: Final = "amount.currency_of_order"
WITHIN_ORDER_TOTAL: Final = "amount.within_order_total"
WITHIN_CAP: Final = "amount.within_cap"
NOT_ALREADY_REFUNDED: Final = "amount.within_what_is_not_yet_refunded"
NOT_RECEIVED_AFTER_ESTIMATE: Final = "timing.not_received_after_estimated_delivery"
ITEM_CLAIM_AFTER_DELIVERY: Final = "timing.item_claim_after_delivery"
RETURN_NOT_REFUNDED_AFTER_WINDOW: Final = "timing.return_not_refunded_after_window"
WITHIN_LATEST_FILING: Final = "timing.within_latest_filing"
CONTACT_FIRST: Final = "contact.seller_contacted_first"

Param = str | datetime | Money


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of the admissibility rules: the rules applied, and a denial if one failed."""

    rules: tuple[str, ...]
    denial: DenialReason | None = None
    params: dict[str, Param] = field(default_factory=dict)

    @property
    def admitted(self) -> bool:
        return self.denial is None


class _Denied(Exception):  # noqa: N818  # internal control flow: the first failing rule
    def __init__(self, rule: str, reason: DenialReason, **params: Param) -> None:
        self.rule, self.reason, self.params = rule, reason, params


def contact_window_end(contacted_at: datetime, facts: OrderFacts, policy: Policy) -> datetime:
    """When the seller's time to resolve a buyer's message runs out (business days or hours)."""
    marketplace = facts.placed.marketplace_id if facts.placed else None
    calendar = policy.calendar_for(marketplace)
    if policy.contact_window_unit == "business_hours":
        return add_business_hours(contacted_at, policy.contact_window, calendar)
    return add_business_days(contacted_at, policy.contact_window, calendar)


def earliest_filing(reason: str, facts: OrderFacts, policy: Policy) -> tuple[str, datetime | None]:
    """The rule that sets the earliest filing time for ``reason``, and that time.

    None means "not yet knowable": an item claim before any delivery, or a return claim before
    the return reached the seller.
    """
    assert facts.placed is not None  # noqa: S101  # callers check ORDER_KNOWN first
    calendar = policy.calendar_for(facts.placed.marketplace_id)
    delivered = facts.delivered_at()
    if reason == "not_received":
        # Tracking that says "delivered" lets the buyer say "I have nothing" straight away.
        grace_end = facts.placed.estimated_delivery_max + policy.not_received_grace
        return NOT_RECEIVED_AFTER_ESTIMATE, min(grace_end, delivered) if delivered else grace_end
    if reason == "return_not_refunded":
        returned = facts.return_delivered_at()
        if returned is None:
            return RETURN_NOT_REFUNDED_AFTER_WINDOW, None
        window = policy.return_refund_window_business_days
        return RETURN_NOT_REFUNDED_AFTER_WINDOW, add_business_days(returned, window, calendar)
    return ITEM_CLAIM_AFTER_DELIVERY, delivered


def _vouched_contact(command: FileClaim, facts: OrderFacts, now: datetime) -> datetime | None:
    """A contact no order fact records counts only when a support agent vouches for it (the
    buyer called them, say), and only at a time that can be true: after the order, not later
    than now. A buyer's own word for it is not enough: their messages to the seller are facts
    on ``orders.v1`` (``buyer.contacted_seller``)."""
    stated = command.contact.contacted_at if command.contact else None
    placed = facts.placed
    if stated is None or command.filed_by != "agent" or placed is None:
        return None
    return stated if placed.placed_at <= stated <= now else None


def check_filing(
    command: FileClaim,
    facts: OrderFacts | None,
    *,
    open_claim_id: str | None,
    now: datetime,
    policy: Policy,
) -> Verdict:
    """Apply the admissibility rules in order; the first that fails denies the claim."""
    passed: list[str] = []

    def require(condition: bool, rule: str, reason: DenialReason, **params: Param) -> None:
        if not condition:
            raise _Denied(rule, reason, **params)
        passed.append(rule)

    try:
        require(facts is not None and facts.known, ORDER_KNOWN, "unknown_order")
        assert facts is not None  # noqa: S101  # just checked
        assert facts.placed is not None  # noqa: S101  # just checked
        order = facts.placed
        require(order.buyer_id == command.buyer_id, BUYERS_OWN_ORDER, "not_covered")
        require(
            order.fulfillment == "merchant" and order.sold_by == "third_party",
            MERCHANT_FULFILLED_THIRD_PARTY,
            "not_covered",
        )
        require(
            any(item.kind == "physical" for item in order.items), PHYSICAL_ITEMS, "excluded_item"
        )
        require(not facts.chargeback_filed_before(now), NO_CHARGEBACK, "chargeback_already_filed")
        require(open_claim_id is None, ONE_OPEN_CLAIM, "claim_already_open")
        amount, total = command.amount, order.total
        require(
            amount.currency == total.currency,
            SAME_CURRENCY,
            "currency_mismatch",
            currency=total.currency,
        )
        require(
            amount.amount <= total.amount,
            WITHIN_ORDER_TOTAL,
            "amount_over_order_total",
            order_total=total,
        )
        cap = Money(amount=policy.claim_cap, currency=total.currency)
        require(amount.amount <= policy.claim_cap, WITHIN_CAP, "amount_over_cap", cap=cap)
        # Money the seller already gave back cannot be claimed again.
        refunded = facts.refunded_amount(until=now)
        remaining = max(total.amount - refunded, Decimal(0))
        require(
            refunded == 0 or amount.amount <= remaining,
            NOT_ALREADY_REFUNDED,
            "already_refunded",
            refunded=Money(amount=refunded, currency=total.currency),
            remaining=Money(amount=remaining, currency=total.currency),
        )
        rule, earliest = earliest_filing(command.reason, facts, policy)
        estimate = order.estimated_delivery_max
        require(
            earliest is not None and now >= earliest,
            rule,
            "filed_too_early",
            earliest_date=earliest or estimate,
        )
        latest = estimate + policy.latest_filing_after_estimated_delivery
        require(now <= latest, WITHIN_LATEST_FILING, "filed_too_late", latest_date=latest)
        if command.reason in policy.contact_first_required_for:
            contacted = facts.first_contact_at(command.buyer_id) or _vouched_contact(
                command, facts, now
            )
            window_end = contact_window_end(contacted or now, facts, policy)
            require(
                contacted is not None and now >= window_end,
                CONTACT_FIRST,
                "contact_seller_first",
                contact_until=window_end,
            )
    except _Denied as denied:
        return Verdict((*passed, denied.rule), denied.reason, denied.params)
    return Verdict(tuple(passed))
