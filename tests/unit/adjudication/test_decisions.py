"""The decision rules, in order, each case named for the rule that decides it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adjudication import decisions, evidence
from adjudication.decisions import Case, decide_dispute
from contracts.claims import (
    Evidence,
    MessageEvidence,
    PlatformLabel,
    ProofOfDelivery,
    ShippedOnTime,
)
from contracts.orders import OrderDelivered, OrderDeliveryFailed, OrderFact, ReturnDelivered
from tests.unit.adjudication.builders import (
    ESTIMATED_DELIVERY,
    ORDER,
    POLICY,
    SELLER,
    T0,
    order_facts,
    placed,
    shipped,
)


def _delivered(*, signed: bool, id_checked: bool = False, to_buyer: bool = True) -> OrderDelivered:
    return OrderDelivered(
        order_id=ORDER,
        seller_id=SELLER,
        shipment_id="shp-1",
        delivered_at=ESTIMATED_DELIVERY,
        carrier="colissimo",
        tracking_id="6A1",
        to_buyer_address=to_buyer,
        signature_obtained=signed,
        id_checked=id_checked,
    )


def _case(
    *facts: OrderFact,
    evidence: tuple[Evidence, ...] = (),
    reason: str = "not_received",
    total: str = "100.00",
    defaults: bool = True,
) -> Case:
    base: list[OrderFact] = [placed(total=total), shipped()] if defaults else [placed(total=total)]
    built = order_facts(*base, *facts, with_defaults=False)
    return Case(reason, evidence, built, POLICY)  # type: ignore[arg-type]


def test_signed_proof_of_delivery_to_the_buyer_is_granted_platform_funded() -> None:
    outcome = decide_dispute(_case(_delivered(signed=True)))
    assert outcome == decisions.Outcome(
        decisions.SIGNED_PROOF_OF_DELIVERY, "granted", "platform", counts_toward_odr=False
    )


def _signed_proof(tracking_id: str = "6A1") -> ProofOfDelivery:
    return ProofOfDelivery(
        carrier="colissimo",
        tracking_id=tracking_id,
        delivered_at=ESTIMATED_DELIVERY,
        signature_obtained=True,
    )


def test_a_sellers_signed_proof_that_the_carrier_reported_is_granted_platform_funded() -> None:
    outcome = decide_dispute(_case(_delivered(signed=True), evidence=(_signed_proof(),)))
    assert (outcome.rule, outcome.funded_by) == (decisions.SIGNED_PROOF_OF_DELIVERY, "platform")


def test_a_sellers_signed_proof_no_carrier_reported_goes_to_a_reviewer_not_to_the_platform() -> (
    None
):
    outcome = decide_dispute(_case(_delivered(signed=False), evidence=(_signed_proof("JD99"),)))
    assert (outcome.kind, outcome.rule) == ("under_review", decisions.EVIDENCE_NOT_CORROBORATED)
    assert [d.rule for d in outcome.discrepancies] == [evidence.TRACKING_OF_THE_ORDER]


def test_a_proof_claiming_a_signature_the_carrier_did_not_get_is_no_proof() -> None:
    outcome = decide_dispute(_case(_delivered(signed=False), evidence=(_signed_proof(),)))
    assert outcome.kind == "under_review"
    assert [d.rule for d in outcome.discrepancies] == [evidence.SIGNATURE_AS_REPORTED]


def test_contradicted_evidence_cannot_spare_a_seller_who_must_pay() -> None:
    # Above the threshold, unsigned: the seller pays, whatever the forged proof says.
    outcome = decide_dispute(
        _case(_delivered(signed=False), evidence=(_signed_proof(),), total="900.00")
    )
    assert (outcome.rule, outcome.funded_by) == (decisions.NO_VALID_TRACKING, "seller")


def test_delivered_to_another_address_is_no_proof() -> None:
    outcome = decide_dispute(_case(_delivered(signed=True, to_buyer=False)))
    assert outcome.rule != decisions.SIGNED_PROOF_OF_DELIVERY


@pytest.mark.parametrize(
    ("total", "id_checked", "rule"),
    [
        ("750.00", False, decisions.SIGNED_PROOF_OF_DELIVERY),  # at the threshold: no ID needed
        ("750.01", False, decisions.NEEDS_REVIEW),  # above it: a signature without ID is not enough
        ("750.01", True, decisions.SIGNED_PROOF_OF_DELIVERY),
    ],
    ids=["at_threshold", "above_threshold_without_id", "above_threshold_with_id"],
)
def test_above_the_signature_threshold_the_id_must_be_checked(
    total: str, id_checked: bool, rule: str
) -> None:
    outcome = decide_dispute(_case(_delivered(signed=True, id_checked=id_checked), total=total))
    assert outcome.rule == rule


def test_above_the_signature_threshold_without_signature_the_seller_pays() -> None:
    outcome = decide_dispute(_case(_delivered(signed=False), total="900.00"))
    assert (outcome.rule, outcome.funded_by) == (decisions.NO_VALID_TRACKING, "seller")


_LABEL_EVIDENCE: tuple[Evidence, ...] = (
    PlatformLabel(label_id="lbl-1", bought_at=T0),
    ShippedOnTime(shipped_at=T0 + timedelta(days=1), ship_by=T0 + timedelta(days=2)),
)


def test_platform_label_shipped_on_time_with_scans_is_shipping_protection() -> None:
    on_label = shipped(label_bought_through_platform=True)
    outcome = decide_dispute(_case(on_label, evidence=_LABEL_EVIDENCE, defaults=False))
    assert outcome == decisions.Outcome(
        decisions.SHIPPING_PROTECTION, "granted", "platform", counts_toward_odr=False
    )


def test_a_platform_label_the_order_facts_do_not_show_is_no_shipping_protection() -> None:
    outcome = decide_dispute(_case(evidence=_LABEL_EVIDENCE))
    assert outcome.kind == "under_review"
    assert [d.rule for d in outcome.discrepancies] == [evidence.PLATFORM_LABEL_ON_RECORD]


def test_shipped_late_on_a_platform_label_is_no_shipping_protection() -> None:
    late = shipped(shipped_at=T0 + timedelta(days=3), label_bought_through_platform=True)
    outcome = decide_dispute(_case(late, defaults=False))
    assert outcome.rule != decisions.SHIPPING_PROTECTION


def test_no_valid_tracking_grants_the_claim_seller_funded() -> None:
    outcome = decide_dispute(_case(shipped(tracking_id=None), defaults=False))
    assert outcome == decisions.Outcome(decisions.NO_VALID_TRACKING, "granted", "seller")


def test_a_refused_parcel_returning_to_the_seller_is_refunded_without_odr_impact() -> None:
    refused = OrderDeliveryFailed(
        order_id=ORDER,
        seller_id=SELLER,
        shipment_id="shp-1",
        failed_at=ESTIMATED_DELIVERY,
        failure="refused",
        returning_to_seller=True,
    )
    outcome = decide_dispute(
        _case(
            refused,
            evidence=(MessageEvidence(sent_at=ESTIMATED_DELIVERY, text="The buyer refused it."),),
            reason="not_as_described",
        )
    )
    assert outcome == decisions.Outcome(
        decisions.RETURNED_TO_SELLER, "granted", "seller", counts_toward_odr=False
    )


def test_return_delivered_to_the_seller_and_not_refunded_is_seller_funded() -> None:
    returned = ReturnDelivered(
        order_id=ORDER,
        seller_id=SELLER,
        return_id="ret-1",
        delivered_at=ESTIMATED_DELIVERY + timedelta(days=5),
    )
    outcome = decide_dispute(_case(returned, reason="return_not_refunded"))
    assert outcome == decisions.Outcome(decisions.RETURN_NOT_REFUNDED, "granted", "seller")


def test_delivered_without_signature_below_threshold_goes_to_a_reviewer() -> None:
    outcome = decide_dispute(_case(_delivered(signed=False)))
    assert outcome == decisions.Outcome(decisions.NEEDS_REVIEW, "under_review")


@pytest.mark.parametrize("reason", ["damaged", "not_as_described"])
def test_a_disputed_item_claim_goes_to_a_reviewer(reason: str) -> None:
    evidence = (MessageEvidence(sent_at=ESTIMATED_DELIVERY, text="It left here intact."),)
    outcome = decide_dispute(_case(_delivered(signed=True), evidence=evidence, reason=reason))
    assert outcome.kind == "under_review"


def test_the_rules_are_tried_in_the_documented_order() -> None:
    assert [rule.__name__ for rule in decisions.DECISION_RULES] == [
        "signed_proof_of_delivery",
        "shipping_protection",
        "no_valid_tracking_or_unsigned_above_threshold",
        "refused_or_undeliverable_and_returning",
        "return_delivered_and_not_refunded",
    ]
