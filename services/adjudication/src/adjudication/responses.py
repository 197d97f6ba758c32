"""The seller's answer to a claim, and what the order's later facts do to an open claim.

Pure: (claim, input, facts, now, policy) -> :class:`~adjudication.claim.Transition`.

* **Money adds up.** A refund, whether the seller's response or an ``order.refunded`` fact,
  is recorded on the claim (:class:`~contracts.claims.ClaimRefund`, counted once by its id).
  The claim closes ``refunded_by_seller`` only when the refunds in its currency reach the
  amount claimed; a partial refund lowers what is still owed and leaves the claim open. A
  refund response in another currency is refused.
* **A replacement is a bounded promise.** Its estimated delivery must lie between now and
  :attr:`~adjudication.policy.Policy.replacement_longest_delivery`; it must travel under a new
  tracking id; it closes the claim ``replaced`` only when the carrier delivers that parcel.
* **A dispute is judged on the facts** (:mod:`adjudication.decisions`); a claim under review is
  judged again when carrier facts arrive later.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from adjudication import decisions, evidence
from adjudication.claim import (
    NOTHING,
    Claim,
    Transition,
    close,
    event,
    evolve,
    grant,
    moved,
    reject,
)
from adjudication.facts import OrderFacts
from adjudication.policy import Policy
from contracts.claims import (
    AcceptResponse,
    ClaimClosed,
    ClaimDeadlines,
    ClaimRefund,
    ClaimRefundRecorded,
    ClaimResponded,
    ClaimState,
    ClaimUnderReview,
    DisputeResponse,
    RefundResponse,
    ReplacementResponse,
    RespondToClaim,
)
from contracts.orders import (
    OrderDelivered,
    OrderDeliveryFailed,
    OrderFact,
    OrderRefunded,
    OrderShipped,
)

REFUNDED_BY_SELLER: Final = "response.refunded_by_seller"
PARTIAL_REFUND: Final = "response.partial_refund"
REFUND_SEEN_ON_ORDER: Final = "response.refund_seen_on_order"
PARTIAL_REFUND_SEEN: Final = "response.partial_refund_seen_on_order"
REPLACEMENT_SENT: Final = "response.replacement_sent"
REPLACEMENT_DELIVERED: Final = "response.replacement_delivered"
RECONSIDERED: Final = "decision.reconsidered_on_carrier_facts"
REFUND_NAMESPACE: Final = uuid.UUID("5b0f3c2d-9e1a-4b7c-8d6e-2f4a1c3b5d70")
ANSWERABLE: Final = frozenset({"action_required", "under_review"})
"""Statuses in which a refund or the replacement's delivery still settles the claim."""
CARRIER_FACTS: Final = (OrderShipped, OrderDelivered, OrderDeliveryFailed)


def seller_refund_id(command_id: str) -> str:
    """The id of the refund a seller's response orders: payments carries it out under this id,
    and the order system's ``order.refunded`` with the same id is the same money."""
    return "rfd-" + uuid.uuid5(REFUND_NAMESPACE, command_id).hex[:24]


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
    if command.actor.role != "seller" or command.actor.subject != claim.state.seller_id:
        return reject(command, command_id, "not_your_claim", "only the order's seller responds")
    if claim.state.status != "action_required":
        return reject(
            command,
            command_id,
            "action_not_available",
            f"the claim is {claim.state.status}, not awaiting the seller",
        )
    respond_by = claim.state.deadlines.respond_by
    if respond_by is not None and now > respond_by:
        return reject(command, command_id, "deadline_passed", "the response window has closed")
    assert facts is not None  # noqa: S101  # an admitted claim's order is known
    response = command.response
    match response:
        case RefundResponse():
            return _refund_response(claim, command, command_id, response, now)
        case AcceptResponse():
            responded_state = evolve(claim)
            responded = moved(claim, responded_state)
            outcome = decisions.Outcome(decisions.SELLER_ACCEPTED, "granted", "seller")
            granted = grant(responded, now, policy, outcome, "rules")
            first = event(ClaimResponded, responded_state, response=response)
            return Transition(granted.claim, (first, *granted.events))
        case ReplacementResponse():
            return _replacement(
                claim, command, command_id, response, facts=facts, now=now, policy=policy
            )
        case DisputeResponse():
            return _dispute(claim, response, facts, now, policy)


def _refund_response(
    claim: Claim, command: RespondToClaim, command_id: str, response: RefundResponse, now: datetime
) -> Transition:
    currency = claim.state.amount.currency
    if response.amount.currency != currency:
        return reject(
            command,
            command_id,
            "refund_currency_mismatch",
            f"the refund is in {response.amount.currency}; the claim is in {currency}",
        )
    refund = ClaimRefund(
        refund_id=seller_refund_id(command_id),
        amount=response.amount,
        refunded_by="seller",
        refunded_at=now,
        source="seller_response",
    )
    state = evolve(claim, refunds=(*claim.state.refunds, refund))
    responded = moved(claim, state)
    if not _paid_in_full(responded):
        # Partial: what is owed goes down, and the seller's window keeps running for the rest.
        partial = event(ClaimResponded, state, response=response, rules=(PARTIAL_REFUND,))
        return Transition(responded, (partial,))
    first = event(ClaimResponded, state, response=response, rules=(REFUNDED_BY_SELLER,))
    closed, closed_state = close(responded, resolution="refunded_by_seller", funded_by="seller")
    rules = (REFUNDED_BY_SELLER,)
    return Transition(
        closed,
        (first, event(ClaimClosed, closed_state, rules=rules, resolution="refunded_by_seller")),
    )


def _paid_in_full(claim: Claim) -> bool:
    return claim.state.refunded.amount >= claim.state.amount.amount


def _replacement(
    claim: Claim,
    command: RespondToClaim,
    command_id: str,
    response: ReplacementResponse,
    *,
    facts: OrderFacts,
    now: datetime,
    policy: Policy,
) -> Transition:
    latest = now + policy.replacement_longest_delivery
    eta = response.estimated_delivery
    if not now <= eta <= latest:
        return reject(
            command,
            command_id,
            "replacement_estimate_out_of_bounds",
            f"the estimated delivery {eta.isoformat()} must lie between now "
            f"({now.isoformat()}) and {latest.isoformat()}",
        )
    tracking = response.tracking_id
    if evidence.shipment_by_tracking(facts, tracking) or evidence.delivery_by_tracking(
        facts, tracking
    ):
        return reject(
            command,
            command_id,
            "action_not_available",
            f"tracking id {tracking} is the order's own shipment, not a replacement",
        )
    state = evolve(claim, deadlines=ClaimDeadlines(replacement_due_by=eta))
    waiting = moved(claim, state, replacement=response, replacement_sent_at=now)
    sent = event(ClaimResponded, state, response=response, rules=(REPLACEMENT_SENT,))
    return Transition(waiting, (sent,))


def _dispute(
    claim: Claim, response: DisputeResponse, facts: OrderFacts, now: datetime, policy: Policy
) -> Transition:
    responded_state = evolve(claim)
    responded = moved(claim, responded_state)
    first = event(ClaimResponded, responded_state, response=response)
    outcome = decisions.decide_dispute(
        decisions.Case(claim.state.reason, response.evidence, facts, policy)
    )
    if outcome.kind == "granted":
        granted = grant(responded, now, policy, outcome, "rules")
        return Transition(granted.claim, (first, *granted.events))
    review_state = evolve(
        responded,
        status="under_review",
        deadlines=ClaimDeadlines(review_by=now + policy.review_window),
    )
    reviewing = moved(
        responded, review_state, dispute=response, discrepancies=outcome.discrepancies
    )
    return Transition(reviewing, (first, _under_review(review_state, outcome)))


def _under_review(state: ClaimState, outcome: decisions.Outcome, *first: str) -> ClaimUnderReview:
    # The rules that sent it to a reviewer: the review rule, then each failed corroboration.
    rules = dict.fromkeys((*first, outcome.rule, *(d.rule for d in outcome.discrepancies)))
    return event(ClaimUnderReview, state, rules=tuple(rules), discrepancies=outcome.discrepancies)


# --- facts on an open claim ---------------------------------------------------------------


def fact_seen(
    claim: Claim, fact: OrderFact, *, facts: OrderFacts, now: datetime, policy: Policy
) -> Transition:
    """What a new fact on the order does to this (admitted) claim: a refund counts toward it,
    the replacement's delivery closes it, carrier facts re-open the judgement of a dispute
    still waiting for a reviewer. ``facts`` already include ``fact``."""
    if claim.state.status not in ANSWERABLE:
        return NOTHING
    if isinstance(fact, OrderRefunded):
        return _refund_seen(claim, fact)
    replacement = claim.replacement
    if (
        isinstance(fact, OrderDelivered)
        and replacement is not None
        and evidence.same_tracking(fact.tracking_id, replacement.tracking_id)
        and (claim.replacement_sent_at is None or fact.delivered_at >= claim.replacement_sent_at)
    ):
        rules = (REPLACEMENT_DELIVERED,)
        closed, state = close(claim, resolution="replaced", funded_by="seller", replacement=None)
        return Transition(closed, (event(ClaimClosed, state, rules=rules, resolution="replaced"),))
    if isinstance(fact, CARRIER_FACTS):
        return _reconsider(claim, facts, now, policy)
    return NOTHING


def _refund_seen(claim: Claim, fact: OrderRefunded) -> Transition:
    state = claim.state
    counted = {refund.refund_id for refund in state.refunds}
    if (
        fact.refunded_at < state.filed_at
        or fact.amount.currency != state.amount.currency
        or fact.refund_id in counted
    ):
        return NOTHING  # before the claim, not the claim's money, or already counted
    refund = ClaimRefund(
        refund_id=fact.refund_id,
        amount=fact.amount,
        refunded_by=fact.initiated_by,
        refunded_at=fact.refunded_at,
        source="order_fact",
    )
    with_refund = claim.model_copy(
        update={"state": state.model_copy(update={"refunds": (*state.refunds, refund)})}
    )
    if _paid_in_full(with_refund):
        rules = (REFUND_SEEN_ON_ORDER,)
        closed, closed_state = close(
            with_refund, resolution="refunded_by_seller", funded_by="seller"
        )
        closing = event(ClaimClosed, closed_state, rules=rules, resolution="refunded_by_seller")
        return Transition(closed, (closing,))
    recorded_state = evolve(with_refund)
    recorded = event(
        ClaimRefundRecorded, recorded_state, rules=(PARTIAL_REFUND_SEEN,), refund=refund
    )
    return Transition(moved(with_refund, recorded_state), (recorded,))


def _reconsider(claim: Claim, facts: OrderFacts, now: datetime, policy: Policy) -> Transition:
    """A claim under review on the seller's evidence, judged again with the carrier's newer
    facts: granted if a rule now settles it, else shown again when what fails has changed."""
    dispute = claim.dispute
    if claim.state.status != "under_review" or dispute is None:
        return NOTHING
    outcome = decisions.decide_dispute(
        decisions.Case(claim.state.reason, dispute.evidence, facts, policy)
    )
    if outcome.kind == "granted":
        return grant(claim, now, policy, outcome, "rules", rules=(RECONSIDERED, outcome.rule))
    if outcome.discrepancies == claim.discrepancies:
        return NOTHING
    state = evolve(claim)
    reviewing = moved(claim, state, discrepancies=outcome.discrepancies)
    return Transition(reviewing, (_under_review(state, outcome, RECONSIDERED),))
