"""Seller evidence against the order's facts: each corroboration rule, named for what it checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adjudication import evidence
from adjudication.evidence import corroborate
from contracts.claims import (
    Evidence,
    MessageEvidence,
    PlatformLabel,
    ProofOfDelivery,
    ReturnLabel,
    ShippedOnTime,
    TrackingEvidence,
)
from contracts.orders import OrderFact, ReturnShipped
from tests.unit.adjudication.builders import (
    ESTIMATED_DELIVERY,
    ORDER,
    POLICY,
    SELLER,
    T0,
    delivered,
    order_facts,
    shipped,
)


def _rules(item: Evidence, *facts: OrderFact) -> list[str]:
    return [found.rule for found in corroborate((item,), order_facts(*facts), POLICY)]


def _proof(**changes: Any) -> ProofOfDelivery:
    values: dict[str, Any] = {
        "carrier": "colissimo",
        "tracking_id": "6A1",
        "delivered_at": ESTIMATED_DELIVERY,
    }
    return ProofOfDelivery(**(values | changes))


def test_a_proof_matching_the_carriers_delivery_is_corroborated() -> None:
    assert _rules(_proof(signature_obtained=True), delivered(signature_obtained=True)) == []


def test_tracking_ids_compare_without_case_or_spaces() -> None:
    assert _rules(_proof(tracking_id=" 6a 1 "), delivered()) == []


def test_a_tracking_id_no_shipment_of_the_order_has_is_named() -> None:
    assert _rules(_proof(tracking_id="JD0141"), delivered()) == [evidence.TRACKING_OF_THE_ORDER]


def test_another_carrier_than_the_one_that_carried_the_parcel_is_named() -> None:
    assert _rules(_proof(carrier="dhl"), delivered()) == [evidence.CARRIER_AS_REPORTED]


def test_a_proof_of_a_delivery_the_carrier_never_reported_is_not_corroborated() -> None:
    # The parcel was shipped, but no delivery scan exists (yet).
    assert _rules(_proof()) == [evidence.DELIVERY_REPORTED]


@pytest.mark.parametrize(
    ("stated", "rules"),
    [
        (timedelta(minutes=59), []),
        (timedelta(hours=2), [evidence.DELIVERED_AT_AS_REPORTED]),
        (-timedelta(days=1), [evidence.DELIVERED_AT_AS_REPORTED]),
    ],
    ids=["within_the_tolerance", "two_hours_off", "a_day_early"],
)
def test_the_delivery_time_must_be_the_carriers_within_the_tolerance(
    stated: timedelta, rules: list[str]
) -> None:
    assert _rules(_proof(delivered_at=ESTIMATED_DELIVERY + stated), delivered()) == rules


@pytest.mark.parametrize(
    ("claimed", "rule"),
    [
        ({"signature_obtained": True}, evidence.SIGNATURE_AS_REPORTED),
        ({"id_checked": True}, evidence.ID_CHECK_AS_REPORTED),
    ],
    ids=["signature", "id_check"],
)
def test_a_signature_or_id_check_the_carrier_did_not_report_is_a_discrepancy(
    claimed: dict[str, bool], rule: str
) -> None:
    assert _rules(_proof(**claimed), delivered()) == [rule]


def test_a_delivery_elsewhere_than_the_buyers_address_is_a_discrepancy() -> None:
    assert _rules(_proof(), delivered(to_buyer_address=False)) == [evidence.ADDRESS_AS_REPORTED]


def test_understating_what_the_carrier_did_is_no_discrepancy() -> None:
    signed = delivered(signature_obtained=True, id_checked=True)
    assert _rules(_proof(signature_obtained=False, id_checked=False), signed) == []


def test_tracking_evidence_must_name_a_shipment_that_left_when_stated() -> None:
    left = T0 + timedelta(days=1)  # the default shipment
    assert _rules(TrackingEvidence(carrier="colissimo", tracking_id="6A1", shipped_at=left)) == []
    late = TrackingEvidence(carrier="colissimo", tracking_id="6A1", shipped_at=left + timedelta(3))
    assert _rules(late) == [evidence.SHIPPED_AT_AS_REPORTED]


def test_tracking_the_carrier_reported_only_as_delivered_has_no_shipment_scan() -> None:
    facts = [shipped(tracking_id=None), delivered(tracking_id="6B2")]
    item = TrackingEvidence(carrier="colissimo", tracking_id="6B2", shipped_at=T0)
    assert _rules(item, *facts) == [evidence.SHIPMENT_REPORTED]


def test_a_platform_label_must_be_on_one_of_the_orders_shipments() -> None:
    label = PlatformLabel(label_id="lbl-1", bought_at=T0)
    assert _rules(label) == [evidence.PLATFORM_LABEL_ON_RECORD]
    assert _rules(label, shipped(label_bought_through_platform=True)) == []


def test_shipped_on_time_must_state_the_orders_own_ship_by_and_a_real_departure() -> None:
    left, ship_by = T0 + timedelta(days=1), T0 + timedelta(days=2)
    assert _rules(ShippedOnTime(shipped_at=left, ship_by=ship_by)) == []
    moved_deadline = ShippedOnTime(shipped_at=left, ship_by=ship_by + timedelta(days=5))
    assert _rules(moved_deadline) == [evidence.SHIP_BY_OF_THE_ORDER]
    invented_departure = ShippedOnTime(shipped_at=left - timedelta(hours=20), ship_by=ship_by)
    assert _rules(invented_departure) == [evidence.SHIPPED_AT_AS_REPORTED]


def test_a_return_label_naming_tracking_must_name_one_of_the_orders_returns() -> None:
    label = ReturnLabel(return_address="1 rue du Port", carrier="ups", tracking_id="1ZR")
    assert _rules(label) == [evidence.RETURN_TRACKING_OF_THE_ORDER]
    back = ReturnShipped(
        order_id=ORDER, seller_id=SELLER, return_id="r1", shipped_at=T0, carrier="ups",
        tracking_id="1ZR",
    )  # fmt: skip
    assert _rules(label, back) == []


def test_a_message_is_context_with_nothing_to_check() -> None:
    assert _rules(MessageEvidence(sent_at=T0, text="I shipped it.")) == []


def test_each_discrepancy_points_at_its_item_and_says_it_in_a_sentence() -> None:
    items: tuple[Evidence, ...] = (
        MessageEvidence(sent_at=T0, text="Delivered and signed."),
        _proof(tracking_id="JD0141", signature_obtained=True),
    )
    (found,) = corroborate(items, order_facts(delivered()), POLICY)
    assert found.evidence_index == 1
    assert found.message == "Tracking id JD0141 is not one of this order's shipments."
