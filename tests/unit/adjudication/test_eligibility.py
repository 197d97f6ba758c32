"""Admissibility at filing: one case per rule and per boundary, each named for its rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from adjudication import eligibility as rules
from adjudication.calendar import MarketplaceCalendar
from adjudication.eligibility import check_filing
from adjudication.policy import Policy, default_policy
from contracts.base import PositiveMoney
from contracts.orders import ChargebackFiled, OrderDelivered, OrderItem, ReturnDelivered
from tests.unit.adjudication.builders import (
    CONTACTED,
    ESTIMATED_DELIVERY,
    ORDER,
    POLICY,
    SELLER,
    contacted,
    eur,
    filing,
    order_facts,
    placed,
)

FILE_AT = ESTIMATED_DELIVERY + timedelta(days=3)  # Thursday 12 March, 09:00


def test_an_admissible_claim_names_every_rule_it_passed() -> None:
    verdict = check_filing(filing(), order_facts(), open_claim_id=None, now=FILE_AT, policy=POLICY)
    assert verdict.admitted
    assert rules.MERCHANT_FULFILLED_THIRD_PARTY in verdict.rules
    assert rules.NOT_RECEIVED_AFTER_ESTIMATE in verdict.rules
    assert verdict.rules[-1] == rules.CONTACT_FIRST


@pytest.mark.parametrize(
    ("order_changes", "rule", "reason"),
    [
        ({"fulfillment": "platform"}, rules.MERCHANT_FULFILLED_THIRD_PARTY, "not_covered"),
        ({"sold_by": "platform"}, rules.MERCHANT_FULFILLED_THIRD_PARTY, "not_covered"),
        ({"buyer_id": "someone-else"}, rules.BUYERS_OWN_ORDER, "not_covered"),
    ],
)
def test_platform_fulfilled_or_platform_sold_orders_are_not_covered(
    order_changes: dict[str, str], rule: str, reason: str
) -> None:
    facts = order_facts(placed(**order_changes))
    verdict = check_filing(filing(), facts, open_claim_id=None, now=FILE_AT, policy=POLICY)
    assert (verdict.denial, verdict.rules[-1]) == (reason, rule)


def test_an_order_of_only_digital_items_or_gift_cards_is_excluded() -> None:

    items = (
        OrderItem(
            sku="GC", title="Gift card", quantity=1, unit_price=eur("100.00"), kind="gift_card"
        ),
    )
    facts = order_facts(placed(items=items))
    verdict = check_filing(filing(), facts, open_claim_id=None, now=FILE_AT, policy=POLICY)
    assert (verdict.denial, verdict.rules[-1]) == ("excluded_item", rules.PHYSICAL_ITEMS)


def test_a_card_chargeback_already_filed_excludes_the_order() -> None:
    chargeback = ChargebackFiled(
        order_id=ORDER,
        seller_id=SELLER,
        chargeback_id="cb-1",
        filed_at=FILE_AT - timedelta(days=1),
        kind="service",
        amount=PositiveMoney(amount=eur("100.00").amount, currency="EUR"),
    )
    verdict = check_filing(
        filing(), order_facts(chargeback), open_claim_id=None, now=FILE_AT, policy=POLICY
    )
    assert (verdict.denial, verdict.rules[-1]) == ("chargeback_already_filed", rules.NO_CHARGEBACK)


def test_a_second_claim_on_an_order_with_an_open_claim_is_denied() -> None:
    verdict = check_filing(
        filing(claim_id="clm-2"), order_facts(), open_claim_id="clm-1", now=FILE_AT, policy=POLICY
    )
    assert (verdict.denial, verdict.rules[-1]) == ("claim_already_open", rules.ONE_OPEN_CLAIM)


@pytest.mark.parametrize(
    ("amount", "order_total", "expected"),
    [
        ("100.00", "100.00", None),  # exactly the order total, shipping included
        ("100.01", "100.00", "amount_over_order_total"),
        ("2500.00", "3000.00", None),  # exactly the cap
        ("2500.01", "3000.00", "amount_over_cap"),
    ],
)
def test_the_amount_claimed_is_at_most_the_order_total_and_the_cap(
    amount: str, order_total: str, expected: str | None
) -> None:
    facts = order_facts(placed(total=order_total))
    verdict = check_filing(
        filing(amount=amount), facts, open_claim_id=None, now=FILE_AT, policy=POLICY
    )
    assert verdict.denial == expected


def test_a_claim_in_another_currency_than_the_order_is_denied() -> None:
    verdict = check_filing(
        filing(currency="USD"), order_facts(), open_claim_id=None, now=FILE_AT, policy=POLICY
    )
    assert verdict.denial == "currency_mismatch"


@pytest.mark.parametrize(
    ("filed_at", "expected"),
    [
        (ESTIMATED_DELIVERY + timedelta(days=3), None),
        (ESTIMATED_DELIVERY + timedelta(days=3) - timedelta(minutes=1), "filed_too_early"),
    ],
    ids=["3_days_after_estimate", "the_minute_before"],
)
def test_not_received_can_be_filed_3_days_after_the_latest_estimated_delivery(
    filed_at: object, expected: str | None
) -> None:
    verdict = check_filing(
        filing(),
        order_facts(),
        open_claim_id=None,
        now=filed_at,  # type: ignore[arg-type]
        policy=POLICY,
    )
    assert verdict.denial == expected
    if expected:
        assert verdict.rules[-1] == rules.NOT_RECEIVED_AFTER_ESTIMATE
        assert verdict.params["earliest_date"] == ESTIMATED_DELIVERY + timedelta(days=3)


def test_not_received_can_be_filed_early_when_tracking_says_delivered() -> None:
    delivered_at = ESTIMATED_DELIVERY - timedelta(days=6)  # Tuesday 3 March
    delivery = OrderDelivered(
        order_id=ORDER,
        seller_id=SELLER,
        shipment_id="shp-1",
        delivered_at=delivered_at,
        carrier="colissimo",
        tracking_id="6A1",
    )
    facts = order_facts(placed(), delivery, contacted(at=delivered_at), with_defaults=False)
    now = delivered_at + timedelta(days=2, hours=1)
    verdict = check_filing(filing(), facts, open_claim_id=None, now=now, policy=POLICY)
    assert verdict.admitted, verdict
    assert now < ESTIMATED_DELIVERY  # well before the estimate's 3-day grace


@pytest.mark.parametrize(
    ("days_after_estimate", "expected"),
    [(90, None), (91, "filed_too_late")],
    ids=["day_90", "day_91"],
)
def test_the_latest_filing_is_90_days_after_the_latest_estimated_delivery(
    days_after_estimate: int, expected: str | None
) -> None:
    now = ESTIMATED_DELIVERY + timedelta(days=days_after_estimate)
    verdict = check_filing(filing(), order_facts(), open_claim_id=None, now=now, policy=POLICY)
    assert verdict.denial == expected


@pytest.mark.parametrize("reason", ["damaged", "defective", "not_as_described"])
def test_an_item_claim_needs_the_parcel_delivered(reason: str) -> None:
    verdict = check_filing(
        filing(reason=reason), order_facts(), open_claim_id=None, now=FILE_AT, policy=POLICY
    )
    assert (verdict.denial, verdict.rules[-1]) == (
        "filed_too_early",
        rules.ITEM_CLAIM_AFTER_DELIVERY,
    )
    delivery = OrderDelivered(
        order_id=ORDER,
        seller_id=SELLER,
        shipment_id="shp-1",
        delivered_at=CONTACTED - timedelta(hours=1),
        carrier="colissimo",
    )
    admitted = check_filing(
        filing(reason=reason), order_facts(delivery), open_claim_id=None, now=FILE_AT, policy=POLICY
    )
    assert admitted.admitted


def test_return_not_refunded_waits_two_business_days_after_the_return_reached_the_seller() -> None:
    # The return reached the seller on Friday 13 March, 10:00: two business days end Tuesday 17.
    returned_at = ESTIMATED_DELIVERY + timedelta(days=4, hours=1)
    returned = ReturnDelivered(
        order_id=ORDER, seller_id=SELLER, return_id="ret-1", delivered_at=returned_at
    )
    facts = order_facts(returned)
    claim = filing(reason="return_not_refunded")
    monday = returned_at + timedelta(days=3)
    tuesday = returned_at + timedelta(days=4)
    early = check_filing(claim, facts, open_claim_id=None, now=monday, policy=POLICY)
    on_time = check_filing(claim, facts, open_claim_id=None, now=tuesday, policy=POLICY)
    assert early.denial == "filed_too_early"
    assert early.rules[-1] == rules.RETURN_NOT_REFUNDED_AFTER_WINDOW
    assert on_time.admitted


def test_return_not_refunded_before_any_return_arrived_is_too_early() -> None:
    verdict = check_filing(
        filing(reason="return_not_refunded"),
        order_facts(),
        open_claim_id=None,
        now=FILE_AT,
        policy=POLICY,
    )
    assert verdict.denial == "filed_too_early"


def test_the_buyer_must_contact_the_seller_first() -> None:
    facts = order_facts(placed(), with_defaults=False)
    verdict = check_filing(
        filing(contact=None), facts, open_claim_id=None, now=FILE_AT, policy=POLICY
    )
    assert (verdict.denial, verdict.rules[-1]) == ("contact_seller_first", rules.CONTACT_FIRST)


def test_contact_first_can_be_switched_off_per_reason() -> None:
    facts = order_facts(placed(), with_defaults=False)
    policy = replace(default_policy(), contact_first_required_for=frozenset({"damaged"}))
    verdict = check_filing(
        filing(contact=None), facts, open_claim_id=None, now=FILE_AT, policy=policy
    )
    assert verdict.admitted


# Two business days across a weekend and a holiday: the buyer writes on Friday 13 March 2026 at
# 15:00 UTC; the marketplace's Monday 16 March is a holiday; the window ends Wednesday 15:00.
FRIDAY = CONTACTED + timedelta(days=4, hours=6)
HOLIDAY_CALENDAR = replace(
    default_policy(), calendars={"fr": MarketplaceCalendar(holidays=frozenset({date(2026, 3, 16)}))}
)


@pytest.mark.parametrize(
    ("now", "policy", "admitted"),
    [
        (FRIDAY + timedelta(days=4), POLICY, True),  # Tuesday 15:00, no holiday
        (FRIDAY + timedelta(days=4) - timedelta(minutes=1), POLICY, False),
        (FRIDAY + timedelta(days=5), HOLIDAY_CALENDAR, True),  # Wednesday 15:00
        (FRIDAY + timedelta(days=5) - timedelta(minutes=1), HOLIDAY_CALENDAR, False),
    ],
    ids=["weekend_tuesday", "weekend_minute_before", "holiday_wednesday", "holiday_minute_before"],
)
def test_the_seller_gets_two_business_days_across_weekends_and_holidays(
    now: object, policy: Policy, admitted: bool
) -> None:
    facts = order_facts(placed(), contacted(at=FRIDAY), with_defaults=False)
    claim = filing(contact=None)
    verdict = check_filing(claim, facts, open_claim_id=None, now=now, policy=policy)  # type: ignore[arg-type]
    assert verdict.admitted is admitted
    if not admitted:
        assert verdict.rules[-1] == rules.CONTACT_FIRST
