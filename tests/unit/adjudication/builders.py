"""Orders, facts and filings for the adjudication tests, built from readable defaults.

T0 is Monday 2 March 2026, 09:00 UTC. The default order is merchant-fulfilled, sold by a third
party, 100 EUR, shipped on the 3rd with tracking, estimated to arrive by Monday the 9th; the
buyer wrote to the seller on the 9th.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adjudication import facts as fold
from adjudication.facts import OrderFacts
from adjudication.lifecycle import Claim, Transition, handle_command
from adjudication.policy import default_policy
from contracts.base import Money, PositiveMoney
from contracts.claims import (
    Actor,
    ClaimCommand,
    DisputeResponse,
    FileClaim,
    MessageEvidence,
    RespondToClaim,
    SellerContact,
    SellerResponse,
)
from contracts.orders import (
    BuyerContactedSeller,
    OrderDelivered,
    OrderFact,
    OrderItem,
    OrderPlaced,
    OrderShipped,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ORDER = "114-0000001-0000001"
SELLER = "seller-acme"
BUYER = "buyer-42"
ESTIMATED_DELIVERY = T0 + timedelta(days=7)  # Monday 9 March, 09:00
CONTACTED = ESTIMATED_DELIVERY  # the buyer writes the day the parcel should have come


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def placed(**changes: Any) -> OrderPlaced:
    total = changes.pop("total", "100.00")
    values: dict[str, Any] = {
        "order_id": ORDER, "seller_id": SELLER, "buyer_id": BUYER, "marketplace_id": "fr",
        "placed_at": T0, "fulfillment": "merchant", "sold_by": "third_party",
        "items": (OrderItem(sku="LAMP", title="Lamp", quantity=1, unit_price=eur(total)),),
        "shipping": eur("0.00"), "total": eur(total), "ship_by": T0 + timedelta(days=2),
        "estimated_delivery_min": T0 + timedelta(days=4),
        "estimated_delivery_max": ESTIMATED_DELIVERY,
    }  # fmt: skip
    values.update(changes)
    return OrderPlaced(**values)


def shipped(**changes: Any) -> OrderShipped:
    values: dict[str, Any] = {
        "order_id": ORDER, "seller_id": SELLER, "shipment_id": "shp-1",
        "shipped_at": T0 + timedelta(days=1), "carrier": "colissimo", "tracking_id": "6A1",
    }  # fmt: skip
    values.update(changes)
    return OrderShipped(**values)


def contacted(at: datetime = CONTACTED, contact_id: str = "msg-1") -> BuyerContactedSeller:
    return BuyerContactedSeller(order_id=ORDER, seller_id=SELLER, contact_id=contact_id,
                                buyer_id=BUYER, contacted_at=at, topic="not_received")  # fmt: skip


def order_facts(*events: OrderFact, with_defaults: bool = True) -> OrderFacts:
    """Facts from ``events``, after the default order, shipment and contact unless told not."""
    base: list[OrderFact] = [placed(), shipped(), contacted()] if with_defaults else []
    found: OrderFacts | None = None
    for event in [*base, *events]:
        found = fold.apply(found, event)
    assert found is not None
    return found


def filing(**changes: Any) -> FileClaim:
    amount = changes.pop("amount", "100.00")
    currency = changes.pop("currency", "EUR")
    values: dict[str, Any] = {
        "claim_id": "clm-1", "order_id": ORDER, "actor": Actor(role="buyer", subject=BUYER),
        "buyer_id": BUYER, "reason": "not_received",
        "amount": PositiveMoney(amount=Decimal(amount), currency=currency),
        "description": "Never arrived.", "filed_by": "buyer",
        "contact": SellerContact(contacted_at=CONTACTED),
    }  # fmt: skip
    values.update(changes)
    return FileClaim(**values)


POLICY = default_policy()

FILED = ESTIMATED_DELIVERY + timedelta(days=3)
"""When the default claim is filed: the first moment a not-received claim is admissible."""
SELLER_ACTOR = Actor(role="seller", subject=SELLER)
BUYER_ACTOR = Actor(role="buyer", subject=BUYER)
REVIEWER = Actor(role="reviewer", subject="rev-1")


def delivered(**changes: Any) -> OrderDelivered:
    """The carrier's delivery of the default shipment (unsigned, to the buyer's address)."""
    values: dict[str, Any] = {
        "order_id": ORDER, "seller_id": SELLER, "shipment_id": "shp-1",
        "delivered_at": ESTIMATED_DELIVERY, "carrier": "colissimo", "tracking_id": "6A1",
    }  # fmt: skip
    values.update(changes)
    return OrderDelivered(**values)


def event_types(transition: Transition) -> list[str]:
    return [event.type for event in transition.events]


def run_command(
    command: ClaimCommand,
    claim: Claim | None,
    now: datetime,
    facts: OrderFacts | None = None,
    command_id: str = "cmd-x",
) -> Transition:
    """``command`` through the state machine, with the default order's facts unless given."""
    return handle_command(
        command,
        command_id=command_id,
        claim=claim,
        facts=facts or order_facts(),
        open_claim=None,
        now=now,
        policy=POLICY,
    )


def admitted() -> Claim:
    """The default claim, filed at FILED and waiting for the seller."""
    transition = run_command(filing(), None, FILED)
    assert event_types(transition) == ["claim.filed", "claim.action_required"]
    assert transition.claim is not None
    return transition.claim


def respond_with(
    claim: Claim,
    response: SellerResponse,
    now: datetime,
    actor: Actor = SELLER_ACTOR,
    facts: OrderFacts | None = None,
    command_id: str = "cmd-x",
) -> Transition:
    """The seller (or ``actor``) answers ``claim`` with ``response``."""
    command = RespondToClaim(claim_id="clm-1", order_id=ORDER, actor=actor, response=response)
    return run_command(command, claim, now, facts, command_id)


def under_review() -> Claim:
    """The default claim, disputed with a message after an unsigned delivery: for a reviewer."""
    dispute = DisputeResponse(evidence=(MessageEvidence(sent_at=FILED, text="It was there."),))
    transition = respond_with(
        admitted(), dispute, FILED + timedelta(hours=1), facts=order_facts(delivered())
    )
    assert event_types(transition) == ["claim.responded", "claim.under_review"]
    assert transition.claim is not None
    return transition.claim
