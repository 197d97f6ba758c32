"""Claim commands (``claims.commands.v1``, from intake) and claim events (``claims.events.v1``,
from adjudication), both keyed by order id.

A command says what an actor asks for; adjudication decides what it does. Every claim event
carries the claim's whole state after the change (:class:`ClaimState`), so a consumer such as
metrics never needs to replay a claim's history to know whether it counts toward the ODR, and
``ClaimState.version`` lets it ignore a stale event.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, Strict, StrictBool, model_validator

from contracts.base import (
    SCHEMA_VERSION_1,
    Contract,
    Identifier,
    LanguageTag,
    Money,
    PositiveMoney,
    RuleId,
    ShortText,
    Timestamp,
)
from contracts.envelope import Envelope, Payload
from contracts.orders import Carrier, TrackingId

# Declared beside ContactTopic, which extends it; re-exported as part of this module's contract.
from contracts.orders import ClaimReason as ClaimReason  # noqa: PLC0414
from contracts.policy import PolicyVersion

ClaimStatus = Literal["filed", "action_required", "under_review", "closed", "appealed"]
Resolution = Literal["granted", "denied", "withdrawn", "refunded_by_seller", "replaced"]
FundedBy = Literal["platform", "seller", "none"]
FiledBy = Literal["buyer", "agent", "platform"]
ActorRole = Literal["buyer", "seller", "agent", "reviewer", "service", "platform"]

DenialReason = Literal[
    "not_covered",  # platform-fulfilled or platform-sold order
    "excluded_item",  # digital item or gift card
    "chargeback_already_filed",
    "contact_seller_first",
    "filed_too_early",
    "filed_too_late",
    "claim_already_open",
    "amount_over_order_total",
    "amount_over_cap",
    "currency_mismatch",
    "unknown_order",
    "reviewer_denied",
    "appeal_window_closed",
    "already_refunded",
]
"""Why a claim was denied, machine-readable; the buyer's sentence comes with it."""

RejectionReason = Literal[
    "not_your_claim",
    "role_not_allowed",
    "claim_not_found",
    "action_not_available",
    "deadline_passed",
    "refund_currency_mismatch",
    "replacement_estimate_out_of_bounds",
    "event_time_out_of_bounds",
]
"""Why a command changed nothing (it was not a decision on the claim)."""


class Actor(Contract):
    """Who sent a command, as authenticated by intake."""

    role: ActorRole
    subject: Identifier = Field(description="The buyer, seller, agent or reviewer id.")


# --- commands ------------------------------------------------------------------------------


class ClaimCommand(Payload):
    """Fields every claim command carries."""

    claim_id: Identifier
    order_id: Identifier
    actor: Actor


class SellerContact(Contract):
    """The buyer's evidence of having contacted the seller first."""

    contact_id: Identifier | None = None
    contacted_at: Timestamp


class FileClaim(ClaimCommand):
    type: Literal["claim.file"] = "claim.file"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    buyer_id: Identifier
    reason: ClaimReason
    amount: PositiveMoney
    description: ShortText
    filed_by: FiledBy
    contact: SellerContact | None = None
    language: LanguageTag | None = None


class WithdrawClaim(ClaimCommand):
    type: Literal["claim.withdraw"] = "claim.withdraw"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    note: ShortText | None = None


class ProofOfDelivery(Contract):
    kind: Literal["proof_of_delivery"] = "proof_of_delivery"
    carrier: Carrier
    tracking_id: TrackingId
    delivered_at: Timestamp
    to_buyer_address: StrictBool = True
    signature_obtained: StrictBool = False
    id_checked: StrictBool = False


class TrackingEvidence(Contract):
    kind: Literal["tracking"] = "tracking"
    carrier: Carrier
    tracking_id: TrackingId
    shipped_at: Timestamp


class PlatformLabel(Contract):
    kind: Literal["platform_label"] = "platform_label"
    label_id: Identifier
    bought_at: Timestamp


class ShippedOnTime(Contract):
    kind: Literal["shipped_on_time"] = "shipped_on_time"
    shipped_at: Timestamp
    ship_by: Timestamp


class ReturnLabel(Contract):
    kind: Literal["return_label"] = "return_label"
    return_address: ShortText
    carrier: Carrier | None = None
    tracking_id: TrackingId | None = None


class MessageEvidence(Contract):
    kind: Literal["message"] = "message"
    sent_at: Timestamp
    text: ShortText


Evidence = Annotated[
    ProofOfDelivery
    | TrackingEvidence
    | PlatformLabel
    | ShippedOnTime
    | ReturnLabel
    | MessageEvidence,
    Field(discriminator="kind"),
]


class RefundResponse(Contract):
    action: Literal["refund"] = "refund"
    amount: PositiveMoney


class ReplacementResponse(Contract):
    action: Literal["replacement_sent"] = "replacement_sent"
    carrier: Carrier
    tracking_id: TrackingId
    estimated_delivery: Timestamp


class AcceptResponse(Contract):
    action: Literal["accept"] = "accept"


class DisputeResponse(Contract):
    action: Literal["dispute"] = "dispute"
    evidence: Annotated[tuple[Evidence, ...], Field(min_length=1, max_length=50)]
    statement: ShortText | None = None


SellerResponse = Annotated[
    RefundResponse | ReplacementResponse | AcceptResponse | DisputeResponse,
    Field(discriminator="action"),
]


class RespondToClaim(ClaimCommand):
    type: Literal["claim.respond"] = "claim.respond"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    response: SellerResponse


class ReviewDecision(Contract):
    """A reviewer's decision on a claim under review."""

    kind: Literal["review"] = "review"
    outcome: Literal["granted", "denied"]
    funded_by: Literal["platform", "seller"] | None = None
    denial_reason: DenialReason | None = None
    note: ShortText | None = None

    @model_validator(mode="after")
    def _funding_matches_outcome(self) -> ReviewDecision:
        if self.outcome == "granted" and self.funded_by is None:
            raise ValueError("funded_by is required when the claim is granted")
        if self.outcome == "denied" and self.funded_by is not None:
            raise ValueError("funded_by must be empty when the claim is denied")
        if self.outcome == "denied" and self.denial_reason is None:
            raise ValueError("denial_reason is required when the claim is denied")
        return self


class AppealRuling(Contract):
    """A reviewer's ruling on an appeal. A reversal may move the money, the ODR impact, or both."""

    kind: Literal["appeal"] = "appeal"
    appeal_id: Identifier
    outcome: Literal["upheld", "reversed"]
    funded_by: FundedBy | None = Field(
        default=None, description="Who pays after a reversal; empty keeps the current payer."
    )
    counts_toward_odr: StrictBool | None = Field(
        default=None, description="ODR impact after a reversal; empty lets the rules derive it."
    )
    note: ShortText | None = None

    @model_validator(mode="after")
    def _upheld_changes_nothing(self) -> AppealRuling:
        if self.outcome == "upheld" and (
            self.funded_by is not None or self.counts_toward_odr is not None
        ):
            raise ValueError("an upheld appeal changes neither funded_by nor counts_toward_odr")
        return self


class DecideClaim(ClaimCommand):
    type: Literal["claim.decide"] = "claim.decide"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    decision: Annotated[ReviewDecision | AppealRuling, Field(discriminator="kind")]


class AppealClaim(ClaimCommand):
    type: Literal["claim.appeal"] = "claim.appeal"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    appeal_id: Identifier
    statement: ShortText
    evidence: Annotated[tuple[Evidence, ...], Field(max_length=50)] = ()


ClaimCommandMessage = Annotated[
    FileClaim | WithdrawClaim | RespondToClaim | DecideClaim | AppealClaim,
    Field(discriminator="type"),
]
"""Any command on ``claims.commands.v1``, told apart by its ``type``."""

ClaimCommandEnvelope = Envelope[ClaimCommandMessage]


# --- events --------------------------------------------------------------------------------


class ClaimDeadlines(Contract):
    """Every deadline running on a claim; empty when none runs. An open claim always has one."""

    respond_by: Timestamp | None = Field(default=None, description="Seller's response window.")
    replacement_due_by: Timestamp | None = None
    appeal_by: Timestamp | None = None
    hold_until: Timestamp | None = Field(
        default=None, description="A claim waiting for facts (its order) is decided by then."
    )
    review_by: Timestamp | None = Field(
        default=None,
        description="A claim under review (or an appeal) not decided by then is settled by rule.",
    )


class ClaimRefund(Contract):
    """A refund counted toward a claim: how much, who paid it, and where it was seen."""

    refund_id: Identifier = Field(
        description="The order system's refund id; for a seller's refund response, the id "
        "payments uses when it carries the refund out (the same refund is counted once)."
    )
    amount: PositiveMoney
    refunded_by: Literal["seller", "platform"]
    refunded_at: Timestamp
    source: Literal["seller_response", "order_fact"]


class Discrepancy(Contract):
    """Where the seller's evidence is contradicted, or not backed, by the order facts."""

    rule: RuleId = Field(description="The corroboration rule the evidence failed.")
    evidence_index: Annotated[int, Strict(), Field(ge=0)] | None = Field(
        default=None, description="Which item of the dispute's evidence (0-based)."
    )
    message: ShortText


class ClaimState(Contract):
    """A claim's four separate facts and its deadlines, as they stand after an event."""

    claim_id: Identifier
    order_id: Identifier
    seller_id: Identifier | None = Field(
        default=None, description="Empty only while the order is unknown."
    )
    buyer_id: Identifier
    reason: ClaimReason
    amount: PositiveMoney
    filed_by: FiledBy
    filed_at: Timestamp
    status: ClaimStatus
    resolution: Resolution | None = None
    funded_by: FundedBy = "none"
    counts_toward_odr: StrictBool
    deadlines: ClaimDeadlines = ClaimDeadlines()
    refunds: tuple[ClaimRefund, ...] = Field(
        default=(),
        description="Refunds counted toward the amount claimed, in its currency. What is still "
        "owed is amount minus their sum; the claim closes refunded_by_seller once they reach it.",
    )
    version: Annotated[int, Strict(), Field(ge=1)] = Field(
        description="Increases by one with every event of this claim."
    )

    @model_validator(mode="after")
    def _refunds_in_claim_currency(self) -> ClaimState:
        if any(refund.amount.currency != self.amount.currency for refund in self.refunds):
            raise ValueError("every refund counted toward a claim is in the claim's currency")
        return self

    @property
    def refunded(self) -> Money:
        """The sum of the refunds counted toward the claim."""
        total = sum((refund.amount.amount for refund in self.refunds), Decimal(0))
        return Money(amount=total, currency=self.amount.currency)

    @property
    def owed(self) -> Money:
        """What the claim still asks for once its refunds are counted (never below zero)."""
        left = max(self.amount.amount - self.refunded.amount, Decimal(0))
        return Money(amount=left, currency=self.amount.currency)


class ClaimEvent(Payload):
    """Fields every claim event carries."""

    claim_id: Identifier
    order_id: Identifier
    claim: ClaimState
    rules: tuple[RuleId, ...] = Field(
        default=(), description="Ids of the rules that made this change, in the order applied."
    )
    policy: PolicyVersion | None = Field(
        default=None,
        description="The policy document the rules applied: its name and content digest.",
    )

    @model_validator(mode="after")
    def _ids_match_state(self) -> ClaimEvent:
        if (self.claim_id, self.order_id) != (self.claim.claim_id, self.claim.order_id):
            raise ValueError("claim_id and order_id must match the claim state")
        return self


class BuyerMessage(Contract):
    """A sentence a buyer can read, in their language."""

    language: LanguageTag
    text: ShortText


class ClaimFiled(ClaimEvent):
    type: Literal["claim.filed"] = "claim.filed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    description: ShortText


class ClaimDenied(ClaimEvent):
    """The claim failed admissibility at filing (or its order never arrived)."""

    type: Literal["claim.denied"] = "claim.denied"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    reason: DenialReason
    message: BuyerMessage


class ClaimActionRequired(ClaimEvent):
    type: Literal["claim.action_required"] = "claim.action_required"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    respond_by: Timestamp


class ClaimResponded(ClaimEvent):
    type: Literal["claim.responded"] = "claim.responded"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    response: SellerResponse


class ClaimUnderReview(ClaimEvent):
    """A reviewer must decide; ``discrepancies`` name where the seller's evidence fails."""

    type: Literal["claim.under_review"] = "claim.under_review"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    discrepancies: tuple[Discrepancy, ...] = ()


class ClaimDecided(ClaimEvent):
    type: Literal["claim.decided"] = "claim.decided"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    outcome: Literal["granted", "denied"]
    decided_by: Literal["rules", "reviewer"]
    denial_reason: DenialReason | None = None
    message: BuyerMessage | None = None


class ClaimClosed(ClaimEvent):
    type: Literal["claim.closed"] = "claim.closed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    resolution: Resolution


class ClaimRefundRecorded(ClaimEvent):
    """A refund seen on the order that does not yet reach the amount claimed: the claim stays
    open for what is still owed."""

    type: Literal["claim.refund_recorded"] = "claim.refund_recorded"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    refund: ClaimRefund


class ClaimAppealed(ClaimEvent):
    type: Literal["claim.appealed"] = "claim.appealed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    appeal_id: Identifier
    appellant: Actor


class ClaimAppealDecided(ClaimEvent):
    type: Literal["claim.appeal_decided"] = "claim.appeal_decided"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    appeal_id: Identifier
    outcome: Literal["upheld", "reversed"]


class ClaimCommandRejected(Payload):
    """A command that changed nothing (wrong actor, unknown claim, action not available now).

    Not a decision on the claim: the claim's state is untouched, so none is carried.
    """

    type: Literal["claim.command_rejected"] = "claim.command_rejected"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    claim_id: Identifier
    order_id: Identifier
    command_id: Identifier = Field(description="The envelope id of the rejected command.")
    command_type: str
    actor: Actor
    reason: RejectionReason
    detail: ShortText


ClaimEventMessage = Annotated[
    ClaimFiled
    | ClaimDenied
    | ClaimActionRequired
    | ClaimResponded
    | ClaimUnderReview
    | ClaimDecided
    | ClaimClosed
    | ClaimRefundRecorded
    | ClaimAppealed
    | ClaimAppealDecided
    | ClaimCommandRejected,
    Field(discriminator="type"),
]
"""Any event on ``claims.events.v1``, told apart by its ``type``."""

ClaimEventEnvelope = Envelope[ClaimEventMessage]
