"""Free text refuses control characters; carriers and tracking ids refuse even tabs and newlines.

A NUL passed validation and then failed in PostgreSQL, after intake had answered 202: the claim
went to the dead-letter topic and the buyer never heard back. Refusing it here answers the
caller instead.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import codec
from contracts.base import ShortText
from contracts.codec import ContractError
from contracts.examples import examples
from contracts.orders import Carrier, OrderItem, TrackingId
from contracts.topics import ORDERS

SHORT_TEXT: Final = TypeAdapter(ShortText)
CARRIER: Final = TypeAdapter(Carrier)
TRACKING_ID: Final = TypeAdapter(TrackingId)

# C0 controls but TAB, LF and CR; DEL; C1 controls.
REFUSED_EVERYWHERE = [
    "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f",
    "\x7f", "\x80", "\x85", "\x9f",
]  # fmt: skip
# Half of a UTF-16 pair alone: no UTF-8 encoder (nor PostgreSQL) takes it.
LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
LINE_CONTROLS = ["\t", "\n", "\r"]
ACCEPTED_IN_TEXT = ["é", "ß", "日本", "😀", "\u00a0", "\u2028", "\u00a0\u00a0x", "a \u200b b"]


def _order_placed_wire() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(codec.encode(examples()["orders.v1"][0]))
    return result


@pytest.mark.parametrize("character", REFUSED_EVERYWHERE)
def test_free_text_refuses_a_control_character_naming_the_problem(character: str) -> None:
    with pytest.raises(ValidationError, match="control characters are not allowed"):
        SHORT_TEXT.validate_python(f"The parcel{character} never arrived.")


def test_free_text_names_the_character_and_where_it_is() -> None:
    with pytest.raises(ValidationError, match=r"found U\+0000 at character 11"):
        SHORT_TEXT.validate_python("The parcel\x00 never arrived.")


@pytest.mark.parametrize("character", LONE_SURROGATES)
def test_python_code_passing_a_lone_surrogate_is_refused(character: str) -> None:
    for adapter in (SHORT_TEXT, CARRIER, TRACKING_ID):
        with pytest.raises(ValidationError, match="valid string"):
            adapter.validate_python(f"dhl{character}")


@pytest.mark.parametrize("character", REFUSED_EVERYWHERE + LINE_CONTROLS)
def test_a_carrier_or_tracking_id_refuses_every_control_character(character: str) -> None:
    for adapter in (CARRIER, TRACKING_ID):
        with pytest.raises(ValidationError, match="control characters are not allowed"):
            adapter.validate_python(f"dhl{character}")


@pytest.mark.parametrize("character", LINE_CONTROLS)
def test_free_text_keeps_tabs_and_line_breaks(character: str) -> None:
    text = f"First line.{character}Second line."
    assert SHORT_TEXT.validate_python(text) == text


@pytest.mark.parametrize("text", ACCEPTED_IN_TEXT)
def test_free_text_and_carriers_accept_any_other_character(text: str) -> None:
    assert SHORT_TEXT.validate_python(text) == text
    assert CARRIER.validate_python(text) == text


def test_an_item_title_refuses_a_control_character() -> None:
    with pytest.raises(ValidationError, match="control characters are not allowed"):
        OrderItem.model_validate(
            {"sku": "LAMP-01", "title": "Desk\x00lamp", "quantity": 1,
             "unit_price": {"amount": "45.90", "currency": "EUR"}}
        )  # fmt: skip


def test_a_nul_in_a_message_is_refused_naming_the_field() -> None:
    wire = _order_placed_wire()
    wire["data"]["items"][0]["title"] = "Desk\u0000lamp"
    with pytest.raises(ContractError) as caught:
        codec.decode(ORDERS, json.dumps(wire).encode())
    assert "data.order.placed.items.0.title: Value error" not in str(caught.value)
    assert "data.order.placed.items.0.title: control characters are not allowed" in str(
        caught.value
    )


def test_a_lone_surrogate_in_json_is_refused_by_the_parser() -> None:
    for escaped in (b"\\ud800 never", b"\\ud800\\u0041", b"\\udc00"):
        with pytest.raises(ValidationError, match="Invalid JSON"):
            SHORT_TEXT.validate_json(b'"The parcel ' + escaped + b'"')
    # A pair is one character: accepted.
    assert SHORT_TEXT.validate_json(b'"\\ud83d\\ude00"') == "😀"


def test_the_length_limits_still_hold() -> None:
    with pytest.raises(ValidationError, match="at least 1 character"):
        SHORT_TEXT.validate_python("")
    with pytest.raises(ValidationError, match="at most 2000 characters"):
        SHORT_TEXT.validate_python("x" * 2001)
    with pytest.raises(ValidationError, match="at most 64 characters"):
        CARRIER.validate_python("x" * 65)
