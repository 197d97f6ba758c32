"""The decision rules, applied in order when a seller disputes a claim.

Each rule is a function named for the condition it checks; :func:`decide_dispute` tries them in
the order PRODUCT.md gives and returns the first that applies, naming it. Anything no rule
settles goes to a reviewer (``under_review``).

The rules read the order's facts (what carriers and order systems reported on ``orders.v1``),
never the seller's word: the seller's evidence is checked against those facts first
(:func:`adjudication.evidence.corroborate`), and while any of it is contradicted or not backed
by a fact, no rule funds the claim by the platform. The claim goes to a reviewer instead, with
every discrepancy named. Rules that make the seller pay need no evidence to be believed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from adjudication import evidence as corroboration
from adjudication.facts import OrderFacts
from adjudication.policy import Policy
from contracts.claims import ClaimReason, Discrepancy, Evidence
from contracts.orders import OrderDelivered

SIGNED_PROOF_OF_DELIVERY: Final = "decision.signed_proof_of_delivery"
SHIPPING_PROTECTION: Final = "decision.shipping_protection"
NO_VALID_TRACKING: Final = "decision.no_valid_tracking"
RETURNED_TO_SELLER: Final = "decision.returned_to_seller"
RETURN_NOT_REFUNDED: Final = "decision.return_delivered_not_refunded"
NEEDS_REVIEW: Final = "decision.needs_review"
EVIDENCE_NOT_CORROBORATED: Final = "decision.evidence_not_corroborated"
SILENT_SELLER_PAYS: Final = "decision.silent_seller_pays"
SELLER_ACCEPTED: Final = "decision.seller_accepted"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a decision rule decided: a grant with its payer and ODR impact, or a review (with
    the discrepancies the reviewer must see)."""

    rule: str
    kind: Literal["granted", "under_review"]
    funded_by: Literal["platform", "seller", "none"] = "none"
    counts_toward_odr: bool = True
    discrepancies: tuple[Discrepancy, ...] = ()


@dataclass(frozen=True, slots=True)
class Case:
    """Everything a decision rule may look at; ``discrepancies`` are worked out on creation."""

    reason: ClaimReason
    evidence: Sequence[Evidence]
    facts: OrderFacts
    policy: Policy
    discrepancies: tuple[Discrepancy, ...] = field(init=False)

    def __post_init__(self) -> None:
        found = corroboration.corroborate(self.evidence, self.facts, self.policy)
        object.__setattr__(self, "discrepancies", found)

    @property
    def corroborated(self) -> bool:
        """Nothing the seller stated is contradicted or unbacked by the facts."""
        return not self.discrepancies

    def above_signature_threshold(self) -> bool:
        assert self.facts.placed is not None  # noqa: S101  # decisions follow admission
        return self.facts.placed.total.amount > self.policy.signature_threshold

    def tracked_deliveries(self) -> list[OrderDelivered]:
        """The carrier's own delivery scans of the order's tracked parcels."""
        return [d for d in self.facts.deliveries.values() if d.tracking_id]


def signed_proof_of_delivery(case: Case) -> Outcome | None:
    """Not received, but the carrier delivered to the buyer's address against a signature (and
    an ID check above the threshold): the buyer is refunded by the platform, the seller did
    everything right. Only on the carrier's facts, and only if the seller's evidence holds."""
    if case.reason != "not_received" or not case.corroborated:
        return None
    for delivery in case.tracked_deliveries():
        id_ok = delivery.id_checked or not case.above_signature_threshold()
        if delivery.to_buyer_address and delivery.signature_obtained and id_ok:
            return Outcome(SIGNED_PROOF_OF_DELIVERY, "granted", "platform", counts_toward_odr=False)
    return None


def shipping_protection(case: Case) -> Outcome | None:
    """Not received, and one shipment had a label bought through the platform, left by the
    order's ship-by date and was scanned by its carrier (a tracking id)."""
    placed = case.facts.placed
    if case.reason != "not_received" or not case.corroborated or placed is None:
        return None
    for shipment in case.facts.shipments.values():
        if (
            shipment.label_bought_through_platform
            and shipment.shipped_at <= placed.ship_by
            and shipment.tracking_id
        ):
            return Outcome(SHIPPING_PROTECTION, "granted", "platform", counts_toward_odr=False)
    return None


def no_valid_tracking_or_unsigned_above_threshold(case: Case) -> Outcome | None:
    """Not received, and no parcel of the order has a tracking id the carrier reported, or the
    order is above the signature threshold and no delivery was signed for: the seller pays."""
    if case.reason != "not_received":
        return None
    tracked_shipments = [s for s in case.facts.shipments.values() if s.tracking_id]
    deliveries = case.tracked_deliveries()
    has_tracking = bool(tracked_shipments or deliveries)
    unsigned_above = case.above_signature_threshold() and not any(
        delivery.signature_obtained for delivery in deliveries
    )
    if not has_tracking or unsigned_above:
        return Outcome(NO_VALID_TRACKING, "granted", "seller")
    return None


def refused_or_undeliverable_and_returning(case: Case) -> Outcome | None:
    """The parcel was refused or could not be delivered and is going back: the buyer is
    refunded, the seller debited, and the order is not a defect."""
    if case.facts.returning_to_seller() is not None:
        return Outcome(RETURNED_TO_SELLER, "granted", "seller", counts_toward_odr=False)
    return None


def return_delivered_and_not_refunded(case: Case) -> Outcome | None:
    """The return reached the seller and no refund followed: the seller pays."""
    returned = case.facts.return_delivered_at()
    refunded_since = case.facts.refunded_amount(since=returned) if returned else None
    if case.reason == "return_not_refunded" and refunded_since == 0:
        return Outcome(RETURN_NOT_REFUNDED, "granted", "seller")
    return None


DECISION_RULES: Final[tuple[Callable[[Case], Outcome | None], ...]] = (
    signed_proof_of_delivery,
    shipping_protection,
    no_valid_tracking_or_unsigned_above_threshold,
    refused_or_undeliverable_and_returning,
    return_delivered_and_not_refunded,
)
"""The decision rules in the order they are tried."""


def decide_dispute(case: Case) -> Outcome:
    """The first decision rule that applies, or a reviewer's queue when none does (naming the
    discrepancies when the seller's evidence did not hold)."""
    for rule in DECISION_RULES:
        outcome = rule(case)
        if outcome is not None:
            return outcome
    if case.discrepancies:
        return Outcome(EVIDENCE_NOT_CORROBORATED, "under_review", discrepancies=case.discrepancies)
    return Outcome(NEEDS_REVIEW, "under_review")
