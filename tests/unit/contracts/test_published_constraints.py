"""The published JSON Schemas accept every example and refuse what validation refuses.

A producer that checks its messages against ``contracts/schemas/`` must not learn about a
malformed amount or a control character from the dead-letter topic. Checked with an ECMA-262
regex engine (``jsonschema_rs``), as JSON Schema specifies for ``pattern``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs
import pytest

from contracts import codec
from contracts.examples import examples
from contracts.schema_export import DEFAULT_OUTPUT

# 10.00 in full-width digits: digits to Decimal(), not to the schema.
FULL_WIDTH_TEN = "\uff11\uff10.\uff10\uff10"


@cache
def _validator(file_name: str) -> jsonschema_rs.Validator:
    schema = json.loads((DEFAULT_OUTPUT / file_name).read_text())
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def _wire(topic: str, index: int) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(codec.encode(examples()[topic][index]))
    return result


def _example_of(event_type: str) -> dict[str, Any]:
    for topic, envelopes in examples().items():
        for index, envelope in enumerate(envelopes):
            if envelope.type == event_type:
                return _wire(topic, index)
    raise AssertionError(f"no example of {event_type}")


def _accepted(wire: dict[str, Any]) -> bool:
    by_type = _validator(f"{wire['type']}.v1.json").is_valid(wire)
    topic = next(t for t, envs in examples().items() if any(e.type == wire["type"] for e in envs))
    by_topic = _validator(f"topic.{topic}.json").is_valid(wire)
    assert by_type == by_topic, wire["type"]
    return by_type


def test_every_example_satisfies_its_published_schemas() -> None:
    for topic, envelopes in examples().items():
        for index, envelope in enumerate(envelopes):
            assert _accepted(_wire(topic, index)), envelope.type


@pytest.mark.parametrize(
    "amount",
    ["1e3", "1E+3", "+10.00", " 10.00", ".5", "10.", "10_0", "1,00", "-1", "Infinity",
     FULL_WIDTH_TEN, "1234567890123", "1.0000", "10.00\n"],
)  # fmt: skip
def test_the_schema_refuses_an_amount_validation_refuses(amount: str) -> None:
    wire = _example_of("claim.file")
    assert _accepted(wire)
    wire["data"]["amount"]["amount"] = amount
    assert not _accepted(wire)


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x1f", "\x7f", "\x85", "\x9f"])
def test_the_schema_refuses_a_control_character_in_free_text(character: str) -> None:
    wire = _example_of("claim.file")
    wire["data"]["description"] = f"The parcel{character} never arrived."
    assert not _accepted(wire)
    placed = _example_of("order.placed")
    placed["data"]["items"][0]["title"] = f"Desk{character}lamp"
    assert not _accepted(placed)


@pytest.mark.parametrize("character", ["\t", "\n", "\r"])
def test_the_schema_keeps_tabs_and_line_breaks_in_free_text_only(character: str) -> None:
    wire = _example_of("claim.file")
    wire["data"]["description"] = f"First line.{character}Second line."
    assert _accepted(wire)
    shipped = _example_of("order.shipped")
    shipped["data"]["carrier"] = f"dhl{character}"
    assert not _accepted(shipped)
    shipped = _example_of("order.shipped")
    shipped["data"]["tracking_id"] = f"JD{character}0142"
    assert not _accepted(shipped)


def test_the_schema_accepts_text_beyond_ascii() -> None:
    wire = _example_of("claim.file")
    wire["data"]["description"] = "Le colis n'est jamais arrivé 😀 \u00a0\u2028"
    assert _accepted(wire)


def test_the_schema_refuses_a_time_that_is_not_a_date_time() -> None:
    wire = _example_of("order.placed")
    wire["data"]["placed_at"] = "2026-03-10 08:00"
    assert not _accepted(wire)
