"""The envelope's ``traceparent`` (CloudEvents distributed tracing): kept when valid, absent on
the wire when there is none, refused with the field named when malformed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts import codec
from contracts.codec import ContractError
from contracts.examples import examples
from contracts.topics import ORDERS

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _wire(**changes: Any) -> dict[str, Any]:
    wire: dict[str, Any] = json.loads(codec.encode(examples()["orders.v1"][0]))
    wire.update(changes)
    return wire


def test_an_envelope_without_a_trace_has_no_traceparent_on_the_wire() -> None:
    assert "traceparent" not in _wire()


def test_a_valid_traceparent_travels_and_comes_back() -> None:
    envelope = codec.decode(ORDERS, json.dumps(_wire(traceparent=VALID)))
    assert envelope.traceparent == VALID
    assert json.loads(codec.encode(envelope))["traceparent"] == VALID


@pytest.mark.parametrize(
    "malformed",
    [
        VALID.upper(),
        "01" + VALID[2:],  # a version this platform does not speak
        VALID + "\n",
        VALID[:-1],
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",  # all-zero trace id (W3C: invalid)
        "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",
        "not a traceparent",
    ],
)
def test_a_malformed_traceparent_is_refused_naming_the_field(malformed: str) -> None:
    with pytest.raises(ContractError) as caught:
        codec.decode(ORDERS, json.dumps(_wire(traceparent=malformed)))
    assert [error.field for error in caught.value.errors] == ["traceparent"]
