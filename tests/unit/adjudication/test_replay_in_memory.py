"""The in-memory replay decides as the service does: deadlines fire on event time, each at its
due time, before the message that passes it; a policy's numbers change the outcome."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from adjudication.policy import default_policy
from adjudication.replay import Replay
from contracts.claims import RefundResponse, RespondToClaim
from contracts.envelope import Envelope, Payload, wrap
from tests.unit.adjudication.builders import (
    CONTACTED,
    ESTIMATED_DELIVERY,
    SELLER_ACTOR,
    contacted,
    filing,
    placed,
    shipped,
)

FILED = ESTIMATED_DELIVERY + timedelta(days=3)
# The buyers here file themselves: the platform's own filing for an unanswered contact is off.
POLICY = replace(default_policy(), automatic_filing=False)


def _inputs(order: str, claim: str, **placement: Any) -> list[tuple[Payload, datetime]]:
    return [
        (placed(order_id=order, **placement), ESTIMATED_DELIVERY - timedelta(days=7)),
        (shipped(order_id=order), ESTIMATED_DELIVERY - timedelta(days=6)),
        (contacted().model_copy(update={"order_id": order}), CONTACTED),
        (filing(order_id=order, claim_id=claim), FILED),
    ]


def _envelopes(steps: list[tuple[Payload, datetime]]) -> list[Envelope[Any]]:
    ordered = sorted(enumerate(steps), key=lambda step: (step[1][1], step[0]))
    return [wrap(payload, source="/test", subject="s", time=at, event_id=f"in-{index}")
            for index, (payload, at) in ordered]  # fmt: skip


def _outcomes(replay: Replay) -> dict[str, tuple[Any, ...]]:
    return {c.state.claim_id: (c.state.status, c.state.resolution, c.state.funded_by)
            for c in replay.claims()}  # fmt: skip


def test_a_silent_seller_pays_when_the_response_window_has_passed_by_the_end() -> None:
    replay = Replay(POLICY)
    for envelope in _envelopes(_inputs("o-1", "c-1")):
        replay.feed(envelope)
    assert _outcomes(replay) == {"c-1": ("action_required", None, "none")}
    replay.finish(FILED + timedelta(hours=71))
    assert _outcomes(replay)["c-1"][0] == "action_required"  # 72 h not yet gone
    replay.finish(FILED + timedelta(hours=72))
    assert _outcomes(replay) == {"c-1": ("closed", "granted", "seller")}
    decided = replay.last_decision["c-1"]
    assert decided.rules
    assert decided.policy == default_policy().version


def test_a_platform_fulfilled_order_is_denied_at_filing() -> None:
    replay = Replay(POLICY)
    for envelope in _envelopes(_inputs("o-2", "c-2", fulfillment="platform")):
        replay.feed(envelope)
    assert _outcomes(replay) == {"c-2": ("closed", "denied", "none")}


def test_a_deadline_fires_before_the_message_that_passes_it() -> None:
    # The seller refunds after 60 hours: within 72 h the refund closes the claim; under a
    # 48-hour policy the claim was granted by silence before the refund came.
    refund = RespondToClaim(claim_id="c-3", order_id="o-3", actor=SELLER_ACTOR,
                            response=RefundResponse(amount=filing().amount))  # fmt: skip
    later = [*_inputs("o-3", "c-3"), (refund, FILED + timedelta(hours=60))]
    short = replace(POLICY, seller_response_window=timedelta(hours=48))
    outcomes = {}
    for name, policy in (("72h", POLICY), ("48h", short)):
        replay = Replay(policy)
        for envelope in _envelopes(later):
            replay.feed(envelope)
        outcomes[name] = _outcomes(replay)["c-3"]
    assert outcomes["72h"] == ("closed", "refunded_by_seller", "seller")
    assert outcomes["48h"] == ("closed", "granted", "seller")
