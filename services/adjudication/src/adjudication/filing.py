"""A claim's beginning: filed, held while its order is unknown, admitted or denied; and the
claims the platform files itself when a seller never answered the buyer.

Pure: every function takes ``now`` and the :class:`~adjudication.policy.Policy` and returns a
:class:`~adjudication.claim.Transition`. The admissibility rules themselves are
:mod:`adjudication.eligibility`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from adjudication import eligibility
from adjudication.claim import (
    NOTHING,
    Claim,
    Transition,
    close,
    denial_message,
    event,
    evolve,
    moved,
)
from adjudication.facts import OrderFacts
from adjudication.policy import Policy
from contracts.base import PositiveMoney
from contracts.claims import (
    Actor,
    ClaimActionRequired,
    ClaimDeadlines,
    ClaimDenied,
    ClaimFiled,
    ClaimState,
    FileClaim,
    SellerContact,
)
from contracts.orders import BuyerContactedSeller

HELD_FOR_ORDER: Final = "scope.order_known.held"
RELEASED: Final = "scope.order_known.arrived"
HOLD_EXPIRED: Final = "scope.order_known.timeout"
RESPONSE_WINDOW: Final = "response.window_opened"
AUTOMATIC_FILING: Final = "filing.automatic_after_silent_contact"
PLATFORM_NAMESPACE: Final = uuid.UUID("7c0e4b1a-2f7e-4d0b-8f34-9e1d6a3b5c20")


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
    placed = facts.placed if facts else None
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
    claim = Claim(
        state=state,
        filing=command,
        marketplace_id=placed.marketplace_id if placed else None,
        buyer_language=placed.buyer_language if placed else None,
    )
    if facts is None or not facts.known:
        held_state = state.model_copy(
            update={"deadlines": ClaimDeadlines(hold_until=now + policy.unknown_order_hold)}
        )
        filed = event(
            ClaimFiled, held_state, rules=(HELD_FOR_ORDER,), description=command.description
        )
        return Transition(moved(claim, held_state), (filed,))
    filed = event(ClaimFiled, state, description=command.description, rules=filed_rules)
    admission = _admit(claim, facts, open_claim, judged_at=now, now=now, policy=policy)
    return Transition(admission.claim, (filed, *admission.events))


def _admit(
    claim: Claim,
    facts: OrderFacts,
    open_claim: Claim | None,
    *,
    judged_at: datetime,
    now: datetime,
    policy: Policy,
) -> Transition:
    """Admit or deny: the rules as of ``judged_at``; the seller's window opens at ``now``."""
    verdict = eligibility.check_filing(
        claim.filing,
        facts,
        open_claim_id=open_claim.state.claim_id if open_claim else None,
        now=judged_at,
        policy=policy,
    )
    if verdict.denial is not None:
        denied, state = close(claim, resolution="denied", funded_by="none", decided_at=now)
        message = denial_message(verdict.denial, claim, policy, verdict.params)
        denial = event(
            ClaimDenied, state, rules=verdict.rules, reason=verdict.denial, message=message
        )
        return Transition(denied, (denial,))
    respond_by = now + policy.seller_response_window
    state = evolve(
        claim,
        status="action_required",
        seller_id=facts.seller_id,
        deadlines=ClaimDeadlines(respond_by=respond_by),
    )
    rules = (*verdict.rules, RESPONSE_WINDOW)
    return Transition(
        moved(claim, state),
        (event(ClaimActionRequired, state, rules=rules, respond_by=respond_by),),
    )


LIFTED_BY_LATER_FACTS: Final = frozenset({"filed_too_early", "contact_seller_first"})
"""Denials a fact still to come can lift (a delivery scan, the buyer's message to the seller).
A held claim facing only one of them waits for the rest of its order's facts, up to its hold."""


def _released(claim: Claim, facts: OrderFacts) -> Claim:
    assert facts.placed is not None  # noqa: S101  # callers check facts.known
    return claim.model_copy(
        update={
            "marketplace_id": facts.placed.marketplace_id,
            "buyer_language": facts.placed.buyer_language,
            "state": claim.state.model_copy(
                update={"seller_id": facts.seller_id, "deadlines": ClaimDeadlines()}
            ),
        }
    )


def order_arrived(
    claim: Claim, facts: OrderFacts, *, open_claim: Claim | None, now: datetime, policy: Policy
) -> Transition:
    """A fact arrived for a held claim's order. The buyer filed when they filed: the
    admissibility rules judge the claim as of its filing time, with the facts known now, and
    the seller's response window opens now (never before the filing). Facts of one order come
    in order, but a claim may overtake them; while the only thing against the claim is one a
    later fact could lift (:data:`LIFTED_BY_LATER_FACTS`), it stays held."""
    if not claim.held or not facts.known:
        return NOTHING
    filed_at = claim.state.filed_at
    verdict = eligibility.check_filing(
        claim.filing,
        facts,
        open_claim_id=open_claim.state.claim_id if open_claim else None,
        now=filed_at,
        policy=policy,
    )
    if verdict.denial in LIFTED_BY_LATER_FACTS:
        return NOTHING
    released = _released(claim, facts)
    return _admit(
        released, facts, open_claim, judged_at=filed_at, now=max(now, filed_at), policy=policy
    )


def hold_expired(
    claim: Claim,
    *,
    facts: OrderFacts | None,
    open_claim: Claim | None,
    now: datetime,
    policy: Policy,
) -> Transition:
    """The hold is over: a claim whose order is known is judged on what is known (admitted, or
    denied with its own reason); one whose order never came is denied ``unknown_order``."""
    hold_until = claim.state.deadlines.hold_until
    if not claim.held or hold_until is None or now < hold_until:
        return NOTHING
    if facts is not None and facts.known:
        filed_at = claim.state.filed_at
        return _admit(
            _released(claim, facts), facts, open_claim, judged_at=filed_at, now=now, policy=policy
        )
    rules = (HOLD_EXPIRED,)
    denied, state = close(claim, resolution="denied", funded_by="none", decided_at=now)
    message = denial_message("unknown_order", claim, policy, {})
    return Transition(
        denied,
        (event(ClaimDenied, state, rules=rules, reason="unknown_order", message=message),),
    )


# --- the platform files for the buyer ---------------------------------------------------------


def platform_claim_id(order_id: str, contact_id: str) -> str:
    """The id of the claim the platform files for a contact: the same on every replay."""
    return (
        "clm-p-"
        + str(uuid.uuid5(PLATFORM_NAMESPACE, f"{order_id}/{contact_id}")).replace("-", "")[:20]
    )


def _platform_filing(
    facts: OrderFacts, contact_id: str, claims: Sequence[Claim], policy: Policy
) -> FileClaim | None:
    """The claim the platform would file for this contact, or None when it never will: the
    feature is off, the order or the contact is unknown, the buyer wrote about something the
    guarantee does not cover, the seller answered, or a claim since the message answers it."""
    contact = facts.contacts.get(contact_id)
    placed = facts.placed
    if not policy.automatic_filing or contact is None or placed is None:
        return None
    if contact.topic == "other" or contact_id in facts.replies or placed.total.amount <= 0:
        return None
    if _answered_by_a_claim(contact, claims):
        return None
    return FileClaim(
        claim_id=platform_claim_id(facts.order_id, contact_id),
        order_id=facts.order_id,
        actor=Actor(role="platform", subject="platform"),
        buyer_id=contact.buyer_id,
        reason=contact.topic,
        amount=PositiveMoney(
            amount=min(placed.total.amount, policy.claim_cap), currency=placed.total.currency
        ),
        description="Filed by the platform: the seller did not answer the buyer's message.",
        filed_by="platform",
        contact=SellerContact(contact_id=contact_id, contacted_at=contact.contacted_at),
        language=placed.buyer_language,
    )


def _answered_by_a_claim(contact: BuyerContactedSeller, claims: Sequence[Claim]) -> bool:
    # A claim on the order filed since the buyer wrote (open or decided) already answers it.
    return any(c.state.filed_at >= contact.contacted_at or c.is_open for c in claims)


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
    admissible now. Otherwise nothing happens: nobody asked, so nobody is told no."""
    command = _platform_filing(facts, contact_id, claims, policy)
    if command is None:
        return NOTHING
    verdict = eligibility.check_filing(command, facts, open_claim_id=None, now=now, policy=policy)
    if not verdict.admitted:
        return NOTHING
    return file_claim(
        command,
        facts=facts,
        open_claim=None,
        now=now,
        policy=policy,
        filed_rules=(AUTOMATIC_FILING,),
    )


def automatic_filing_due(
    facts: OrderFacts,
    contact_id: str,
    *,
    claims: Sequence[Claim],
    now: datetime,
    policy: Policy,
) -> datetime | None:
    """When the platform should next look at filing for this contact: ``now`` when it would be
    admissible now, else the first moment the time conditions could all hold (the contact
    window's end, the reason's earliest filing date); None when it never will, or cannot know
    yet (an item claim before any delivery: the next fact on the order asks again).

    The platform thus files at the first moment every condition holds, whatever order the
    contact, the estimated delivery date and the silence come in.
    """
    command = _platform_filing(facts, contact_id, claims, policy)
    if command is None or command.contact is None:
        return None
    verdict = eligibility.check_filing(command, facts, open_claim_id=None, now=now, policy=policy)
    if verdict.admitted:
        return now
    if verdict.denial not in ("filed_too_early", "contact_seller_first"):
        return None  # a reason no waiting removes (not covered, too late, a chargeback...)
    _, earliest = eligibility.earliest_filing(command.reason, facts, policy)
    if earliest is None:
        return None
    placed = facts.placed
    assert placed is not None  # noqa: S101  # _platform_filing needs the order
    window_end = eligibility.contact_window_end(command.contact.contacted_at, facts, policy)
    latest = placed.estimated_delivery_max + policy.latest_filing_after_estimated_delivery
    due = max(earliest, window_end)
    return due if now < due <= latest else None


def open_claim(claims: Sequence[Claim], *, other_than: str) -> Claim | None:
    """The order's claim that stands in the way of another (one open claim per order): open,
    not held (a held claim waits for its order and blocks nothing yet), and not the one at
    hand."""
    for claim in claims:
        if claim.is_open and not claim.held and claim.state.claim_id != other_than:
            return claim
    return None


def planned_filings(
    facts: OrderFacts, *, claims: Sequence[Claim], now: datetime, policy: Policy
) -> list[tuple[str, str, datetime | None]]:
    """When the platform should next look at filing for each of the order's contacts, as
    (claim id the filing would have, contact id, due): due None when never, or not knowable
    until another fact. Nothing at all when the policy does not file for buyers."""
    if not policy.automatic_filing:
        return []
    return [
        (
            platform_claim_id(facts.order_id, contact_id),
            contact_id,
            automatic_filing_due(facts, contact_id, claims=claims, now=now, policy=policy),
        )
        for contact_id in facts.contacts
    ]
