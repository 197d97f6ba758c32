"""A claim's life, as a pure state machine: (claim, input, now, policy) -> (claim', events).

Inputs are commands from intake, facts from ``orders.v1`` and deadlines coming due. Every
output event carries the claim's state after the change and the ids of the rules that made it,
and bumps its version by exactly one. A command that may not act (another seller, a buyer
deciding, a deadline passed) changes nothing and yields ``claim.command_rejected`` with the
reason.

This module is the front door; the parts of a claim's life live beside it:

* :mod:`adjudication.filing`: filed, held, admitted or denied; the platform's own filings;
* :mod:`adjudication.responses`: the seller's answer, refunds, replacements, disputes;
* :mod:`adjudication.reviews`: a reviewer's decision, appeals and their rulings;
* :mod:`adjudication.deadlines`: every deadline and what happens when it passes.
"""

from __future__ import annotations

from datetime import datetime

from adjudication.claim import (
    OPEN_STATUSES,
    Claim,
    Transition,
    appeal_open,
    close,
    event,
    reject,
)
from adjudication.deadlines import DeadlineKind, deadline_due, pending_deadlines
from adjudication.facts import OrderFacts
from adjudication.filing import (
    AUTOMATIC_FILING,
    automatic_filing,
    automatic_filing_due,
    file_claim,
    open_claim,
    order_arrived,
    planned_filings,
    platform_claim_id,
)
from adjudication.policy import Policy
from adjudication.responses import fact_seen, respond
from adjudication.reviews import appeal, decide, is_buyer_side
from contracts.claims import (
    AppealClaim,
    ClaimClosed,
    ClaimCommand,
    DecideClaim,
    FileClaim,
    RespondToClaim,
    WithdrawClaim,
)

__all__ = [
    "AUTOMATIC_FILING",
    "OPEN_STATUSES",
    "WITHDRAWN",
    "Claim",
    "DeadlineKind",
    "Transition",
    "automatic_filing",
    "automatic_filing_due",
    "available_actions",
    "deadline_due",
    "fact_seen",
    "file_claim",
    "handle_command",
    "open_claim",
    "order_arrived",
    "pending_deadlines",
    "planned_filings",
    "platform_claim_id",
    "withdraw",
]

WITHDRAWN = "buyer.withdrew"


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
            return reject(
                command,
                command_id,
                "action_not_available",
                "a claim with this id was already filed",
            )
        return file_claim(command, facts=facts, open_claim=open_claim, now=now, policy=policy)
    if claim is None or claim.state.order_id != command.order_id:
        return reject(command, command_id, "claim_not_found", "no such claim on this order")
    match command:
        case WithdrawClaim():
            return withdraw(claim, command, command_id)
        case RespondToClaim():
            return respond(claim, command, command_id, facts=facts, now=now, policy=policy)
        case DecideClaim():
            return decide(claim, command, command_id, now, policy)
        case AppealClaim():
            return appeal(claim, command, command_id, now, policy)
    return reject(command, command_id, "action_not_available", f"unknown command {command.type}")


def withdraw(claim: Claim, command: WithdrawClaim, command_id: str) -> Transition:
    """The buyer may withdraw before a decision."""
    if not is_buyer_side(claim, command):
        return reject(command, command_id, "not_your_claim", "only the buyer may withdraw")
    if claim.state.status not in ("filed", "action_required", "under_review"):
        return reject(command, command_id, "action_not_available", "the claim is already decided")
    rules = (WITHDRAWN,)
    closed, state = close(claim, resolution="withdrawn", funded_by="none")
    return Transition(closed, (event(ClaimClosed, state, rules=rules, resolution="withdrawn"),))


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
    if appeal_open(state, now):
        if state.resolution == "denied":
            actions["buyer"].append("appeal")
        elif state.resolution == "granted" and state.funded_by == "seller":
            actions["seller"].append("appeal")
    return actions
