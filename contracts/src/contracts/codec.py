"""Which envelope travels on which topic, and how it becomes bytes, a key, and back.

:func:`decode` is the one door from Kafka bytes to a typed envelope: anything that is not valid
JSON or breaks the topic's contract raises :class:`ContractError`, whose message names every
failing field, ready to go in a dead-letter record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from contracts.claims import (
    ClaimCommandEnvelope,
    ClaimCommandMessage,
    ClaimEventEnvelope,
    ClaimEventMessage,
)
from contracts.envelope import Envelope, Payload
from contracts.orders import OrderEnvelope, OrderEvent
from contracts.sellers import SellerHealthEnvelope, SellerHealthEvent
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, SELLERS_HEALTH, Topic

ENVELOPES: Final[dict[str, type[BaseModel]]] = {
    ORDERS.name: OrderEnvelope,
    CLAIMS_COMMANDS.name: ClaimCommandEnvelope,
    CLAIMS_EVENTS.name: ClaimEventEnvelope,
    SELLERS_HEALTH.name: SellerHealthEnvelope,
}


def _members(union: Any) -> tuple[type[Payload], ...]:
    if get_origin(union) is Annotated:
        union = get_args(union)[0]
    return tuple(get_args(union)) if get_origin(union) in (Union, type(int | str)) else (union,)


PAYLOADS: Final[dict[str, tuple[type[Payload], ...]]] = {
    ORDERS.name: _members(OrderEvent),
    CLAIMS_COMMANDS.name: _members(ClaimCommandMessage),
    CLAIMS_EVENTS.name: _members(ClaimEventMessage),
    SELLERS_HEALTH.name: _members(SellerHealthEvent),
}
"""Every payload class allowed on each topic."""


def payload_type_tag(payload: type[Payload]) -> str:
    """The ``type`` tag of a payload class (its Literal default)."""
    default = payload.model_fields["type"].default
    assert isinstance(default, str)  # noqa: S101  # every payload declares a Literal default
    return default


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class ContractError(ValueError):
    """A message that is not valid JSON or does not satisfy its topic's contract."""

    def __init__(self, topic: str, errors: list[FieldError]) -> None:
        self.topic = topic
        self.errors = errors
        detail = "; ".join(f"{error.field}: {error.message}" for error in errors)
        super().__init__(f"invalid message for {topic}: {detail}")


def _field_errors(error: ValidationError) -> list[FieldError]:
    found = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(message)"
        found.append(FieldError(location, item["msg"]))
    return found


def envelope_model(topic: str | Topic) -> type[BaseModel]:
    """The envelope class carried on ``topic`` (a live topic name)."""
    name = topic.name if isinstance(topic, Topic) else topic
    return ENVELOPES[name]


def decode(topic: str | Topic, raw: bytes | str) -> Envelope[Any]:
    """Parse and validate one message of ``topic``; raise :class:`ContractError` naming fields."""
    model = envelope_model(topic)
    try:
        envelope = model.model_validate_json(raw)
    except ValidationError as error:
        raise ContractError(str(getattr(topic, "name", topic)), _field_errors(error)) from None
    assert isinstance(envelope, Envelope)  # noqa: S101  # every registered model is an Envelope
    return envelope


def encode(envelope: Envelope[Any]) -> bytes:
    """The structured-mode JSON bytes of an envelope (Decimal as strings, times in ISO 8601)."""
    return envelope.model_dump_json().encode()


def message_key(topic: Topic, envelope: Envelope[Any]) -> bytes:
    """The Kafka message key of ``envelope`` on ``topic``: its order id or seller id."""
    value = getattr(envelope.data, topic.key)
    assert isinstance(value, str)  # noqa: S101  # keys are Identifier fields on every payload
    return value.encode()
