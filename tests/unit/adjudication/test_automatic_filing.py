"""The platform files at the first moment every condition holds, whatever order the contact,
the estimated delivery date and the seller's silence come in; and a buyer's own word for having
written to the seller is not a contact."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from adjudication import eligibility, lifecycle
from adjudication.facts import OrderFacts
from adjudication.policy import default_policy
from contracts.claims import SellerContact
from contracts.orders import BuyerContactedSeller, ContactTopic, OrderFact, SellerReplied
from tests.unit.adjudication.builders import (
    BUYER,
    ESTIMATED_DELIVERY,
    FILED,
    ORDER,
    POLICY,
    SELLER,
    T0,
    delivered,
    event_types,
    filing,
    order_facts,
    placed,
    shipped,
)

EARLY = T0 + timedelta(days=4)  # Friday 6 March: before the parcel is even due


def _contact(at: datetime = EARLY, topic: ContactTopic = "not_received") -> BuyerContactedSeller:
    return BuyerContactedSeller(order_id=ORDER, seller_id=SELLER, contact_id="msg-1",
                                buyer_id=BUYER, contacted_at=at, topic=topic)  # fmt: skip


def _facts(*extra: OrderFact) -> OrderFacts:
    return order_facts(placed(), shipped(), *extra, with_defaults=False)


def _due(facts: OrderFacts, now: datetime) -> datetime | None:
    return lifecycle.automatic_filing_due(facts, "msg-1", claims=[], now=now, policy=POLICY)


def test_a_buyer_who_wrote_before_the_estimated_delivery_is_filed_for_when_it_is_admissible() -> (
    None
):
    facts = _facts(_contact())
    window_end = eligibility.contact_window_end(EARLY, facts, POLICY)  # Tuesday 10 March
    assert window_end < FILED  # the seller's time is up before the claim is admissible
    # At the end of the contact window the claim would be too early: look again at EDD + 3 days.
    assert _due(facts, window_end) == FILED
    early = lifecycle.automatic_filing(facts, "msg-1", claims=[], now=window_end, policy=POLICY)
    assert early.claim is None
    filed = lifecycle.automatic_filing(facts, "msg-1", claims=[], now=FILED, policy=POLICY)
    assert event_types(filed) == ["claim.filed", "claim.action_required"]


def test_a_buyer_who_wrote_late_is_filed_for_when_the_sellers_window_ends() -> None:
    late = ESTIMATED_DELIVERY + timedelta(days=4)  # Friday 13 March
    facts = _facts(_contact(late))
    window_end = eligibility.contact_window_end(late, facts, POLICY)
    assert _due(facts, late) == window_end
    assert window_end > FILED


def test_the_next_look_is_now_once_every_condition_holds() -> None:
    facts = _facts(_contact())
    assert _due(facts, FILED + timedelta(hours=1)) == FILED + timedelta(hours=1)


def test_an_answered_contact_is_never_filed_for() -> None:
    replied = SellerReplied(
        order_id=ORDER, seller_id=SELLER, contact_id="msg-1", replied_at=EARLY + timedelta(hours=2)
    )
    assert _due(_facts(_contact(), replied), EARLY) is None


def test_a_claim_past_the_latest_filing_date_is_never_filed_for() -> None:
    too_late = ESTIMATED_DELIVERY + POLICY.latest_filing_after_estimated_delivery
    assert _due(_facts(_contact()), too_late + timedelta(days=1)) is None


def test_an_item_claim_before_any_delivery_waits_for_the_carriers_fact() -> None:
    facts = _facts(_contact(topic="damaged"))
    assert _due(facts, FILED) is None  # not knowable yet: the delivery fact will ask again
    after = _facts(_contact(topic="damaged"), delivered())
    assert _due(after, FILED) == FILED


def test_a_contact_seen_before_its_order_is_planned_once_the_order_is_known() -> None:
    only_contact = order_facts(_contact(), with_defaults=False)
    assert _due(only_contact, EARLY) is None
    assert _due(_facts(_contact()), EARLY) == FILED


def test_automatic_filing_switched_off_plans_nothing() -> None:
    due = lifecycle.automatic_filing_due(
        _facts(_contact()),
        "msg-1",
        claims=[],
        now=EARLY,
        policy=replace(default_policy(), automatic_filing=False),
    )
    assert due is None


def test_a_buyers_own_word_for_a_contact_no_fact_records_is_not_a_contact() -> None:
    stated = filing(contact=SellerContact(contacted_at=EARLY))
    verdict = eligibility.check_filing(
        stated, _facts(), open_claim_id=None, now=FILED, policy=POLICY
    )
    assert verdict.denial == "contact_seller_first"


def test_an_agent_may_vouch_for_a_contact_at_a_time_that_can_be_true() -> None:
    agent = {"filed_by": "agent"}
    vouched = filing(contact=SellerContact(contacted_at=EARLY), **agent)
    verdict = eligibility.check_filing(
        vouched, _facts(), open_claim_id=None, now=FILED, policy=POLICY
    )
    assert verdict.admitted
    before_the_order = filing(contact=SellerContact(contacted_at=T0 - timedelta(days=1)), **agent)
    verdict = eligibility.check_filing(
        before_the_order, _facts(), open_claim_id=None, now=FILED, policy=POLICY
    )
    assert verdict.denial == "contact_seller_first"


def test_the_platform_plans_a_look_for_each_contact_under_the_claim_id_its_filing_would_have() -> (
    None
):
    second = _contact(EARLY + timedelta(hours=2)).model_copy(update={"contact_id": "msg-2"})
    facts = _facts(_contact(), second)
    planned = lifecycle.planned_filings(facts, claims=[], now=EARLY, policy=POLICY)
    assert [(claim_id, contact) for claim_id, contact, _ in planned] == [
        (lifecycle.platform_claim_id(ORDER, "msg-1"), "msg-1"),
        (lifecycle.platform_claim_id(ORDER, "msg-2"), "msg-2"),
    ]
    assert planned[0][2] == _due(facts, EARLY)


def test_no_look_is_planned_when_the_policy_does_not_file_for_buyers() -> None:
    off = replace(default_policy(), automatic_filing=False)
    assert lifecycle.planned_filings(_facts(_contact()), claims=[], now=EARLY, policy=off) == []
