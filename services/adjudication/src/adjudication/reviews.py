"""What people decide on a claim: a reviewer's decision, an appeal and its ruling.

Pure: (claim, command, now, policy) -> :class:`~adjudication.claim.Transition`. A claim under
review and an appeal both wait at most :attr:`~adjudication.policy.Policy.review_window` for
a reviewer (the ``review_by`` deadline, see :mod:`adjudication.deadlines`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from adjudication import decisions
from adjudication.claim import (
    Claim,
    Transition,
    appeal_deadline,
    appeal_open,
    close,
    counts_toward_odr,
    denial_message,
    event,
    evolve,
    grant,
    moved,
    reject,
)
from adjudication.policy import Policy
from contracts.claims import (
    AppealClaim,
    AppealRuling,
    ClaimAppealDecided,
    ClaimAppealed,
    ClaimClosed,
    ClaimCommand,
    ClaimDeadlines,
    ClaimDecided,
    DecideClaim,
    ReviewDecision,
)

REVIEWER_DECIDED: Final = "review.decided_by_reviewer"
APPEAL_FILED: Final = "appeal.filed_within_window"
APPEAL_UPHELD: Final = "appeal.upheld"
APPEAL_REVERSED: Final = "appeal.reversed"


def is_buyer_side(claim: Claim, command: ClaimCommand) -> bool:
    """The claim's buyer, or a support agent acting for buyers."""
    actor = command.actor
    return actor.role == "agent" or (
        actor.role == "buyer" and actor.subject == claim.state.buyer_id
    )


def is_the_seller(claim: Claim, command: ClaimCommand) -> bool:
    return command.actor.role == "seller" and command.actor.subject == claim.state.seller_id


def decide(
    claim: Claim, command: DecideClaim, command_id: str, now: datetime, policy: Policy
) -> Transition:
    """A reviewer decides a claim under review, or rules on an appeal."""
    if command.actor.role != "reviewer":
        return reject(command, command_id, "role_not_allowed", "only reviewers decide")
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
        return reject(command, command_id, "action_not_available", "the claim is not under review")
    if decision.outcome == "granted":
        assert decision.funded_by is not None  # noqa: S101  # the contract requires it
        outcome = decisions.Outcome(
            REVIEWER_DECIDED,
            "granted",
            decision.funded_by,
            counts_toward_odr=decision.funded_by == "seller",
        )
        return grant(claim, now, policy, outcome, "reviewer")
    reason = decision.denial_reason or "reviewer_denied"
    rules = (REVIEWER_DECIDED,)
    denied, state = close(
        claim,
        resolution="denied",
        funded_by="none",
        appeal_by=appeal_deadline(now, policy),
        decided_at=now,
    )
    message = denial_message(reason, claim, policy, {})
    closed = moved(denied, evolve(denied))
    return Transition(
        closed,
        (
            event(
                ClaimDecided,
                state,
                rules=rules,
                outcome="denied",
                decided_by="reviewer",
                denial_reason=reason,
                message=message,
            ),
            event(ClaimClosed, closed.state, rules=rules, resolution="denied"),
        ),
    )


def appeal(
    claim: Claim, command: AppealClaim, command_id: str, now: datetime, policy: Policy
) -> Transition:
    """A seller appeals a seller-funded grant; a buyer appeals a denial; within the window.
    A reviewer then has until ``review_by`` to rule."""
    state = claim.state
    seller_may = is_the_seller(claim, command) and (
        state.resolution == "granted" and state.funded_by == "seller"
    )
    buyer_may = is_buyer_side(claim, command) and state.resolution == "denied"
    if not (is_the_seller(claim, command) or is_buyer_side(claim, command)):
        return reject(command, command_id, "not_your_claim", "only the buyer or the seller")
    if state.status != "closed" or not (seller_may or buyer_may):
        return reject(
            command,
            command_id,
            "action_not_available",
            "only a seller-funded grant or a denial can be appealed",
        )
    if not appeal_open(state, now):
        return reject(command, command_id, "deadline_passed", "the appeal window has closed")
    appealed_state = evolve(
        claim, status="appealed", deadlines=ClaimDeadlines(review_by=now + policy.review_window)
    )
    appellant: Literal["buyer", "seller"] = "seller" if seller_may else "buyer"
    appealed = moved(claim, appealed_state, appeal_id=command.appeal_id, appellant=appellant)
    return Transition(
        appealed,
        (
            event(
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
        return reject(command, command_id, "action_not_available", "no such appeal pending")
    if ruling.outcome == "upheld":
        return appeal_decided(claim, now, "upheld", rules=(APPEAL_UPHELD,))
    if claim.appellant == "seller":
        # Reversing a seller-funded grant: by default the platform pays and the ODR is spared.
        funded = ruling.funded_by or "platform"
        counts = ruling.counts_toward_odr if ruling.counts_toward_odr is not None else False
        return appeal_decided(
            claim, now, "reversed", (APPEAL_REVERSED,), funded_by=funded, counts_toward_odr=counts
        )
    # Reversing a denial grants the claim; the platform pays unless the reviewer says.
    funded = ruling.funded_by or "platform"
    counts = (
        ruling.counts_toward_odr
        if ruling.counts_toward_odr is not None
        else counts_toward_odr("granted", funded)
    )
    return appeal_decided(
        claim,
        now,
        "reversed",
        (APPEAL_REVERSED,),
        resolution="granted",
        funded_by=funded,
        counts_toward_odr=counts,
    )


def appeal_decided(
    claim: Claim,
    now: datetime,
    outcome: Literal["upheld", "reversed"],
    rules: tuple[str, ...],
    **state_changes: object,
) -> Transition:
    """The appeal ruled on: the claim closed again, as the ruling leaves it."""
    assert claim.appeal_id is not None  # noqa: S101  # only an appealed claim is ruled on
    new_state = evolve(claim, status="closed", deadlines=ClaimDeadlines(), **state_changes)
    decided = moved(claim, new_state, decided_at=now)
    return Transition(
        decided,
        (
            event(
                ClaimAppealDecided,
                new_state,
                rules=rules,
                appeal_id=claim.appeal_id,
                outcome=outcome,
            ),
        ),
    )
