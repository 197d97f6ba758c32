"""Over random lives of a claim: an open claim always has a deadline the scheduler owns, and its
events number it 1, 2, 3... with no gap and no repeat.

Each example files a claim (its order known or not yet), then throws at it any sequence of what
can happen: every party's commands, order and carrier facts, refunds, and time passing with
every deadline that falls due firing, as the scheduler does.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from adjudication import lifecycle
from adjudication.facts import OrderFacts
from adjudication.lifecycle import Claim, Transition
from contracts.base import PositiveMoney
from contracts.claims import (
    AcceptResponse,
    Actor,
    AppealClaim,
    AppealRuling,
    ClaimCommand,
    ClaimEvent,
    DecideClaim,
    DisputeResponse,
    MessageEvidence,
    ProofOfDelivery,
    RefundResponse,
    ReplacementResponse,
    RespondToClaim,
    ReviewDecision,
    SellerResponse,
    WithdrawClaim,
)
from contracts.orders import OrderFact, OrderRefunded
from tests.unit.adjudication import builders as b

MOVES = (
    "refund",
    "replacement",
    "accept",
    "dispute_message",
    "dispute_proof",
    "withdraw",
    "review_granted",
    "review_denied",
    "appeal_seller",
    "appeal_buyer",
    "rule_upheld",
    "rule_reversed",
    "order_placed",
    "refund_fact",
    "replacement_delivered",
    "signed_scan",
    "wait",
)


class _Life:
    """One claim's life, applied the way the handlers apply it."""

    def __init__(self, order_known: bool) -> None:
        self.now = b.FILED
        self.facts: OrderFacts | None = b.order_facts() if order_known else None
        self.claim: Claim | None = None
        self.versions: list[int] = []
        self.count = 0
        self.apply(
            lifecycle.handle_command(
                b.filing(),
                command_id="file",
                claim=None,
                facts=self.facts,
                open_claim=None,
                now=self.now,
                policy=b.POLICY,
            )
        )

    def apply(self, transition: Transition) -> None:
        for event in transition.events:
            if isinstance(event, ClaimEvent):
                self.versions.append(event.claim.version)
        if transition.claim is not None:
            self.claim = transition.claim

    def command(self, command: ClaimCommand) -> None:
        self.count += 1
        self.apply(
            lifecycle.handle_command(
                command,
                command_id=f"cmd-{self.count}",
                claim=self.claim,
                facts=self.facts,
                open_claim=None,
                now=self.now,
                policy=b.POLICY,
            )
        )

    def fact(self, fact: OrderFact) -> None:
        from adjudication import facts as fold  # noqa: PLC0415  # the handlers' own fold

        self.facts = fold.apply(self.facts, fact)
        assert self.claim is not None
        if self.claim.held:
            transition = lifecycle.order_arrived(
                self.claim, self.facts, open_claim=None, now=self.now, policy=b.POLICY
            )
        else:
            transition = lifecycle.fact_seen(
                self.claim, fact, facts=self.facts, now=self.now, policy=b.POLICY
            )
        self.apply(transition)

    def wait(self, hours: int) -> None:
        """Time passes; every deadline due by then fires, earliest first."""
        until = self.now + timedelta(hours=hours)
        while self.claim is not None:
            due = sorted(lifecycle.pending_deadlines(self.claim), key=lambda d: d[1])
            if not due or due[0][1] > until:
                break
            kind, at = due[0]
            self.now = max(self.now, at)
            self.apply(lifecycle.deadline_due(self.claim, kind, now=self.now, policy=b.POLICY))
        self.now = until


def _seller(response: SellerResponse) -> RespondToClaim:
    return RespondToClaim(
        claim_id="clm-1", order_id=b.ORDER, actor=b.SELLER_ACTOR, response=response
    )


def _eur(amount: str) -> PositiveMoney:
    return PositiveMoney(amount=Decimal(amount), currency="EUR")


def _move(life: _Life, move: str, amount: str, hours: int) -> None:  # noqa: PLR0912  # one branch per move
    appeal_id = life.claim.appeal_id if life.claim and life.claim.appeal_id else "apl-x"
    if move == "refund":
        life.command(_seller(RefundResponse(amount=_eur(amount))))
    elif move == "replacement":
        eta = life.now + timedelta(hours=hours)
        life.command(
            _seller(ReplacementResponse(carrier="ups", tracking_id="1Z-R", estimated_delivery=eta))
        )
    elif move == "accept":
        life.command(_seller(AcceptResponse()))
    elif move == "dispute_message":
        text = MessageEvidence(sent_at=life.now, text="It left intact.")
        life.command(_seller(DisputeResponse(evidence=(text,))))
    elif move == "dispute_proof":
        proof = ProofOfDelivery(
            carrier="colissimo",
            tracking_id="6A1",
            delivered_at=b.ESTIMATED_DELIVERY,
            signature_obtained=True,
        )
        life.command(_seller(DisputeResponse(evidence=(proof,))))
    elif move == "withdraw":
        life.command(WithdrawClaim(claim_id="clm-1", order_id=b.ORDER, actor=b.BUYER_ACTOR))
    elif move in ("review_granted", "review_denied"):
        decision = (
            ReviewDecision(outcome="granted", funded_by="seller")
            if move == "review_granted"
            else ReviewDecision(outcome="denied", denial_reason="reviewer_denied")
        )
        life.command(
            DecideClaim(claim_id="clm-1", order_id=b.ORDER, actor=b.REVIEWER, decision=decision)
        )
    elif move in ("appeal_seller", "appeal_buyer"):
        actor: Actor = b.SELLER_ACTOR if move == "appeal_seller" else b.BUYER_ACTOR
        life.command(
            AppealClaim(
                claim_id="clm-1",
                order_id=b.ORDER,
                actor=actor,
                appeal_id=f"apl-{life.count}",
                statement="Please look again.",
            )
        )
    elif move in ("rule_upheld", "rule_reversed"):
        outcome: Literal["upheld", "reversed"] = "upheld" if move == "rule_upheld" else "reversed"
        life.command(
            DecideClaim(
                claim_id="clm-1",
                order_id=b.ORDER,
                actor=b.REVIEWER,
                decision=AppealRuling(appeal_id=appeal_id, outcome=outcome),
            )
        )
    elif move == "order_placed":
        life.fact(b.placed())
    elif move == "refund_fact":
        life.fact(
            OrderRefunded(
                order_id=b.ORDER,
                seller_id=b.SELLER,
                refund_id=f"rf-{hours}",
                refunded_at=life.now,
                initiated_by="seller",
                amount=_eur(amount),
            )
        )
    elif move == "replacement_delivered":
        life.fact(
            b.delivered(
                shipment_id="shp-r", carrier="ups", tracking_id="1Z-R", delivered_at=life.now
            )
        )
    elif move == "signed_scan":
        life.fact(b.delivered(signature_obtained=True))
    life.wait(hours)


@settings(max_examples=300, deadline=None)
@given(
    order_known=st.booleans(),
    moves=st.lists(
        st.tuples(
            st.sampled_from(MOVES),
            st.sampled_from(["10.00", "55.50", "100.00"]),
            st.integers(min_value=0, max_value=24 * 40),
        ),
        max_size=25,
    ),
)
def test_an_open_claim_always_has_a_deadline_and_its_versions_run_without_gaps(
    order_known: bool, moves: list[tuple[str, str, int]]
) -> None:
    life = _Life(order_known)
    for move, amount, hours in moves:
        if life.claim is None:
            break
        _move(life, move, amount, hours)
        claim = life.claim
        assert claim is not None
        if claim.is_open:
            assert lifecycle.pending_deadlines(claim), claim.state
        assert life.versions == list(range(1, len(life.versions) + 1))
        assert claim.state.version == life.versions[-1]
    # However it went, time ends every open claim's life.
    life.wait(24 * 365)
    assert life.claim is not None
    assert not life.claim.is_open, life.claim.state


def test_the_moves_cover_every_claim_status() -> None:
    # A fixed life through appeals, to show the generator reaches the later statuses too.
    life = _Life(order_known=True)
    seen = {life.claim.state.status if life.claim else ""}
    for move in ("dispute_message", "review_denied", "appeal_buyer", "wait"):
        _move(life, move, "10.00", 1)
        assert life.claim is not None
        seen.add(life.claim.state.status)
    assert seen == {"action_required", "under_review", "closed", "appealed"}
