"""Seller evidence checked against the facts order systems published: pure, I/O-free.

A seller's dispute is a set of claims about the order ("delivered on the 9th, signed for",
"label bought through the platform", "shipped on time"). None of them is taken on the seller's
word: :func:`corroborate` compares each item with the carrier's and the order system's facts on
``orders.v1`` and returns a :class:`~contracts.claims.Discrepancy` for every point that is
contradicted or that no fact backs, naming its rule and saying it in a sentence for the
reviewer. The decision rules (:mod:`adjudication.decisions`) never fund a claim by the platform
while any discrepancy stands; facts that arrive later are checked again.

What each kind of evidence must match:

* proof of delivery: a shipment of the order with that tracking id and carrier, a delivery the
  carrier reported for it, at the stated time (within the policy's tolerance), with the
  signature, ID check and buyer's address the seller states;
* tracking: a shipment of the order with that tracking id and carrier, shipped when stated;
* platform label: a shipment of the order whose label was bought through the platform;
* shipped on time: the order's own ship-by date, and a shipment that left when stated;
* return label: when it names a tracking id, one of the order's returns.

A message is context for the reviewer: there is nothing to check it against.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Final

from adjudication.facts import OrderFacts
from adjudication.policy import Policy
from contracts.claims import (
    Discrepancy,
    Evidence,
    PlatformLabel,
    ProofOfDelivery,
    ReturnLabel,
    ShippedOnTime,
    TrackingEvidence,
)
from contracts.orders import OrderDelivered, OrderShipped

TRACKING_OF_THE_ORDER: Final = "evidence.tracking_is_the_orders"
CARRIER_AS_REPORTED: Final = "evidence.carrier_as_reported"
SHIPMENT_REPORTED: Final = "evidence.shipment_reported_by_carrier"
SHIPPED_AT_AS_REPORTED: Final = "evidence.shipped_at_as_reported"
DELIVERY_REPORTED: Final = "evidence.delivery_reported_by_carrier"
DELIVERED_AT_AS_REPORTED: Final = "evidence.delivered_at_as_reported"
SIGNATURE_AS_REPORTED: Final = "evidence.signature_as_reported"
ID_CHECK_AS_REPORTED: Final = "evidence.id_check_as_reported"
ADDRESS_AS_REPORTED: Final = "evidence.buyer_address_as_reported"
PLATFORM_LABEL_ON_RECORD: Final = "evidence.platform_label_on_record"
SHIP_BY_OF_THE_ORDER: Final = "evidence.ship_by_is_the_orders"
RETURN_TRACKING_OF_THE_ORDER: Final = "evidence.return_tracking_is_the_orders"


def same_tracking(left: str | None, right: str | None) -> bool:
    """Tracking ids compare without case or spaces ("1z 999" is "1Z999")."""
    if left is None or right is None:
        return False
    return _normal(left) == _normal(right)


def _normal(text: str) -> str:
    return "".join(text.split()).casefold()


def _close_in_time(stated: datetime, reported: datetime, policy: Policy) -> bool:
    return abs(stated - reported) <= policy.evidence_time_tolerance


def shipment_by_tracking(facts: OrderFacts, tracking_id: str) -> OrderShipped | None:
    """The order's shipment with this tracking id, as the carrier reported it."""
    for shipment in facts.shipments.values():
        if same_tracking(shipment.tracking_id, tracking_id):
            return shipment
    return None


def delivery_by_tracking(facts: OrderFacts, tracking_id: str) -> OrderDelivered | None:
    """The carrier's delivery of the order's parcel with this tracking id."""
    for delivery in facts.deliveries.values():
        if same_tracking(delivery.tracking_id, tracking_id):
            return delivery
    return None


def corroborate(
    evidence: Sequence[Evidence], facts: OrderFacts, policy: Policy
) -> tuple[Discrepancy, ...]:
    """Every point of ``evidence`` that the order's facts contradict or do not back."""
    found: list[Discrepancy] = []
    for index, item in enumerate(evidence):
        found += (
            Discrepancy(rule=rule, evidence_index=index, message=message)
            for rule, message in _check(item, facts, policy)
        )
    return tuple(found)


Finding = tuple[str, str]


def _check(item: Evidence, facts: OrderFacts, policy: Policy) -> Iterator[Finding]:
    match item:
        case ProofOfDelivery():
            yield from _proof_of_delivery(item, facts, policy)
        case TrackingEvidence():
            yield from _tracking(item, facts, policy)
        case PlatformLabel():
            if not any(s.label_bought_through_platform for s in facts.shipments.values()):
                yield (
                    PLATFORM_LABEL_ON_RECORD,
                    "No shipment of this order has a label bought through the platform.",
                )
        case ShippedOnTime():
            yield from _shipped_on_time(item, facts, policy)
        case ReturnLabel() if item.tracking_id is not None:
            returns = facts.returns_shipped.values()
            if not any(same_tracking(r.tracking_id, item.tracking_id) for r in returns):
                yield (
                    RETURN_TRACKING_OF_THE_ORDER,
                    f"Tracking id {item.tracking_id} is not one of this order's returns.",
                )
        case _:
            return


def _known_parcel(
    carrier: str, tracking_id: str, facts: OrderFacts
) -> tuple[list[Finding], OrderShipped | None, OrderDelivered | None]:
    """Whether the tracking id and carrier are the order's, and the facts that say so."""
    shipment = shipment_by_tracking(facts, tracking_id)
    delivery = delivery_by_tracking(facts, tracking_id)
    if shipment is not None:
        reported = shipment.carrier
    elif delivery is not None:
        reported = delivery.carrier
    else:
        message = f"Tracking id {tracking_id} is not one of this order's shipments."
        return [(TRACKING_OF_THE_ORDER, message)], None, None
    findings: list[Finding] = []
    if _normal(reported) != _normal(carrier):
        findings.append(
            (
                CARRIER_AS_REPORTED,
                f"The parcel {tracking_id} was carried by {reported}, not {carrier}.",
            )
        )
    return findings, shipment, delivery


def _proof_of_delivery(
    proof: ProofOfDelivery, facts: OrderFacts, policy: Policy
) -> Iterator[Finding]:
    findings, _, delivery = _known_parcel(proof.carrier, proof.tracking_id, facts)
    yield from findings
    if findings and findings[0][0] == TRACKING_OF_THE_ORDER:
        return
    if delivery is None:
        yield (
            DELIVERY_REPORTED,
            f"The carrier has reported no delivery of the parcel {proof.tracking_id}.",
        )
        return
    if not _close_in_time(proof.delivered_at, delivery.delivered_at, policy):
        yield (
            DELIVERED_AT_AS_REPORTED,
            f"The carrier reports the parcel {proof.tracking_id} delivered at "
            f"{delivery.delivered_at.isoformat()}, not {proof.delivered_at.isoformat()}.",
        )
    # A seller understating what the carrier did is no discrepancy; overstating it is.
    if proof.signature_obtained and not delivery.signature_obtained:
        yield (
            SIGNATURE_AS_REPORTED,
            f"The carrier reports no signature for the parcel {proof.tracking_id}.",
        )
    if proof.id_checked and not delivery.id_checked:
        yield (
            ID_CHECK_AS_REPORTED,
            f"The carrier reports no ID check for the parcel {proof.tracking_id}.",
        )
    if proof.to_buyer_address and not delivery.to_buyer_address:
        yield (
            ADDRESS_AS_REPORTED,
            f"The carrier reports the parcel {proof.tracking_id} delivered elsewhere than "
            "the buyer's address.",
        )


def _tracking(item: TrackingEvidence, facts: OrderFacts, policy: Policy) -> Iterator[Finding]:
    findings, shipment, _ = _known_parcel(item.carrier, item.tracking_id, facts)
    yield from findings
    if findings and findings[0][0] == TRACKING_OF_THE_ORDER:
        return
    if shipment is None:
        yield (
            SHIPMENT_REPORTED,
            f"The carrier has reported no shipment of the parcel {item.tracking_id}.",
        )
    elif not _close_in_time(item.shipped_at, shipment.shipped_at, policy):
        yield (
            SHIPPED_AT_AS_REPORTED,
            f"The parcel {item.tracking_id} left at {shipment.shipped_at.isoformat()}, "
            f"not {item.shipped_at.isoformat()}.",
        )


def _shipped_on_time(item: ShippedOnTime, facts: OrderFacts, policy: Policy) -> Iterator[Finding]:
    placed = facts.placed
    if placed is not None and not _close_in_time(item.ship_by, placed.ship_by, policy):
        yield (
            SHIP_BY_OF_THE_ORDER,
            f"The order's ship-by date is {placed.ship_by.isoformat()}, "
            f"not {item.ship_by.isoformat()}.",
        )
    left = [s.shipped_at for s in facts.shipments.values()]
    if not any(_close_in_time(item.shipped_at, at, policy) for at in left):
        yield (
            SHIPPED_AT_AS_REPORTED,
            f"No shipment of this order left at {item.shipped_at.isoformat()}.",
        )
