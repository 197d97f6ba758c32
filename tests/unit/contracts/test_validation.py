"""Bad payloads fail validation with a message that names the field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import codec
from contracts.base import Money, PositiveMoney
from contracts.claims import ReviewDecision
from contracts.codec import ContractError
from contracts.examples import examples
from contracts.topics import ORDERS


def _order_placed_wire() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(codec.encode(examples()["orders.v1"][0]))
    return result


def _decode_error(wire: dict[str, Any] | str) -> ContractError:
    raw = wire if isinstance(wire, str) else json.dumps(wire)
    with pytest.raises(ContractError) as caught:
        codec.decode(ORDERS, raw.encode())
    return caught.value


def test_a_time_without_zone_is_refused_naming_the_field() -> None:
    wire = _order_placed_wire()
    wire["data"]["placed_at"] = "2026-03-02T09:30:00"
    error = _decode_error(wire)
    assert "data.order.placed.placed_at" in str(error)
    assert "timezone" in str(error)


def test_an_unknown_currency_is_refused_naming_the_field() -> None:
    wire = _order_placed_wire()
    wire["data"]["total"]["currency"] = "XYZ"
    assert "data.order.placed.total.currency" in str(_decode_error(wire))


def test_an_amount_more_precise_than_its_currency_is_refused() -> None:
    with pytest.raises(ValidationError, match="more decimal places than EUR allows"):
        Money(amount=Decimal("12.345"), currency="EUR")
    with pytest.raises(ValidationError, match="more decimal places than JPY allows"):
        Money(amount=Decimal("1.5"), currency="JPY")
    assert Money(amount=Decimal("1000"), currency="JPY").amount == 1000


def test_a_claimed_amount_must_be_more_than_zero() -> None:
    for amount in ("0.00", "-1"):
        with pytest.raises(ValidationError, match="Input should be greater than 0"):
            PositiveMoney(amount=Decimal(amount), currency="EUR")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Money(amount=Decimal("-1"), currency="EUR")


def test_money_is_never_a_float_infinity_or_nan() -> None:
    with pytest.raises(ValidationError):
        Money(amount=Decimal("NaN"), currency="EUR")
    with pytest.raises(ValidationError):
        Money(amount=Decimal("Infinity"), currency="EUR")


def test_an_unknown_field_is_refused_naming_it() -> None:
    wire = _order_placed_wire()
    wire["data"]["coupon"] = "FREE"
    assert "data.order.placed.coupon: Extra inputs are not permitted" in str(_decode_error(wire))


def test_a_missing_field_is_named() -> None:
    wire = _order_placed_wire()
    del wire["data"]["seller_id"]
    assert "data.order.placed.seller_id: Field required" in str(_decode_error(wire))


def test_an_unknown_event_type_is_refused() -> None:
    wire = _order_placed_wire()
    wire["type"] = wire["data"]["type"] = "order.teleported"
    assert "does not match any of the expected tags" in str(_decode_error(wire))


def test_an_envelope_whose_type_disagrees_with_its_data_is_refused() -> None:
    wire = _order_placed_wire()
    wire["type"] = "order.shipped"
    assert "does not match data.type" in str(_decode_error(wire))


def test_a_message_that_is_not_json_is_a_contract_error() -> None:
    error = _decode_error("{not json")
    assert error.topic == ORDERS.name
    assert "Invalid JSON" in str(error)


def test_a_wrong_spec_version_is_refused() -> None:
    wire = _order_placed_wire()
    wire["specversion"] = "0.3"
    assert "specversion" in str(_decode_error(wire))


def test_an_order_in_two_currencies_is_refused() -> None:
    wire = _order_placed_wire()
    wire["data"]["shipping"]["currency"] = "USD"
    assert "an order uses one currency" in str(_decode_error(wire))


def test_contracts_are_frozen() -> None:
    placed = examples()["orders.v1"][0]
    with pytest.raises(ValidationError, match="frozen"):
        placed.data.order_id = "other"


def test_a_granted_review_needs_a_payer_and_a_denial_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="funded_by is required"):
        ReviewDecision(outcome="granted")
    with pytest.raises(ValidationError, match="denial_reason is required"):
        ReviewDecision(outcome="denied")
    assert ReviewDecision(outcome="denied", denial_reason="reviewer_denied").funded_by is None
