"""Each seller's Order Defect Rate recomputed from scratch, from the events alone.

Written from PRODUCT.md, apart from the metrics service's code, so that comparing the two is a
check of the service and not of itself: an order is defective when it has a claim that counts
(the claim's latest state says so; pending claims count), negative feedback (1-2 stars) that
was not removed, or a service chargeback; one defect per order; the rate is over the orders
placed within the window (60 days by default, ending at the report's date less any lag: the
caller passes the window the report states).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from contracts.claims import ClaimEvent
from contracts.orders import (
    ChargebackFiled,
    FeedbackPosted,
    FeedbackRemoved,
    OrderFact,
    OrderPlaced,
)


@dataclass(slots=True)
class _Order:
    seller_id: str
    placed_on: date | None = None
    channel: str = ""
    negative: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    service_chargeback: bool = False
    claims: dict[str, tuple[int, bool]] = field(default_factory=dict)  # id -> (version, counts)

    def defective(self) -> bool:
        claim = any(counts for _, counts in self.claims.values())
        return claim or bool(self.negative - self.removed) or self.service_chargeback


@dataclass(frozen=True, slots=True)
class Tally:
    orders: int
    defective: int

    @property
    def rate(self) -> Decimal:
        return Decimal(self.defective) / Decimal(self.orders) if self.orders else Decimal(0)


def recompute(
    events: Iterable[OrderFact | ClaimEvent], first: date, last: date
) -> dict[str, Tally]:
    """Each seller's orders, and how many are defective, among orders placed from ``first``
    to ``last`` (both included)."""
    orders: dict[str, _Order] = {}
    for event in events:
        seller = getattr(event, "seller_id", None) or ""
        if isinstance(event, ClaimEvent):
            seller = event.claim.seller_id or ""
        order = orders.setdefault(event.order_id, _Order(seller))
        match event:
            case OrderPlaced():
                order.seller_id = event.seller_id
                order.placed_on = event.placed_at.date()
                order.channel = event.fulfillment
            case FeedbackPosted() if event.rating <= 2:
                order.negative.add(event.feedback_id)
            case FeedbackRemoved():
                order.removed.add(event.feedback_id)
            case ChargebackFiled() if event.kind == "service":
                order.service_chargeback = True
            case ClaimEvent():
                state = event.claim
                known = order.claims.get(state.claim_id)
                if known is None or known[0] < state.version:
                    order.claims[state.claim_id] = (state.version, state.counts_toward_odr)
    tallies: dict[str, list[int]] = {}
    for order in orders.values():
        if order.placed_on is None or not first <= order.placed_on <= last:
            continue
        tally = tallies.setdefault(order.seller_id, [0, 0])
        tally[0] += 1
        tally[1] += order.defective()
    return {seller: Tally(n, d) for seller, (n, d) in tallies.items()}
