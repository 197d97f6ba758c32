"""Deadlines on a claim, and what happens when one comes due: pure, I/O-free.

Every open claim has a deadline the scheduler owns, so no claim can wait for ever:

======================  ===================  ==================================================
status                  deadline             when it passes
======================  ===================  ==================================================
filed (held for facts)  ``hold_until``       judged on what is known, else ``unknown_order``
action_required         ``respond_by``       granted, seller-funded (the seller was silent)
  awaiting replacement  ``replacement_due_by``  back to the seller's queue, 72 h to respond
under_review            ``review_by``        granted, platform-funded: the platform's delay
appealed                ``review_by``        the appeal fails: the decision stands as it was
======================  ===================  ==================================================

The appeal window (``appeal_by``) only limits an action; nothing fires when it ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from adjudication import decisions
from adjudication.claim import NOTHING, Claim, Transition, event, evolve, grant, moved
from adjudication.facts import OrderFacts
from adjudication.filing import hold_expired
from adjudication.policy import Policy
from adjudication.reviews import appeal_decided
from contracts.claims import ClaimActionRequired, ClaimDeadlines

REPLACEMENT_OVERDUE: Final = "response.replacement_not_delivered_in_time"
REVIEW_OVERDUE: Final = "review.not_decided_in_time"
APPEAL_OVERDUE: Final = "appeal.not_ruled_in_time"

DeadlineKind = Literal["respond_by", "replacement_due_by", "hold_until", "review_by"]
"""Deadlines on a claim. (The platform's automatic filing is an order deadline: see handlers.)"""


def pending_deadlines(claim: Claim) -> list[tuple[DeadlineKind, datetime]]:
    """The deadlines a scheduler must fire for this claim (the appeal window only limits)."""
    deadlines = claim.state.deadlines
    status = claim.state.status
    found: list[tuple[DeadlineKind, datetime]] = []
    if claim.held and deadlines.hold_until is not None:
        found.append(("hold_until", deadlines.hold_until))
    if status == "action_required" and deadlines.respond_by is not None:
        found.append(("respond_by", deadlines.respond_by))
    if claim.replacement is not None and deadlines.replacement_due_by is not None:
        found.append(("replacement_due_by", deadlines.replacement_due_by))
    if status in ("under_review", "appealed") and deadlines.review_by is not None:
        found.append(("review_by", deadlines.review_by))
    return found


def deadline_due(
    claim: Claim,
    kind: DeadlineKind,
    *,
    now: datetime,
    policy: Policy,
    facts: OrderFacts | None = None,
    open_claim: Claim | None = None,
) -> Transition:
    """A stored deadline came due; re-checked against the claim, so a stale one does nothing.
    ``facts`` and ``open_claim`` (the order's other open claim) judge a claim held for facts."""
    deadlines = claim.state.deadlines
    status = claim.state.status
    if kind == "hold_until":
        return hold_expired(claim, facts=facts, open_claim=open_claim, now=now, policy=policy)
    if kind == "respond_by":
        respond_by = deadlines.respond_by
        if status != "action_required" or respond_by is None or now < respond_by:
            return NOTHING
        outcome = decisions.Outcome(decisions.SILENT_SELLER_PAYS, "granted", "seller")
        return grant(claim, now, policy, outcome, "rules")
    if kind == "review_by":
        return _review_overdue(claim, now=now, policy=policy)
    due = deadlines.replacement_due_by
    if claim.replacement is None or due is None or now < due or status == "closed":
        return NOTHING
    # Not delivered by its own estimated date: back to the seller's queue.
    respond_by = now + policy.replacement_response_window
    state = evolve(claim, status="action_required", deadlines=ClaimDeadlines(respond_by=respond_by))
    back = moved(claim, state, replacement=None)
    return Transition(
        back,
        (event(ClaimActionRequired, state, rules=(REPLACEMENT_OVERDUE,), respond_by=respond_by),),
    )


def _review_overdue(claim: Claim, *, now: datetime, policy: Policy) -> Transition:
    """No reviewer decided in time. The platform bears its own delay: a claim under review is
    granted, funded by the platform, with no ODR impact on the seller; an appeal fails, and
    the decision it contested stands."""
    review_by = claim.state.deadlines.review_by
    if review_by is None or now < review_by:
        return NOTHING
    if claim.state.status == "under_review":
        outcome = decisions.Outcome(REVIEW_OVERDUE, "granted", "platform", counts_toward_odr=False)
        return grant(claim, now, policy, outcome, "rules")
    if claim.state.status == "appealed":
        return appeal_decided(claim, now, "upheld", rules=(APPEAL_OVERDUE,))
    return NOTHING
