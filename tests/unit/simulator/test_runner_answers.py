"""How the runner reads the platform's answers to the moves it made, without a platform: a
refusal the story expects is part of the story, any other refusal is a problem, and a move
that decides nothing (a partial refund) is answered once the platform has recorded it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contracts.base import PositiveMoney
from contracts.claims import (
    AcceptResponse,
    Actor,
    ClaimCommandRejected,
    ClaimDecided,
    ClaimResponded,
    ClaimState,
    RefundResponse,
    RejectionReason,
)
from marketsim.runner import Runner, Target, _Sent
from marketsim.scenarios import Case, Scenario
from marketsim.world import World, WorldConfig, build_world
from servicekit.kafka import KafkaAccess

END = datetime(2026, 6, 1, tzinfo=UTC)
AT = END - timedelta(days=20)


def _runner_and_case(scenario: Scenario) -> tuple[Runner, Case]:
    world: World = build_world(WorldConfig(seed=1, days=90, end=END, sellers_per_profile=1))
    case = next(c for c in world.cases.values() if c.scenario is scenario)
    case.claim_id = f"clm-{case.order_id}"
    return Runner(world, Target("http://intake", KafkaAccess("kafka:9092"), "token")), case


def _rejected(case: Case, reason: RejectionReason, command_id: str) -> ClaimCommandRejected:
    assert case.claim_id is not None
    return ClaimCommandRejected(
        claim_id=case.claim_id,
        order_id=case.order_id,
        command_id=command_id,
        command_type="claim.respond",
        actor=Actor(role="seller", subject=case.seller_id),
        reason=reason,
        detail="refused",
    )


def _state(case: Case, version: int, **changes: object) -> ClaimState:
    assert case.claim_id is not None
    base: dict[str, object] = {
        "claim_id": case.claim_id,
        "order_id": case.order_id,
        "seller_id": case.seller_id,
        "buyer_id": case.buyer_id,
        "reason": "damaged",
        "amount": PositiveMoney(amount=Decimal("80.00"), currency="EUR"),
        "filed_by": "buyer",
        "filed_at": AT,
        "status": "action_required",
        "counts_toward_odr": True,
        "version": version,
    }
    return ClaimState.model_validate(base | changes)


def test_the_far_out_replacements_refusal_is_counted_as_the_story_expects() -> None:
    runner, case = _runner_and_case(Scenario.FAR_OUT_REPLACEMENT)
    runner._on_rejected(_rejected(case, "replacement_estimate_out_of_bounds", "cmd-1"))
    assert runner.observed.refused_as_expected == {"replacement_estimate_out_of_bounds": 1}
    assert runner.observed.rejected == []
    assert case.observed["refusals"] == ["replacement_estimate_out_of_bounds"]


def test_the_same_refusal_read_twice_counts_once() -> None:
    runner, case = _runner_and_case(Scenario.FAR_OUT_REPLACEMENT)
    for _ in range(2):
        runner._on_rejected(_rejected(case, "replacement_estimate_out_of_bounds", "cmd-1"))
    assert runner.observed.refused_as_expected == {"replacement_estimate_out_of_bounds": 1}
    assert case.observed["refusals"] == ["replacement_estimate_out_of_bounds"]


def test_a_refusal_beyond_what_the_story_expects_is_a_problem() -> None:
    runner, case = _runner_and_case(Scenario.FAR_OUT_REPLACEMENT)
    runner._on_rejected(_rejected(case, "replacement_estimate_out_of_bounds", "cmd-1"))
    runner._on_rejected(_rejected(case, "replacement_estimate_out_of_bounds", "cmd-2"))
    runner._on_rejected(_rejected(case, "deadline_passed", "cmd-3"))
    assert runner.observed.refused_as_expected == {"replacement_estimate_out_of_bounds": 1}
    assert len(runner.observed.rejected) == 2
    assert "deadline_passed" in runner.observed.rejected[1]


def test_a_refusal_in_a_story_that_expects_none_is_a_problem() -> None:
    runner, case = _runner_and_case(Scenario.PARTIAL_REFUND_THEN_SILENT)
    runner._on_rejected(_rejected(case, "refund_currency_mismatch", "cmd-1"))
    assert runner.observed.refused_as_expected == {}
    assert len(runner.observed.rejected) == 1
    assert "refund_currency_mismatch" in runner.observed.rejected[0]


def test_a_refusal_stops_the_wait_for_the_moves_answer() -> None:
    runner, case = _runner_and_case(Scenario.FAR_OUT_REPLACEMENT)
    runner._waiting[case.order_id] = _Sent(AT, 0.0, decides=False)
    runner._on_rejected(_rejected(case, "replacement_estimate_out_of_bounds", "cmd-1"))
    assert case.order_id not in runner._waiting


def test_a_partial_refund_is_answered_once_the_platform_records_it_and_is_not_timed() -> None:
    runner, case = _runner_and_case(Scenario.PARTIAL_REFUND_THEN_SILENT)
    runner._waiting[case.order_id] = _Sent(AT, 0.0, decides=False)
    refund = RefundResponse(amount=PositiveMoney(amount=Decimal("30.00"), currency="EUR"))
    assert case.claim_id is not None
    responded = ClaimResponded(
        claim_id=case.claim_id,
        order_id=case.order_id,
        claim=_state(case, 3),
        rules=("response.partial_refund",),
        response=refund,
    )
    runner._on_event(responded, AT)
    assert case.order_id not in runner._waiting
    assert runner.observed.decision_latency_ms == []
    assert "response.partial_refund" in case.observed["rules"]


def test_a_deciding_move_waits_for_its_decision_not_for_its_record() -> None:
    runner, case = _runner_and_case(Scenario.SELLER_ACCEPTS)
    assert case.claim_id is not None
    runner._waiting[case.order_id] = _Sent(AT, 0.0, decides=True)
    responded = ClaimResponded(
        claim_id=case.claim_id,
        order_id=case.order_id,
        claim=_state(case, 3),
        response=AcceptResponse(),
    )
    runner._on_event(responded, AT)
    assert case.order_id in runner._waiting
    closed = _state(case, 4, status="closed", resolution="granted", funded_by="seller")
    decided = ClaimDecided(
        claim_id=case.claim_id,
        order_id=case.order_id,
        claim=closed,
        rules=("decision.seller_accepted",),
        outcome="granted",
        decided_by="rules",
    )
    runner._on_event(decided, AT)
    assert case.order_id not in runner._waiting
    assert len(runner.observed.decision_latency_ms) == 1
