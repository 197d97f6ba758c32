"""The simulated marketplace is built from its seed alone, and each claim story is built so
that the policy's answer is the one the simulator expects."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

import pytest

from contracts import codec
from contracts.envelope import Payload, wrap
from contracts.orders import (
    BuyerContactedSeller,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
    SellerReplied,
)
from contracts.topics import ORDERS
from marketsim.profiles import PROFILES
from marketsim.scenarios import Call, Case, Scenario
from marketsim.world import CHAIN_DAYS, SIGNATURE_THRESHOLD, World, WorldConfig, build_world

END = datetime(2026, 6, 1, tzinfo=UTC)


@cache
def world(seed: int = 5) -> World:
    return build_world(WorldConfig(seed=seed, days=60, end=END, sellers_per_profile=2))


def _facts_of(order_id: str, w: World | None = None) -> list[Payload]:
    timeline = (w or world()).timeline
    return [i.fact for i in timeline if i.fact and getattr(i.fact, "order_id", None) == order_id]


def _cases(scenario: Scenario, seed: int = 5) -> list[Case]:
    found = [case for case in world(seed).cases.values() if case.scenario is scenario]
    assert found, f"seed {seed} should tell at least one {scenario} story"
    return found


def test_the_same_seed_builds_the_same_marketplace() -> None:
    config = WorldConfig(seed=9, days=20, end=END, sellers_per_profile=1)
    first, second = build_world(config), build_world(config)
    assert [(i.at, i.fact, i.case and i.case.order_id) for i in first.timeline] == [
        (i.at, i.fact, i.case and i.case.order_id) for i in second.timeline
    ]


def test_another_seed_builds_another_marketplace() -> None:
    one = build_world(WorldConfig(seed=1, days=20, end=END, sellers_per_profile=1))
    two = build_world(WorldConfig(seed=2, days=20, end=END, sellers_per_profile=1))
    assert [i.at for i in one.timeline] != [i.at for i in two.timeline]


def test_every_seller_profile_is_dealt_sellers() -> None:
    dealt = Counter(seller.profile.name for seller in world().sellers)
    assert dealt == {profile.name: 2 for profile in PROFILES}


def test_the_timeline_runs_in_time_order_within_the_simulated_span() -> None:
    times = [item.at for item in world().timeline]
    assert times == sorted(times)
    assert world().config.start <= times[0]
    assert times[-1] < END


def test_every_fact_passes_its_contract_on_the_wire() -> None:
    for item in world().timeline[:3000]:
        if item.fact is not None:
            envelope = wrap(item.fact, source="/test", subject="x", time=item.at)
            assert codec.decode(ORDERS, codec.encode(envelope)).data == item.fact


def test_every_claim_story_meant_to_end_leaves_room_to_play_out_before_the_end() -> None:
    for case in world().cases.values():
        if case.filing is not None and case.expected.status == "closed":
            assert case.filing.at + timedelta(days=CHAIN_DAYS) < END


def test_buyers_file_after_the_seller_had_the_contact_window_and_replied() -> None:
    for case in world().cases.values():
        contact = (case.filing.body.get("contact") if case.filing else None) or None
        if contact is None:
            continue
        contacted_at = datetime.fromisoformat(contact["contacted_at"])
        assert case.filing is not None
        assert case.filing.at - contacted_at >= timedelta(days=6)  # > 2 business days, always
        facts = _facts_of(case.order_id)
        assert any(isinstance(f, SellerReplied) and not f.resolved for f in facts), case.order_id


def test_a_silent_seller_story_has_a_buyer_message_and_never_a_reply() -> None:
    for case in _cases(Scenario.SILENT_SELLER):
        facts = _facts_of(case.order_id)
        assert any(isinstance(f, BuyerContactedSeller) for f in facts)
        assert not any(isinstance(f, SellerReplied) for f in facts)
        assert case.filing is None
        assert case.expected.filed_by == "platform"


def test_a_signed_proof_story_is_delivered_against_a_signature() -> None:
    for case in _cases(Scenario.SIGNED_PROOF_OF_DELIVERY):
        facts = _facts_of(case.order_id)
        placed = next(f for f in facts if isinstance(f, OrderPlaced))
        delivered = [f for f in facts if isinstance(f, OrderDelivered)]
        assert delivered
        assert all(d.signature_obtained for d in delivered)
        if placed.total.amount > SIGNATURE_THRESHOLD:
            assert all(d.id_checked for d in delivered)


def test_a_third_day_story_is_a_signed_proof_sent_past_48_hours_and_inside_72() -> None:
    for case in _cases(Scenario.ANSWERS_ON_THE_THIRD_DAY, seed=8):
        [dispute] = case.on_action_required
        assert isinstance(dispute, Call)
        assert dispute.party == "seller"
        [proof] = dispute.body["response"]["evidence"]
        assert proof["kind"] == "proof_of_delivery"
        assert proof["signature_obtained"]
        assert timedelta(hours=50) <= dispute.after <= timedelta(hours=70)
        assert case.seller_silence(END) == dispute.after
        assert case.expected.label() == "closed:granted/platform"


def test_the_sellers_silence_ends_at_the_first_move_the_platform_takes() -> None:
    # A partial refund is an answer; a refused replacement promise is none.
    for case in _cases(Scenario.PARTIAL_REFUND_THEN_SILENT, seed=8):
        assert case.seller_silence(END) == timedelta(hours=5)
    for case in _cases(Scenario.FAR_OUT_REPLACEMENT, seed=8):
        assert case.seller_silence(END) is None  # silence decides it, under any window
    for case in _cases(Scenario.SILENT_SELLER, seed=8):
        assert case.seller_silence(END) is None


def test_a_no_tracking_story_ships_without_tracking_and_never_delivers() -> None:
    for case in _cases(Scenario.NO_VALID_TRACKING):
        facts = _facts_of(case.order_id)
        assert [f.tracking_id for f in facts if isinstance(f, OrderShipped)] == [None]
        assert not any(isinstance(f, OrderDelivered) for f in facts)


def test_an_unsigned_story_is_above_the_signature_threshold() -> None:
    for case in _cases(Scenario.UNSIGNED_ABOVE_THRESHOLD):
        facts = _facts_of(case.order_id)
        placed = next(f for f in facts if isinstance(f, OrderPlaced))
        assert placed.total.amount > SIGNATURE_THRESHOLD
        assert not any(isinstance(f, OrderDelivered) and f.signature_obtained for f in facts)


@pytest.mark.parametrize("seed", [5, 6])
def test_only_the_not_covered_story_happens_to_platform_fulfilled_orders(seed: int) -> None:
    w = world(seed)
    for case in w.cases.values():
        placed = next(f for f in _facts_of(case.order_id, w) if isinstance(f, OrderPlaced))
        assert (placed.fulfillment == "platform") == (case.scenario is Scenario.NOT_COVERED)


def test_a_claim_of_more_than_the_order_total_is_expected_to_be_denied() -> None:
    for case in _cases(Scenario.OVER_ORDER_TOTAL):
        assert case.filing is not None
        placed = next(f for f in _facts_of(case.order_id) if isinstance(f, OrderPlaced))
        assert Decimal(case.filing.body["amount"]["amount"]) > placed.total.amount
        assert case.expected.resolution == "denied"
        assert case.expected.denial_reason == "amount_over_order_total"


def test_claims_left_open_at_the_end_are_filed_inside_their_last_window() -> None:
    w = build_world(WorldConfig(seed=7, days=30, end=END, sellers_per_profile=4))
    open_cases = [c for c in w.cases.values() if c.expected.status != "closed"]
    assert {c.scenario for c in open_cases} == {
        Scenario.AWAITING_SELLER,
        Scenario.AWAITING_REVIEWER,
    }
    for case in open_cases:
        assert case.filing is not None
        before_end = END - case.filing.at
        if case.scenario is Scenario.AWAITING_SELLER:
            # The seller's 72 hours have not run out when the run ends, and nobody reacts.
            assert timedelta(hours=6) < before_end < timedelta(hours=72)
            assert case.on_action_required == ()
            assert case.seller_silence(END) == before_end  # and counting
        else:
            # Room for the seller's dispute; no reviewer plan, so it waits in the queue.
            assert before_end > timedelta(days=2)
            assert case.review is None
        assert case.expected.resolution is None
        assert case.expected.counts_toward_odr  # pending claims count (PRODUCT.md's default)
