"""The CloudEvents 1.0 envelope (structured JSON mode) that carries every message.

``Envelope[D]`` holds the CloudEvents context attributes and a ``data`` payload whose own
``type`` tag matches the envelope's ``type``. Build one with :func:`wrap`, which copies the type,
subject and schema from the payload so they cannot disagree.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Final, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    StringConstraints,
    model_validator,
)

from contracts.base import Contract, Identifier, Timestamp

SPEC_VERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"

Source = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S+$")]
"""A URI reference naming the producer, e.g. ``/atoz/intake``."""

TRACEPARENT_PATTERN: Final = r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
"""W3C Trace Context ``traceparent``, version 00, lower-case hex."""


def _real_ids(value: str) -> str:
    # An all-zero trace or parent id is invalid (W3C): refused rather than joined.
    _, trace_id, parent_id, _ = value.split("-")
    if not trace_id.strip("0") or not parent_id.strip("0"):
        raise ValueError("a traceparent's trace id and parent id must not be all zeros")
    return value


Traceparent = Annotated[
    str, StringConstraints(pattern=TRACEPARENT_PATTERN), AfterValidator(_real_ids)
]


class Payload(Contract):
    """A versioned payload: every event or command has a ``type`` tag and a ``schema_version``."""

    type: str
    schema_version: int


D = TypeVar("D", bound=Payload)


class Envelope(BaseModel, Generic[D]):
    """A CloudEvents 1.0 event, structured mode, with the ``correlationid`` extension and the
    distributed-tracing extension's ``traceparent`` (absent when the producer traced nothing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = SPEC_VERSION
    id: Identifier = Field(description="Unique per message; consumers deduplicate on it.")
    source: Source
    type: str = Field(description="Equals data.type, e.g. order.placed.")
    time: Timestamp = Field(description="When the fact happened (event time), with its offset.")
    subject: Identifier = Field(description="The entity the event is about: its message key.")
    datacontenttype: Literal["application/json"] = CONTENT_TYPE
    dataschema: str
    correlationid: Identifier = Field(
        description="Shared by every message caused by the same original request."
    )
    traceparent: Traceparent | None = Field(
        default=None,
        # Absent rather than null when there is none, as a CloudEvents extension is.
        exclude_if=lambda value: value is None,
        description="W3C traceparent of the span that produced this message (CloudEvents "
        "distributed tracing extension): consumers continue its trace.",
    )
    # SerializeAsAny: an envelope built around a concrete payload serializes all its fields even
    # when the envelope itself is not parametrized with that payload's type.
    data: SerializeAsAny[D]

    @model_validator(mode="after")
    def _type_matches_payload(self) -> Envelope[D]:
        if self.type != self.data.type:
            raise ValueError(f"type {self.type!r} does not match data.type {self.data.type!r}")
        if self.dataschema != schema_uri(self.data.type, self.data.schema_version):
            raise ValueError(f"dataschema {self.dataschema!r} does not match data")
        return self


def schema_uri(event_type: str, version: int) -> str:
    """The ``dataschema`` of an event type: the name of its exported JSON Schema."""
    return f"urn:atoz:schema:{event_type}:v{version}"


def new_event_id() -> str:
    """A fresh message id (UUID4 text)."""
    return str(uuid.uuid4())


def wrap(
    data: D,
    *,
    source: str,
    subject: str,
    time: datetime,
    correlation_id: str | None = None,
    event_id: str | None = None,
    traceparent: str | None = None,
) -> Envelope[D]:
    """Put ``data`` in an envelope. Fresh id unless given; correlation id defaults to it;
    ``traceparent`` (W3C) joins it to the trace of the span that produced it."""
    message_id = event_id or new_event_id()
    return Envelope(
        id=message_id,
        source=source,
        type=data.type,
        time=time,
        subject=subject,
        dataschema=schema_uri(data.type, data.schema_version),
        correlationid=correlation_id or message_id,
        traceparent=traceparent,
        data=data,
    )
