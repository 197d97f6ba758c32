"""A claim's life, as a pure state machine: (claim, input, now, policy) -> (claim', events).

Inputs are commands from intake, facts from ``orders.v1`` and deadlines coming due. Every
output event carries the claim's state after the change and the ids of the rules that made it.
A command that may not act (another seller, a buyer deciding, a deadline passed) changes
nothing and yields ``claim.command_rejected`` with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from adjudication import decisions, eligibility
from adjudication.facts import OrderFacts
from adjudication.messages import buyer_message_from
from adjudication.policy import Policy
from contracts.base import PositiveMoney
from contracts.claims import (
    AcceptResponse,
    Actor,
    AppealClaim,
    AppealRuling,
    ClaimActionRequired,
    ClaimAppealDecided,
    ClaimAppealed,
    ClaimClosed,
    ClaimCommand,
    ClaimCommandRejected,
    ClaimDeadlines,
    ClaimDecided,
    ClaimDenied,
    ClaimEvent,
    ClaimFiled,
    ClaimResponded,
    ClaimState,
    ClaimUnderReview,
    DecideClaim,
    DenialReason,
    DisputeResponse,
    FileClaim,
    FundedBy,
    RefundResponse,
    RejectionReason,
    ReplacementResponse,
    RespondToClaim,
    ReviewDecision,
    SellerContact,
    WithdrawClaim,
)
from contracts.envelope import Payload
from contracts.orders import OrderDelivered, OrderFact, OrderRefunded

HELD_FOR_ORDER: Final = "scope.order_known.held"
RELEASED: Final = "scope.order_known.arrived"
HOLD_EXPIRED: Final = "scope.order_known.timeout"
RESPONSE_WINDOW: Final = "response.window_opened"
REFUNDED_BY_SELLER: Final = "response.refunded_by_seller"
REFUND_SEEN_ON_ORDER: Final = "response.refund_seen_on_order"
REPLACEMENT_SENT: Final = "response.replacement_sent"
REPLACEMENT_DELIVERED: Final = "response.replacement_delivered"
REPLACEMENT_OVERDUE: Final = "response.replacement_not_delivered_in_time"
WITHDRAWN: Final = "buyer.withdrew"
REVIEWER_DECIDED: Final = "review.decided_by_reviewer"
APPEAL_FILED: Final = "appeal.filed_within_window"
APPEAL_UPHELD: Final = "appeal.upheld"
APPEAL_REVERSED: Final = "appeal.reversed"
AUTOMATIC_FILING: Final = "filing.automatic_after_silent_contact"
PLATFORM_NAMESPACE: Final = uuid.UUID("7c0e4b1a-2f7e-4d0b-8f34-9e1d6a3b5c20")

OPEN_STATUSES: Final = frozenset({"filed", "action_required", "under_review", "appealed"})
E = TypeVar("E", bound=ClaimEvent)
DeadlineKind = Literal["respond_by", "replacement_due_by", "hold_until"]
"""Deadlines on a claim. (The platform's automatic filing is an order deadline: see handlers.)"""


class Claim(BaseModel):
    """Adjudication's own record of a claim: the public state plus what the rules need."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: ClaimState
    filing: FileClaim
    marketplace_id: str | None = None
    buyer_language: str | None = None  # from the order, when the filing did not say
    replacement: ReplacementResponse | None = None
    replacement_sent_at: datetime | None = None
    decided_at: datetime | None = None
    appeal_id: str | None = None
    appellant: Literal["buyer", "seller"] | None = None

    @property
    def is_open(self) -> bool:
        """Open for the "one open claim per order" rule: not yet closed (appeals included)."""
        return self.state.status in OPEN_STATUSES

    @property
    def held(self) -> bool:
        return self.state.status == "filed" and self.state.deadlines.hold_until is not None


@dataclass(frozen=True, slots=True)
class Transition:
    """The claim after an input (None when the input touched no claim) and what to publish."""

    claim: Claim | None
    events: tuple[Payload, ...] = field(default_factory=tuple)


# --- helpers -------------------------------------------------------------------------------


def _counts(resolution: str | None, funded_by: FundedBy) -> bool:
    """Whether a claim counts toward the seller's ODR, derived by rule (PRODUCT.md, ODR)."""
    if resolution is None:
        return True  # pending: metrics decides, by its own setting, whether pending counts
    if resolution in ("refunded_by_seller", "replaced"):
        return True
    return resolution == "granted" and funded_by == "seller"


def _evolve(claim: Claim, **state_changes: Any) -> ClaimState:
    return claim.state.model_copy(update={**state_changes, "version": claim.state.version + 1})


def _reject(
    command: ClaimCommand, command_id: str, reason: RejectionReason, detail: str
) -> Transition:
    return Transition(
        None,
        (
            ClaimCommandRejected(
                claim_id=command.claim_id,
                order_id=command.order_id,
                command_id=command_id,
                command_type=command.type,
                actor=command.actor,
                reason=reason,
                detail=detail,
            ),
        ),
    )


def _denial_message(
    reason: DenialReason, claim: Claim, policy: Policy, params: dict[str, Any]
) -> Any:
    # Dates read in the marketplace's own time zone: "from March 12" means its local March 12.
    zone = ZoneInfo(policy.calendar_for(claim.marketplace_id).timezone)
    local = {k: v.astimezone(zone) if isinstance(v, datetime) else v for k, v in params.items()}
    # The buyer's language when they gave it, else the marketplace's.
    return buyer_message_from(
        reason,
        claim.filing.language or claim.buyer_language,
        local,
        default_language=policy.language_for(claim.marketplace_id),
    )


def _close(
    claim: Claim,
    now: datetime,
    rules: tuple[str, ...],
    *,
    resolution: str,
    funded_by: FundedBy,
    counts: bool | None = None,
    appeal_by: datetime | None = None,
    **claim_changes: Any,
) -> tuple[Claim, ClaimState]:
    state = _evolve(
        claim,
        status="closed",
        resolution=resolution,
        funded_by=funded_by,
        counts_toward_odr=_counts(resolution, funded_by) if counts is None else counts,
        deadlines=ClaimDeadlines(appeal_by=appeal_by),
    )
    return claim.model_copy(update={"state": state, **claim_changes}), state


def _grant(
    claim: Claim,
    now: datetime,
    policy: Policy,
    outcome: decisions.Outcome,
    decided_by: Literal["rules", "reviewer"],
) -> Transition:
    """A granted claim: decided, then closed; a seller-funded grant may be appealed."""
    appeal_by = now + policy.appeal_window if outcome.funded_by == "seller" else None
    rules = (outcome.rule,)
    decided, state = _close(
        claim,
        now,
        rules,
        resolution="granted",
        funded_by=outcome.funded_by,
        counts=outcome.counts_toward_odr,
        appeal_by=appeal_by,
        decided_at=now,
        replacement=None,
    )
    closed = decided.model_copy(update={"state": _evolve(decided)})
    return Transition(
        closed,
        (
            _event(ClaimDecided, state, rules=rules, outcome="granted", decided_by=decided_by),
            _event(ClaimClosed, closed.state, rules=rules, resolution="granted"),
        ),
    )


def _event(kind: type[E], state: ClaimState, **fields: Any) -> E:
    """An event of ``kind`` about the claim in ``state``."""
    return kind(claim_id=state.claim_id, order_id=state.order_id, claim=state, **fields)


# --- filing --------------------------------------------------------------------------------


def file_claim(
    command: FileClaim,
    *,
    facts: OrderFacts | None,
    open_claim: Claim | None,
    now: datetime,
    policy: Policy,
    filed_rules: tuple[str, ...] = (),
) -> Transition:
    """A new claim: held while its order is unknown, else admitted to the seller or denied."""
    state = ClaimState(
        claim_id=command.claim_id,
        order_id=command.order_id,
        seller_id=facts.seller_id if facts else None,
        buyer_id=command.buyer_id,
        reason=command.reason,
        amount=command.amount,
        filed_by=command.filed_by,
        filed_at=now,
        status="filed",
        counts_toward_odr=True,
        version=1,
    )
    placed = facts.placed if facts else None
    claim = Claim(
        state=state,
        filing=command,
        marketplace_id=placed.marketplace_id if placed else None,
        buyer_language=placed.buyer_language if placed else None,
    )
    if facts is None or not facts.known:
        hold_until = now + policy.unknown_order_hold
        held = claim.model_copy(
            update={
                "state": state.model_copy(
                    update={"deadlines": ClaimDeadlines(hold_until=hold_until)}
                )
            }
        )
        return Transition(
            held,
            (
                _event(
                    ClaimFiled,
                    held.state,
                    rules=(HELD_FOR_ORDER,),
                    description=command.description,
                ),
            ),
        )
    filed = _event(ClaimFiled, state, description=command.description, rules=filed_rules)
    admission = _admit(claim, facts, open_claim, now, policy)
    return Transition(admission.claim, (filed, *admission.events))


def _admit(
    claim: Claim, facts: OrderFacts, open_claim: Claim | None, now: datetime, policy: Policy
) -> Transition:
    verdict = eligibility.check_filing(
        claim.filing,
        facts,
        open_claim_id=open_claim.state.claim_id if open_claim else None,
        now=now,
        policy=policy,
    )
    if verdict.denial is not None:
        denied, state = _close(
            claim, now, verdict.rules, resolution="denied", funded_by="none", decided_at=now
        )
        message = _denial_message(verdict.denial, claim, policy, verdict.params)
        return Transition(
            denied,
            (
                _event(
                    ClaimDenied,
                    state,
                    rules=verdict.rules,
                    reason=verdict.denial,
                    message=message,
                ),
            ),
        )
    respond_by = now + policy.seller_response_window
    state = _evolve(
        claim,
        status="action_required",
        seller_id=facts.seller_id,
        deadlines=ClaimDeadlines(respond_by=respond_by),
    )
    admitted = claim.model_copy(update={"state": state})
    rules = (*verdict.rules, RESPONSE_WINDOW)
    return Transition(
        admitted,
        (_event(ClaimActionRequired, state, rules=rules, respond_by=respond_by),),
    )


def order_arrived(
    claim: Claim, facts: OrderFacts, *, open_claim: Claim | None, now: datetime, policy: Policy
) -> Transition:
    """A held claim's order is now known: apply the admissibility rules as of now."""
    if not claim.held or not facts.known:
        return Transition(None)
    assert facts.placed is not None  # noqa: S101  # facts.known
    released = claim.model_copy(
        update={
            "marketplace_id": facts.placed.marketplace_id,
            "buyer_language": facts.placed.buyer_language,
            "state": claim.state.model_copy(
                update={"seller_id": facts.seller_id, "deadlines": ClaimDeadlines()}
            ),
        }
    )
    return _admit(released, facts, open_claim, now, policy)


def hold_expired(claim: Claim, *, now: datetime, policy: Policy) -> Transition:
    """The order never arrived within the hold: deny with ``unknown_order``."""
    hold_until = claim.state.deadlines.hold_until
    if not claim.held or hold_until is None or now < hold_until:
        return Transition(None)
    rules = (HOLD_EXPIRED,)
    denied, state = _close(claim, now, rules, resolution="denied", funded_by="none", decided_at=now)
    message = _denial_message("unknown_order", claim, policy, {})
    return Transition(
        denied,
        (_event(ClaimDenied, state, rules=rules, reason="unknown_order", message=message),),
    )


def platform_claim_id(order_id: str, contact_id: str) -> str:
    """The id of the claim the platform files for a contact: the same on every replay."""
    return (
        "clm-p-"
        + str(uuid.uuid5(PLATFORM_NAMESPACE, f"{order_id}/{contact_id}")).replace("-", "")[:20]
    )


def automatic_filing(
    facts: OrderFacts,
    contact_id: str,
    *,
    claims: Sequence[Claim],
    now: datetime,
    policy: Policy,
) -> Transition:
    """The platform files for the buyer ("d'office") when the buyer reported a problem to the
    seller, the seller never answered within the contact window, and the claim would be
    admissible. Otherwise nothing happens: nobody asked, so nobody is told no. A claim on the
    order filed since the buyer wrote (open or decided) already answers that message."""
    contact = facts.contacts.get(contact_id)
    answered = contact is not None and any(
        claim.state.filed_at >= contact.contacted_at or claim.is_open for claim in claims
    )
    placed = facts.placed
    if (
        not policy.automatic_filing
        or contact is None
        or placed is None
        or contact.topic == "other"
        or contact_id in facts.replies
        or answered
        or placed.total.amount <= 0
    ):
        return Transition(None)
    amount = min(placed.total.amount, policy.claim_cap)
    command = FileClaim(
        claim_id=platform_claim_id(facts.order_id, contact_id),
        order_id=facts.order_id,
        actor=Actor(role="platform", subject="platform"),
        buyer_id=contact.buyer_id,
        reason=contact.topic,
        amount=PositiveMoney(amount=amount, currency=placed.total.currency),
        description="Filed by the platform: the seller did not answer the buyer's message.",
        filed_by="platform",
        contact=SellerContact(contact_id=contact_id, contacted_at=contact.contacted_at),
        language=placed.buyer_language,
    )
    verdict = eligibility.check_filing(command, facts, open_claim_id=None, now=now, policy=policy)
    if not verdict.admitted:
        return Transition(None)
    return file_claim(
        command,
        facts=facts,
        open_claim=None,
        now=now,
        policy=policy,
        filed_rules=(AUTOMATIC_FILING,),
    )


# --- commands on an existing claim ------------------------------------------------------------


def handle_command(
    command: ClaimCommand,
    *,
    command_id: str,
    claim: Claim | None,
    facts: OrderFacts | None,
    open_claim: Claim | None,
    now: datetime,
    policy: Policy,
) -> Transition:
    """Route a command to its rule set, after the checks every command shares."""
    if isinstance(command, FileClaim):
        if claim is not None:
            return _reject(
                command,
                command_id,
                "action_not_available",
                "a claim with this id was already filed",
            )
        return file_claim(command, facts=facts, open_claim=open_claim, now=now, policy=policy)
    if claim is None or claim.state.order_id != command.order_id:
        return _reject(command, command_id, "claim_not_found", "no such claim on this order")
    match command:
        case WithdrawClaim():
            return withdraw(claim, command, command_id, now)
        case RespondToClaim():
            return respond(claim, command, command_id, facts=facts, now=now, policy=policy)
        case DecideClaim():
            return decide(claim, command, command_id, now, policy)
        case AppealClaim():
            return appeal(claim, command, command_id, now, policy)
    return _reject(command, command_id, "action_not_available", f"unknown command {command.type}")


def _is_buyer_side(claim: Claim, command: ClaimCommand) -> bool:
    actor = command.actor
    return actor.role == "agent" or (
        actor.role == "buyer" and actor.subject == claim.state.buyer_id
    )


def _is_the_seller(claim: Claim, command: ClaimCommand) -> bool:
    return command.actor.role == "seller" and command.actor.subject == claim.state.seller_id


def withdraw(claim: Claim, command: WithdrawClaim, command_id: str, now: datetime) -> Transition:
    """The buyer may withdraw before a decision."""
    if not _is_buyer_side(claim, command):
        return _reject(command, command_id, "not_your_claim", "only the buyer may withdraw")
    if claim.state.status not in ("filed", "action_required", "under_review"):
        return _reject(command, command_id, "action_not_available", "the claim is already decided")
    rules = (WITHDRAWN,)
    closed, state = _close(claim, now, rules, resolution="withdrawn", funded_by="none")
    return Transition(closed, (_event(ClaimClosed, state, rules=rules, resolution="withdrawn"),))


def respond(
    claim: Claim,
    command: RespondToClaim,
    command_id: str,
    *,
    facts: OrderFacts | None,
    now: datetime,
    policy: Policy,
) -> Transition:
    """The seller refunds, sends a replacement, accepts, or disputes with evidence."""
    if not _is_the_seller(claim, command):
        return _reject(command, command_id, "not_your_claim", "only the order's seller responds")
    if claim.state.status != "action_required":
        return _reject(
            command,
            command_id,
            "action_not_available",
            f"the claim is {claim.state.status}, not awaiting the seller",
        )
    respond_by = claim.state.deadlines.respond_by
    if respond_by is not None and now > respond_by:
        return _reject(command, command_id, "deadline_passed", "the response window has closed")
    response = command.response
    responded_state = _evolve(claim, deadlines=claim.state.deadlines)
    responded = claim.model_copy(update={"state": responded_state})
    first = _event(ClaimResponded, responded_state, response=response)
    match response:
        case RefundResponse():
            rules = (REFUNDED_BY_SELLER,)
            closed, state = _close(
                responded, now, rules, resolution="refunded_by_seller", funded_by="seller"
            )
            return Transition(
                closed,
                (
                    first,
                    _event(ClaimClosed, state, rules=rules, resolution="refunded_by_seller"),
                ),
            )
        case AcceptResponse():
            outcome = decisions.Outcome(decisions.SELLER_ACCEPTED, "granted", "seller")
            granted = _grant(responded, now, policy, outcome, "rules")
            return Transition(granted.claim, (first, *granted.events))
        case ReplacementResponse():
            state = _evolve(
                responded, deadlines=ClaimDeadlines(replacement_due_by=response.estimated_delivery)
            )
            waiting = responded.model_copy(
                update={"state": state, "replacement": response, "replacement_sent_at": now}
            )
            first = _event(ClaimResponded, state, response=response, rules=(REPLACEMENT_SENT,))
            return Transition(waiting, (first,))
        case DisputeResponse():
            assert facts is not None  # noqa: S101  # an admitted claim's order is known
            case_ = decisions.Case(claim.state.reason, response.evidence, facts, policy)
            outcome = decisions.decide_dispute(case_)
            if outcome.kind == "granted":
                granted = _grant(responded, now, policy, outcome, "rules")
                return Transition(granted.claim, (first, *granted.events))
            review_state = _evolve(responded, status="under_review", deadlines=ClaimDeadlines())
            reviewing = responded.model_copy(update={"state": review_state})
            return Transition(
                reviewing,
                (first, _event(ClaimUnderReview, review_state, rules=(outcome.rule,))),
            )


def decide(
    claim: Claim, command: DecideClaim, command_id: str, now: datetime, policy: Policy
) -> Transition:
    """A reviewer decides a claim under review, or rules on an appeal."""
    if command.actor.role != "reviewer":
        return _reject(command, command_id, "role_not_allowed", "only reviewers decide")
    decision = command.decision
    if isinstance(decision, ReviewDecision):
        return _review(claim, command, command_id, decision=decision, now=now, policy=policy)
    return _rule_on_appeal(claim, command, command_id, decision, now)


def _review(
    claim: Claim,
    command: DecideClaim,
    command_id: str,
    *,
    decision: ReviewDecision,
    now: datetime,
    policy: Policy,
) -> Transition:
    if claim.state.status != "under_review":
        return _reject(command, command_id, "action_not_available", "the claim is not under review")
    if decision.outcome == "granted":
        assert decision.funded_by is not None  # noqa: S101  # the contract requires it
        outcome = decisions.Outcome(
            REVIEWER_DECIDED,
            "granted",
            decision.funded_by,
            counts_toward_odr=decision.funded_by == "seller",
        )
        return _grant(claim, now, policy, outcome, "reviewer")
    reason = decision.denial_reason or "reviewer_denied"
    rules = (REVIEWER_DECIDED,)
    denied, state = _close(
        claim,
        now,
        rules,
        resolution="denied",
        funded_by="none",
        appeal_by=now + policy.appeal_window,
        decided_at=now,
    )
    message = _denial_message(reason, claim, policy, {})
    closed = denied.model_copy(update={"state": _evolve(denied)})
    return Transition(
        closed,
        (
            _event(
                ClaimDecided,
                state,
                rules=rules,
                outcome="denied",
                decided_by="reviewer",
                denial_reason=reason,
                message=message,
            ),
            _event(ClaimClosed, closed.state, rules=rules, resolution="denied"),
        ),
    )


def appeal(
    claim: Claim, command: AppealClaim, command_id: str, now: datetime, policy: Policy
) -> Transition:
    """A seller appeals a seller-funded grant; a buyer appeals a denial; within the window."""
    state = claim.state
    seller_may = _is_the_seller(claim, command) and (
        state.resolution == "granted" and state.funded_by == "seller"
    )
    buyer_may = _is_buyer_side(claim, command) and state.resolution == "denied"
    if not (_is_the_seller(claim, command) or _is_buyer_side(claim, command)):
        return _reject(command, command_id, "not_your_claim", "only the buyer or the seller")
    if state.status != "closed" or not (seller_may or buyer_may):
        return _reject(
            command,
            command_id,
            "action_not_available",
            "only a seller-funded grant or a denial can be appealed",
        )
    appeal_by = state.deadlines.appeal_by
    if appeal_by is None or now > appeal_by:
        return _reject(command, command_id, "deadline_passed", "the appeal window has closed")
    appealed_state = _evolve(claim, status="appealed", deadlines=ClaimDeadlines())
    appellant: Literal["buyer", "seller"] = "seller" if seller_may else "buyer"
    appealed = claim.model_copy(
        update={"state": appealed_state, "appeal_id": command.appeal_id, "appellant": appellant}
    )
    return Transition(
        appealed,
        (
            _event(
                ClaimAppealed,
                appealed_state,
                rules=(APPEAL_FILED,),
                appeal_id=command.appeal_id,
                appellant=command.actor,
            ),
        ),
    )


def _rule_on_appeal(
    claim: Claim, command: DecideClaim, command_id: str, ruling: AppealRuling, now: datetime
) -> Transition:
    if claim.state.status != "appealed" or ruling.appeal_id != claim.appeal_id:
        return _reject(command, command_id, "action_not_available", "no such appeal pending")
    if ruling.outcome == "upheld":
        new_state = _evolve(claim, status="closed")
        rules: tuple[str, ...] = (APPEAL_UPHELD,)
    elif claim.appellant == "seller":
        # Reversing a seller-funded grant: by default the platform pays and the ODR is spared.
        funded = ruling.funded_by or "platform"
        counts = ruling.counts_toward_odr if ruling.counts_toward_odr is not None else False
        new_state = _evolve(claim, status="closed", funded_by=funded, counts_toward_odr=counts)
        rules = (APPEAL_REVERSED,)
    else:
        # Reversing a denial grants the claim; the platform pays unless the reviewer says.
        funded = ruling.funded_by or "platform"
        counts = (
            ruling.counts_toward_odr
            if ruling.counts_toward_odr is not None
            else _counts("granted", funded)
        )
        new_state = _evolve(
            claim, status="closed", resolution="granted", funded_by=funded, counts_toward_odr=counts
        )
        rules = (APPEAL_REVERSED,)
    decided = claim.model_copy(update={"state": new_state, "decided_at": now})
    return Transition(
        decided,
        (
            _event(
                ClaimAppealDecided,
                new_state,
                rules=rules,
                appeal_id=ruling.appeal_id,
                outcome=ruling.outcome,
            ),
        ),
    )


# --- time and order facts --------------------------------------------------------------------


def deadline_due(claim: Claim, kind: DeadlineKind, *, now: datetime, policy: Policy) -> Transition:
    """A stored deadline came due; re-checked against the claim, so a stale one does nothing."""
    deadlines = claim.state.deadlines
    if kind == "hold_until":
        return hold_expired(claim, now=now, policy=policy)
    if kind == "respond_by":
        respond_by = deadlines.respond_by
        if claim.state.status != "action_required" or respond_by is None or now < respond_by:
            return Transition(None)
        outcome = decisions.Outcome(decisions.SILENT_SELLER_PAYS, "granted", "seller")
        return _grant(claim, now, policy, outcome, "rules")
    due = deadlines.replacement_due_by
    if claim.replacement is None or due is None or now < due or claim.state.status == "closed":
        return Transition(None)
    # Not delivered by its own estimated date: back to the seller's queue.
    respond_by = now + policy.replacement_response_window
    state = _evolve(
        claim, status="action_required", deadlines=ClaimDeadlines(respond_by=respond_by)
    )
    back = claim.model_copy(update={"state": state, "replacement": None})
    return Transition(
        back,
        (_event(ClaimActionRequired, state, rules=(REPLACEMENT_OVERDUE,), respond_by=respond_by),),
    )


def fact_seen(claim: Claim, fact: OrderFact, *, now: datetime) -> Transition:
    """A refund on the order closes an open claim; the replacement's delivery closes it too."""
    if claim.state.status not in ("action_required", "under_review"):
        return Transition(None)
    if isinstance(fact, OrderRefunded) and fact.refunded_at >= claim.state.filed_at:
        rules: tuple[str, ...] = (REFUND_SEEN_ON_ORDER,)
        closed, state = _close(
            claim, now, rules, resolution="refunded_by_seller", funded_by="seller"
        )
        return Transition(
            closed,
            (_event(ClaimClosed, state, rules=rules, resolution="refunded_by_seller"),),
        )
    replacement = claim.replacement
    if (
        isinstance(fact, OrderDelivered)
        and replacement is not None
        and fact.tracking_id == replacement.tracking_id
    ):
        rules = (REPLACEMENT_DELIVERED,)
        closed, state = _close(
            claim, now, rules, resolution="replaced", funded_by="seller", replacement=None
        )
        return Transition(closed, (_event(ClaimClosed, state, rules=rules, resolution="replaced"),))
    return Transition(None)


def pending_deadlines(claim: Claim) -> list[tuple[DeadlineKind, datetime]]:
    """The deadlines a scheduler must fire for this claim (the appeal window only limits)."""
    deadlines = claim.state.deadlines
    found: list[tuple[DeadlineKind, datetime]] = []
    if claim.held and deadlines.hold_until is not None:
        found.append(("hold_until", deadlines.hold_until))
    if claim.state.status == "action_required" and deadlines.respond_by is not None:
        found.append(("respond_by", deadlines.respond_by))
    if claim.replacement is not None and deadlines.replacement_due_by is not None:
        found.append(("replacement_due_by", deadlines.replacement_due_by))
    return found


def available_actions(claim: Claim, now: datetime) -> dict[str, list[str]]:
    """What each party may do now, for the read API."""
    state = claim.state
    actions: dict[str, list[str]] = {"buyer": [], "seller": [], "reviewer": []}
    if state.status in ("filed", "action_required", "under_review"):
        actions["buyer"].append("withdraw")
    if state.status == "action_required" and (state.deadlines.respond_by or now) >= now:
        actions["seller"] += ["refund", "replacement_sent", "accept", "dispute"]
    if state.status == "under_review":
        actions["reviewer"].append("decide")
    if state.status == "appealed":
        actions["reviewer"].append("rule_on_appeal")
    appeal_by = state.deadlines.appeal_by
    if state.status == "closed" and appeal_by is not None and now <= appeal_by:
        if state.resolution == "denied":
            actions["buyer"].append("appeal")
        elif state.resolution == "granted" and state.funded_by == "seller":
            actions["seller"].append("appeal")
    return actions
