"""Every message survives JSON and back unchanged, with the field names order systems rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts import codec
from contracts.envelope import Envelope
from contracts.examples import examples

ALL_EXAMPLES = [(topic, env) for topic, envs in examples().items() for env in envs]

ENVELOPE_FIELDS = {
    "specversion", "id", "source", "type", "time", "subject", "datacontenttype",
    "dataschema", "correlationid", "data",
}  # fmt: skip

# The wire names of each payload. Renaming a field breaks every consumer: this list changes only
# together with a new schema version.
EVENT_FIELDS: set[str] = {"claim_id", "order_id", "claim", "rules", "policy"}
"""What every claim event carries (contracts.claims.ClaimEvent)."""

PAYLOAD_FIELDS: dict[str, set[str]] = {
    "order.placed": {"order_id", "seller_id", "buyer_id", "marketplace_id", "placed_at",
                     "fulfillment", "sold_by", "items", "shipping", "total", "ship_by",
                     "estimated_delivery_min", "estimated_delivery_max", "buyer_language"},
    "order.shipped": {"order_id", "seller_id", "shipment_id", "shipped_at", "carrier",
                      "tracking_id", "label_bought_through_platform"},
    "order.delivered": {"order_id", "seller_id", "shipment_id", "delivered_at", "carrier",
                        "tracking_id", "to_buyer_address", "signature_obtained", "id_checked"},
    "order.delivery_failed": {"order_id", "seller_id", "shipment_id", "failed_at", "failure",
                              "returning_to_seller"},
    "order.refunded": {"order_id", "seller_id", "refund_id", "refunded_at", "amount",
                       "initiated_by"},
    "return.shipped": {"order_id", "seller_id", "return_id", "shipped_at", "carrier",
                       "tracking_id"},
    "return.delivered": {"order_id", "seller_id", "return_id", "delivered_at"},
    "buyer.contacted_seller": {"order_id", "seller_id", "contact_id", "buyer_id", "contacted_at",
                               "topic", "message"},
    "seller.replied": {"order_id", "seller_id", "contact_id", "replied_at", "resolved",
                       "message"},
    "feedback.posted": {"order_id", "seller_id", "feedback_id", "posted_at", "rating", "comment"},
    "feedback.removed": {"order_id", "seller_id", "feedback_id", "removed_at"},
    "chargeback.filed": {"order_id", "seller_id", "chargeback_id", "filed_at", "kind", "amount"},
    "claim.file": {"claim_id", "order_id", "actor", "buyer_id", "reason", "amount",
                   "description", "filed_by", "contact", "language"},
    "claim.withdraw": {"claim_id", "order_id", "actor", "note"},
    "claim.respond": {"claim_id", "order_id", "actor", "response"},
    "claim.decide": {"claim_id", "order_id", "actor", "decision"},
    "claim.appeal": {"claim_id", "order_id", "actor", "appeal_id", "statement", "evidence"},
    "claim.filed": EVENT_FIELDS | {"description"},
    "claim.denied": EVENT_FIELDS | {"reason", "message"},
    "claim.action_required": EVENT_FIELDS | {"respond_by"},
    "claim.responded": EVENT_FIELDS | {"response"},
    "claim.under_review": EVENT_FIELDS | {"discrepancies"},
    "claim.decided": EVENT_FIELDS | {"outcome", "decided_by", "denial_reason", "message"},
    "claim.closed": EVENT_FIELDS | {"resolution"},
    "claim.refund_recorded": EVENT_FIELDS | {"refund"},
    "claim.appealed": EVENT_FIELDS | {"appeal_id", "appellant"},
    "claim.appeal_decided": EVENT_FIELDS | {"appeal_id", "outcome"},
    "claim.command_rejected": {"claim_id", "order_id", "command_id", "command_type", "actor",
                               "reason", "detail"},
    "seller.odr_changed": {"seller_id", "window", "combined", "by_channel", "status", "target",
                           "orders_to_recover", "projected_crossing"},
    "seller.status_changed": {"seller_id", "previous_status", "status", "rate", "target",
                              "as_of"},
}  # fmt: skip

CLAIM_STATE_FIELDS = {
    "claim_id", "order_id", "seller_id", "buyer_id", "reason", "amount", "filed_by", "filed_at",
    "status", "resolution", "funded_by", "counts_toward_odr", "deadlines", "refunds", "version",
}  # fmt: skip


def _ids(item: tuple[str, Envelope[Any]]) -> str:
    return item[1].type


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=_ids)
def test_every_message_survives_a_json_round_trip_unchanged(
    example: tuple[str, Envelope[Any]],
) -> None:
    topic, envelope = example
    decoded = codec.decode(topic, codec.encode(envelope))
    assert decoded == envelope
    assert type(decoded.data) is type(envelope.data)


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=_ids)
def test_wire_field_names_are_pinned(example: tuple[str, Envelope[Any]]) -> None:
    _, envelope = example
    wire = json.loads(codec.encode(envelope))
    assert set(wire) == ENVELOPE_FIELDS
    assert set(wire["data"]) == PAYLOAD_FIELDS[envelope.type] | {"type", "schema_version"}
    if "claim" in wire["data"]:
        assert set(wire["data"]["claim"]) == CLAIM_STATE_FIELDS


def test_every_message_type_of_the_product_has_an_example() -> None:
    seen = {envelope.type for _, envelope in ALL_EXAMPLES}
    assert seen == set(PAYLOAD_FIELDS)


def test_money_travels_as_a_decimal_string_never_a_float() -> None:
    placed = examples()["orders.v1"][0]
    wire = json.loads(codec.encode(placed))
    assert wire["data"]["total"] == {"amount": "50.00", "currency": "EUR"}


def test_times_travel_with_their_offset() -> None:
    placed = examples()["orders.v1"][0]
    wire = json.loads(codec.encode(placed))
    assert wire["time"].endswith("Z")
    assert wire["data"]["placed_at"] == "2026-03-02T09:30:00Z"
