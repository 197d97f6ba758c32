"""A claim as adjudication keeps it, and the few moves every part of its life is made of.

:class:`Claim` is the public :class:`~contracts.claims.ClaimState` plus what the rules need
(the filing, a pending replacement, the evidence under review...). :class:`Transition` is what
an input did: the claim after it and the events to publish. The helpers here (evolve, close,
grant, reject, event) are how :mod:`adjudication.filing`, :mod:`adjudication.responses`,
:mod:`adjudication.reviews` and :mod:`adjudication.deadlines` change a claim, so that every
event bumps the version by exactly one and carries the state it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from adjudication import decisions
from adjudication.messages import buyer_message_from
from adjudication.policy import Policy
from contracts.claims import (
    BuyerMessage,
    ClaimClosed,
    ClaimCommand,
    ClaimCommandRejected,
    ClaimDeadlines,
    ClaimDecided,
    ClaimEvent,
    ClaimState,
    DenialReason,
    Discrepancy,
    DisputeResponse,
    FileClaim,
    FundedBy,
    RejectionReason,
    ReplacementResponse,
)
from contracts.envelope import Payload

OPEN_STATUSES: Final = frozenset({"filed", "action_required", "under_review", "appealed"})
E = TypeVar("E", bound=ClaimEvent)


class Claim(BaseModel):
    """Adjudication's own record of a claim: the public state plus what the rules need."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: ClaimState
    filing: FileClaim
    marketplace_id: str | None = None
    buyer_language: str | None = None  # from the order, when the filing did not say
    replacement: ReplacementResponse | None = None
    replacement_sent_at: datetime | None = None
    dispute: DisputeResponse | None = None  # the evidence a claim under review was sent with
    discrepancies: tuple[Discrepancy, ...] = ()  # as last shown to the reviewer
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


NOTHING: Final = Transition(None)


def counts_toward_odr(resolution: str | None, funded_by: FundedBy) -> bool:
    """Whether a claim counts toward the seller's ODR, derived by rule (PRODUCT.md, ODR)."""
    if resolution is None:
        return True  # pending: metrics decides, by its own setting, whether pending counts
    if resolution in ("refunded_by_seller", "replaced"):
        return True
    return resolution == "granted" and funded_by == "seller"


def evolve(claim: Claim, **state_changes: Any) -> ClaimState:
    """The claim's state with ``state_changes``, one version on: one call per event."""
    return claim.state.model_copy(update={**state_changes, "version": claim.state.version + 1})


def moved(claim: Claim, state: ClaimState, **claim_changes: Any) -> Claim:
    """The claim carrying ``state`` (and any of its own fields changed)."""
    return claim.model_copy(update={"state": state, **claim_changes})


def event(kind: type[E], state: ClaimState, **fields: Any) -> E:
    """An event of ``kind`` about the claim in ``state``."""
    return kind(claim_id=state.claim_id, order_id=state.order_id, claim=state, **fields)


def reject(
    command: ClaimCommand, command_id: str, reason: RejectionReason, detail: str
) -> Transition:
    """A command that changes nothing, and the event that says why."""
    rejected = ClaimCommandRejected(
        claim_id=command.claim_id,
        order_id=command.order_id,
        command_id=command_id,
        command_type=command.type,
        actor=command.actor,
        reason=reason,
        detail=detail,
    )
    return Transition(None, (rejected,))


def denial_message(
    reason: DenialReason, claim: Claim, policy: Policy, params: dict[str, Any]
) -> BuyerMessage:
    """The buyer's sentence for a denial, dates in the marketplace's own time zone."""
    # "from March 12" means the marketplace's local March 12.
    zone = ZoneInfo(policy.calendar_for(claim.marketplace_id).timezone)
    local = {k: v.astimezone(zone) if isinstance(v, datetime) else v for k, v in params.items()}
    # The buyer's language when they gave it, else the marketplace's.
    return buyer_message_from(
        reason,
        claim.filing.language or claim.buyer_language,
        local,
        default_language=policy.language_for(claim.marketplace_id),
    )


def close(
    claim: Claim,
    *,
    resolution: str,
    funded_by: FundedBy,
    counts: bool | None = None,
    appeal_by: datetime | None = None,
    **claim_changes: Any,
) -> tuple[Claim, ClaimState]:
    """The claim closed with ``resolution`` (one version on), and its new state."""
    state = evolve(
        claim,
        status="closed",
        resolution=resolution,
        funded_by=funded_by,
        counts_toward_odr=counts_toward_odr(resolution, funded_by) if counts is None else counts,
        deadlines=ClaimDeadlines(appeal_by=appeal_by),
    )
    return moved(claim, state, **claim_changes), state


def appeal_deadline(decided_at: datetime, policy: Policy) -> datetime:
    """The last moment a decision can be appealed: the appeal window after it (the one place
    the window is counted; the claim keeps the result as ``deadlines.appeal_by``)."""
    return decided_at + policy.appeal_window


def appeal_open(state: ClaimState, now: datetime) -> bool:
    """Whether a closed claim can still be appealed at ``now``: until its ``appeal_by``,
    included. (The read API's option-to-appeal tab asks the same of the stored state, in SQL.)"""
    appeal_by = state.deadlines.appeal_by
    return state.status == "closed" and appeal_by is not None and now <= appeal_by


def grant(
    claim: Claim,
    now: datetime,
    policy: Policy,
    outcome: decisions.Outcome,
    decided_by: Literal["rules", "reviewer"],
    *,
    rules: tuple[str, ...] | None = None,
) -> Transition:
    """A granted claim: decided, then closed; a seller-funded grant may be appealed."""
    appeal_by = appeal_deadline(now, policy) if outcome.funded_by == "seller" else None
    named = rules or (outcome.rule,)
    decided, state = close(
        claim,
        resolution="granted",
        funded_by=outcome.funded_by,
        counts=outcome.counts_toward_odr,
        appeal_by=appeal_by,
        decided_at=now,
        replacement=None,
    )
    closed = moved(decided, evolve(decided))
    return Transition(
        closed,
        (
            event(ClaimDecided, state, rules=named, outcome="granted", decided_by=decided_by),
            event(ClaimClosed, closed.state, rules=named, resolution="granted"),
        ),
    )
