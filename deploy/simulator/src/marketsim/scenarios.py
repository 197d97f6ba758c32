"""The claim stories the simulator tells, and what the policy says each must end in.

Each :class:`Scenario` is a way an order goes wrong. :mod:`marketsim.world` builds the order's
facts so that the story holds (a signed delivery scan, a parcel shipped without tracking, a
seller who never answers...), and :class:`Expected` is the outcome PRODUCT.md's rules give for
that story: worked out here from how the case was built, never by asking the adjudication code.
Rule ids are the platform's public vocabulary (they travel in every claim event).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal

from contracts.claims import RejectionReason
from contracts.orders import OrderFact
from contracts.policy import load_policy

POLICY: Final = load_policy()
"""The policy the stories are told under: the shipped document, the platform's default (its
numbers, never the adjudication code, say what each story must end in)."""
REVIEW_WINDOW: Final = timedelta(days=POLICY.guarantee.review_window_days)
"""A reviewer decides a claim under review, or rules on an appeal, within this (issue #10);
past it the claim is settled by rule (granted platform-funded, the appeal upheld). The stories'
reviewers act well inside it, except where a story is built to wait in the queue."""


class Scenario(StrEnum):
    SIGNED_PROOF_OF_DELIVERY = "signed_proof_of_delivery"
    SHIPPING_PROTECTION = "shipping_protection"
    NO_VALID_TRACKING = "no_valid_tracking"
    UNSIGNED_ABOVE_THRESHOLD = "unsigned_above_threshold"
    RETURNED_TO_SELLER = "returned_to_seller"
    RETURN_NOT_REFUNDED = "return_not_refunded"
    SILENT_SELLER = "silent_seller"
    SELLER_ACCEPTS = "seller_accepts"
    REFUNDS_WHEN_CLAIMED = "refunds_when_claimed"
    REFUND_SEEN_ON_ORDER = "refund_seen_on_order"
    REPLACEMENT_DELIVERED = "replacement_delivered"
    REVIEWED = "reviewed"
    WITHDRAWN = "withdrawn"
    NOT_COVERED = "not_covered"
    FILED_TOO_EARLY = "filed_too_early"
    CONTACT_SELLER_FIRST = "contact_seller_first"
    CHARGEBACK_FIRST = "chargeback_first"
    OVER_ORDER_TOTAL = "over_order_total"
    AWAITING_SELLER = "awaiting_seller"
    """Filed in the last days: the seller's 72 hours are still running when the run ends."""
    AWAITING_REVIEWER = "awaiting_reviewer"
    """Disputed in the last days: still in the reviewer queue when the run ends."""
    # The dishonest seller's stories (issue #10: trust only what can be verified).
    INVENTED_TRACKING = "invented_tracking"
    """A signed proof of delivery under a tracking id no carrier reported for the order."""
    INVENTED_SIGNATURE = "invented_signature"
    """A proof of delivery claiming a signature the carrier's delivery does not have."""
    PARTIAL_REFUND_THEN_SILENT = "partial_refund_then_silent"
    """The seller refunds part of the amount claimed, then says nothing more."""
    PARTIAL_REFUND_THEN_REST = "partial_refund_then_rest"
    """The seller refunds part of the amount claimed, then the rest a day later."""
    FAR_OUT_REPLACEMENT = "far_out_replacement"
    """The seller promises a replacement three months out, which the platform refuses."""
    ANSWERS_ON_THE_THIRD_DAY = "answers_on_the_third_day"
    """A signed proof of delivery, sent on the third day: inside the 72 hours, past 48 (what a
    shorter window would change, issue #15)."""


Resolution = Literal["granted", "denied", "withdrawn", "refunded_by_seller", "replaced"]
Status = Literal["closed", "action_required", "under_review"]
FundedBy = Literal["platform", "seller", "none"]


@dataclass(frozen=True, slots=True)
class Expected:
    """How the claim must stand once everything has played out (or when the run ends)."""

    resolution: Resolution | None
    funded_by: FundedBy
    counts_toward_odr: bool
    rule: str
    """A rule id the claim's events must name: the one that settled it."""
    filed_by: Literal["buyer", "platform"] = "buyer"
    denial_reason: str | None = None
    status: Status = "closed"
    along: tuple[str, ...] = ()
    """Other rule ids the claim's events must name on the way: the discrepancy a dispute went
    to a reviewer with, the partial refund the seller made before going silent..."""

    @property
    def rules(self) -> tuple[str, ...]:
        """Every rule id the claim's events must name, the settling one first."""
        return (self.rule, *self.along)

    def label(self) -> str:
        odr = " (ODR)" if self.counts_toward_odr else ""
        return f"{self.status}:{self.resolution}/{self.funded_by}{odr}"


def granted(
    funded_by: FundedBy, rule: str, *, counts: bool | None = None, along: tuple[str, ...] = ()
) -> Expected:
    """A grant; it counts toward the ODR when the seller pays, unless said otherwise."""
    counts = funded_by == "seller" if counts is None else counts
    return Expected("granted", funded_by, counts, rule, along=along)


def denied(reason: str, rule: str) -> Expected:
    return Expected("denied", "none", counts_toward_odr=False, rule=rule, denial_reason=reason)


def still_open(status: Status, rule: str) -> Expected:
    """Undecided when the run ends: pending claims count toward the ODR (PRODUCT.md's default)."""
    return Expected(None, "none", counts_toward_odr=True, rule=rule, status=status)


Party = Literal["buyer", "seller", "reviewer"]
Action = Literal["response", "withdrawal", "decision", "appeals"]


@dataclass(frozen=True, slots=True)
class Call:
    """A call on intake's HTTP API, made on behalf of ``party`` at ``after`` past its trigger."""

    party: Party
    action: Action
    body: dict[str, Any]
    after: timedelta
    decides: bool = True
    """Whether the platform decides the claim on this move. False: it only records it and the
    claim waits (a replacement in transit, a partial refund), or it refuses it."""
    refused: RejectionReason | None = None
    """The platform must refuse this move, for this reason (``claim.command_rejected``): a
    seller trying what the policy does not allow. Part of the story, not a failed move."""


@dataclass(frozen=True, slots=True)
class Fact:
    """An order fact the simulated order system publishes ``after`` past its trigger.
    ``build`` receives the moment it happens and returns the payload."""

    after: timedelta
    build: Callable[[datetime], OrderFact]


Reaction = Call | Fact


@dataclass(frozen=True, slots=True)
class ReviewPlan:
    """What the reviewer decides on a claim under review, and what any appeal then meets."""

    outcome: Literal["granted", "denied"]
    funded_by: Literal["platform", "seller"] | None = None
    appeal: Literal["upheld", "reversed"] | None = None


@dataclass(frozen=True, slots=True)
class Filing:
    """The buyer's claim, filed through intake at ``at``."""

    at: datetime
    body: dict[str, Any]


@dataclass(slots=True)
class Case:
    """One order's claim story: what is filed, how each party reacts, and how it must end."""

    order_id: str
    seller_id: str
    buyer_id: str
    scenario: Scenario
    expected: Expected
    filing: Filing | None
    """None when the platform files on its own (the seller never answered the buyer)."""
    on_action_required: tuple[Reaction, ...] = ()
    review: ReviewPlan | None = None
    seller_appeals: Literal["upheld", "reversed"] | None = None
    """The seller appeals the seller-funded grant; the reviewer then rules this way."""
    claim_id: str | None = None
    observed: dict[str, Any] = field(default_factory=dict)

    def seller_silence(self, end: datetime) -> timedelta | None:
        """How long the seller leaves the claim unanswered once asked: until the first move
        of theirs the platform takes (a refused one is no answer; an order fact, such as a
        refund, is), or until ``end`` while the claim still waits for them. None when the
        window never matters: the seller never answers a claim that silence then decides,
        or nobody asks them."""
        answers = [
            r.after
            for r in self.on_action_required
            if isinstance(r, Fact) or (r.party == "seller" and r.refused is None)
        ]
        if answers:
            return min(answers)
        if self.expected.status == "action_required" and self.filing is not None:
            return end - self.filing.at
        return None

    @property
    def refusals(self) -> tuple[RejectionReason, ...]:
        """The reasons the platform must refuse this story's moves with, one per refused move."""
        return tuple(
            r.refused for r in self.on_action_required if isinstance(r, Call) and r.refused
        )
