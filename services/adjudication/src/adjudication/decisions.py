"""The decision rules, applied in order when a seller disputes a claim.

Each rule is a function named for the condition it checks; :func:`decide_dispute` tries them in
the order PRODUCT.md gives and returns the first that applies, naming it. Anything no rule
settles goes to a reviewer (``under_review``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from adjudication.facts import OrderFacts
from adjudication.policy import Policy
from contracts.claims import (
    ClaimReason,
    Evidence,
    PlatformLabel,
    ProofOfDelivery,
    ShippedOnTime,
    TrackingEvidence,
)

SIGNED_PROOF_OF_DELIVERY: Final = "decision.signed_proof_of_delivery"
SHIPPING_PROTECTION: Final = "decision.shipping_protection"
NO_VALID_TRACKING: Final = "decision.no_valid_tracking"
RETURNED_TO_SELLER: Final = "decision.returned_to_seller"
RETURN_NOT_REFUNDED: Final = "decision.return_delivered_not_refunded"
NEEDS_REVIEW: Final = "decision.needs_review"
SILENT_SELLER_PAYS: Final = "decision.silent_seller_pays"
SELLER_ACCEPTED: Final = "decision.seller_accepted"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a decision rule decided: a grant with its payer and ODR impact, or a review."""

    rule: str
    kind: Literal["granted", "under_review"]
    funded_by: Literal["platform", "seller", "none"] = "none"
    counts_toward_odr: bool = True


@dataclass(frozen=True, slots=True)
class Case:
    """Everything a decision rule may look at."""

    reason: ClaimReason
    evidence: Sequence[Evidence]
    facts: OrderFacts
    policy: Policy

    def above_signature_threshold(self) -> bool:
        assert self.facts.placed is not None  # noqa: S101  # decisions follow admission
        return self.facts.placed.total.amount > self.policy.signature_threshold

    def proofs_of_delivery(self) -> list[ProofOfDelivery]:
        """The seller's proofs, and the carrier's own delivery scans from the order facts."""
        proofs = [item for item in self.evidence if isinstance(item, ProofOfDelivery)]
        for delivery in self.facts.deliveries.values():
            if delivery.tracking_id:
                proofs.append(
                    ProofOfDelivery(
                        carrier=delivery.carrier,
                        tracking_id=delivery.tracking_id,
                        delivered_at=delivery.delivered_at,
                        to_buyer_address=delivery.to_buyer_address,
                        signature_obtained=delivery.signature_obtained,
                        id_checked=delivery.id_checked,
                    )
                )
        return proofs


def signed_proof_of_delivery(case: Case) -> Outcome | None:
    """Not received, but the carrier delivered to the buyer's address against a signature (and
    an ID check above the threshold): the buyer is refunded by the platform, the seller did
    everything right."""
    if case.reason != "not_received":
        return None
    for proof in case.proofs_of_delivery():
        id_ok = proof.id_checked or not case.above_signature_threshold()
        if proof.to_buyer_address and proof.signature_obtained and id_ok:
            return Outcome(SIGNED_PROOF_OF_DELIVERY, "granted", "platform", counts_toward_odr=False)
    return None


def shipping_protection(case: Case) -> Outcome | None:
    """Not received, label bought through the platform, shipped on time, valid carrier scans."""
    if case.reason != "not_received":
        return None
    label = any(isinstance(item, PlatformLabel) for item in case.evidence) or any(
        shipment.label_bought_through_platform for shipment in case.facts.shipments.values()
    )
    on_time = any(
        isinstance(item, ShippedOnTime) and item.shipped_at <= item.ship_by
        for item in case.evidence
    )
    placed = case.facts.placed
    if placed is not None and not on_time:
        on_time = any(s.shipped_at <= placed.ship_by for s in case.facts.shipments.values())
    scans = any(isinstance(item, TrackingEvidence) for item in case.evidence) or any(
        shipment.tracking_id for shipment in case.facts.shipments.values()
    )
    if label and on_time and scans:
        return Outcome(SHIPPING_PROTECTION, "granted", "platform", counts_toward_odr=False)
    return None


def no_valid_tracking_or_unsigned_above_threshold(case: Case) -> Outcome | None:
    """Not received, and no valid tracking, or above the signature threshold without a
    signature: the seller pays."""
    if case.reason != "not_received":
        return None
    tracked = [proof for proof in case.proofs_of_delivery() if proof.tracking_id]
    tracked_shipments = [s for s in case.facts.shipments.values() if s.tracking_id]
    has_tracking = bool(tracked or tracked_shipments) or any(
        isinstance(item, TrackingEvidence) for item in case.evidence
    )
    unsigned_above = case.above_signature_threshold() and not any(
        proof.signature_obtained for proof in tracked
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
    """The first decision rule that applies, or a reviewer's queue when none does."""
    for rule in DECISION_RULES:
        outcome = rule(case)
        if outcome is not None:
            return outcome
    return Outcome(NEEDS_REVIEW, "under_review")
