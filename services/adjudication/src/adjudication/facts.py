"""What adjudication knows about an order: a pure fold of the facts seen on ``orders.v1``.

``apply(facts, event)`` returns new facts and never mutates. Each fact is keyed by its own id
(shipment, refund, contact...), so applying the same fact twice, or two facts in either order,
gives the same result: topics give no order across partitions, and order systems retry.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from pydantic import BaseModel, ConfigDict

from contracts.orders import (
    BuyerContactedSeller,
    ChargebackFiled,
    FeedbackPosted,
    FeedbackRemoved,
    OrderDelivered,
    OrderDeliveryFailed,
    OrderFact,
    OrderPlaced,
    OrderRefunded,
    OrderShipped,
    ReturnDelivered,
    ReturnShipped,
    SellerReplied,
)


class OrderFacts(BaseModel):
    """Every fact about one order, by kind and id. Stored as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    seller_id: str
    placed: OrderPlaced | None = None
    shipments: dict[str, OrderShipped] = {}
    deliveries: dict[str, OrderDelivered] = {}
    delivery_failures: dict[str, OrderDeliveryFailed] = {}
    refunds: dict[str, OrderRefunded] = {}
    returns_shipped: dict[str, ReturnShipped] = {}
    returns_delivered: dict[str, ReturnDelivered] = {}
    contacts: dict[str, BuyerContactedSeller] = {}
    replies: dict[str, SellerReplied] = {}
    chargebacks: dict[str, ChargebackFiled] = {}

    # --- questions the rules ask -----------------------------------------------------------

    @property
    def known(self) -> bool:
        """True once ``order.placed`` has been seen."""
        return self.placed is not None

    def delivered_at(self) -> datetime | None:
        """When the first parcel reached the buyer, if any did."""
        times = [delivery.delivered_at for delivery in self.deliveries.values()]
        return min(times) if times else None

    def return_delivered_at(self) -> datetime | None:
        times = [parcel.delivered_at for parcel in self.returns_delivered.values()]
        return min(times) if times else None

    def currency(self) -> str | None:
        """The order's currency, once ``order.placed`` has been seen."""
        return self.placed.total.currency if self.placed else None

    def refunded_amount(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Decimal:
        """Total refunded in the order's currency, optionally only at or after ``since``.
        A refund in another currency is not the order's money (see :func:`foreign_refund`)."""
        return sum(
            (
                r.amount.amount
                for r in self.refunds.values()
                if r.amount.currency == self.currency()
                and (since is None or r.refunded_at >= since)
                and (until is None or r.refunded_at <= until)
            ),
            Decimal(0),
        )

    def chargeback_filed_before(self, moment: datetime) -> bool:
        return any(chargeback.filed_at <= moment for chargeback in self.chargebacks.values())

    def first_contact_at(self, buyer_id: str | None = None) -> datetime | None:
        """When the buyer first wrote to the seller about this order."""
        times = [
            contact.contacted_at
            for contact in self.contacts.values()
            if buyer_id is None or contact.buyer_id == buyer_id
        ]
        return min(times) if times else None

    def seller_resolved_contact(self) -> bool:
        """The seller answered a contact and says the answer settles it."""
        return any(reply.resolved for reply in self.replies.values())

    def unanswered_contacts(self) -> list[BuyerContactedSeller]:
        return [c for c in self.contacts.values() if c.contact_id not in self.replies]

    def returning_to_seller(self) -> OrderDeliveryFailed | None:
        """A parcel refused or undeliverable and on its way back, if any."""
        for failure in self.delivery_failures.values():
            if failure.returning_to_seller and failure.failure in ("refused", "undeliverable"):
                return failure
        return None


def foreign_refund(facts: OrderFacts | None, event: OrderFact) -> str | None:
    """Why a refund fact cannot be the order's, in a sentence: its currency is not the order's.
    None for any other fact, or while the order's currency is not known yet."""
    if not isinstance(event, OrderRefunded):
        return None
    currency = facts.currency() if facts else None
    if currency and event.amount.currency != currency:
        return (
            f"refund {event.refund_id} is in {event.amount.currency}; "
            f"order {event.order_id} is in {currency}"
        )
    return None


_NO_FACTS: Final = OrderFacts.model_construct(order_id="", seller_id="")


def empty(order_id: str, seller_id: str) -> OrderFacts:
    """An order with no facts yet: a copy of one empty order, built without validation (both
    ids come from a fact validated on the way in). The copies share its empty dictionaries,
    which is safe because nothing mutates one: :func:`apply` builds a new dictionary for every
    change. A quarter of the cost of constructing it (pydantic copies each default)."""
    return _NO_FACTS.model_copy(update={"order_id": order_id, "seller_id": seller_id})


# Which dictionary of OrderFacts each kind of fact goes in, and the field that keys it.
_PLACES: dict[type[OrderFact], tuple[str, str]] = {
    OrderShipped: ("shipments", "shipment_id"),
    OrderDelivered: ("deliveries", "shipment_id"),
    OrderDeliveryFailed: ("delivery_failures", "shipment_id"),
    OrderRefunded: ("refunds", "refund_id"),
    ReturnShipped: ("returns_shipped", "return_id"),
    ReturnDelivered: ("returns_delivered", "return_id"),
    BuyerContactedSeller: ("contacts", "contact_id"),
    SellerReplied: ("replies", "contact_id"),
    ChargebackFiled: ("chargebacks", "chargeback_id"),
}


def apply(facts: OrderFacts | None, event: OrderFact) -> OrderFacts:
    """The facts after ``event``. Feedback is the metrics service's concern, not ours.

    A fact that changes nothing gives back ``facts`` itself (the same object), so a caller
    tells "changed" by identity, without comparing every field."""
    if isinstance(event, OrderPlaced):
        if facts is not None and facts.placed == event and facts.seller_id == event.seller_id:
            return facts
        update = {"order_id": event.order_id, "placed": event, "seller_id": event.seller_id}
        return (facts or _NO_FACTS).model_copy(update=update)  # one copy, even of no facts
    current = facts or empty(event.order_id, event.seller_id)
    if isinstance(event, FeedbackPosted | FeedbackRemoved):
        return current
    kind, key_field = _PLACES[type(event)]
    return _keyed(current, kind, getattr(event, key_field), event)


def _keyed(facts: OrderFacts, kind: str, key: str, event: OrderFact) -> OrderFacts:
    existing: dict[str, OrderFact] = getattr(facts, kind)
    if existing.get(key) == event:
        return facts
    return facts.model_copy(update={kind: {**existing, key: event}})
