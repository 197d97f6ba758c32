"""What a consumer makes of a Kafka record: a decoded message, or a dead letter with its reason.

Pure and I/O-free, so the decoding rules are unit-tested without a broker: a record that is
not JSON or breaks its topic's contract becomes :class:`Rejected` (bound for ``<topic>.dlq``
with its original bytes); a valid one becomes :class:`Delivered`. Handlers get ``Delivered``
values in partition order and may raise :class:`RefusedMessage` for a valid message they must
not apply.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

from contracts.dlq import REASON_CONTRACT_VIOLATION, REASON_NOT_JSON
from contracts.envelope import Envelope
from contracts.topics import Topic

REASON_HANDLER_ERROR: Final = "handler_error"
"""DLQ reason of a valid message the handler kept failing on (not an outage)."""


class RefusedMessage(Exception):  # noqa: N818  # a verdict on a message, not a failure
    """Raised by a handler for a message that keeps its contract but must not be applied (a
    time beyond the service's bounds, say). The batch is replayed one message at a time, as
    for any handler error, and this message alone goes to the DLQ with ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True, slots=True)
class Delivered:
    """A decoded message, with where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    envelope: Envelope[Any]
    timestamp: datetime
    """The record's Kafka timestamp (UTC); event time is ``envelope.time``."""
    value: bytes | None = None
    """The bytes as received, for the DLQ should the handler fail on this message."""
    trace: str | None = None
    """The traceparent of the consumer's span processing this message, when traced."""

    @property
    def message_id(self) -> str:
        """The envelope id, on which the inbox deduplicates."""
        return self.envelope.id

    @property
    def traceparent(self) -> str | None:
        """The parent of the handler's spans: the consumer's span, else the producer's."""
        return self.trace or self.envelope.traceparent


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record bound for its topic's DLQ: original key and bytes, and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    error: str


Decode = Callable[[Topic, bytes], Envelope[Any]]
"""Bytes of a topic to an envelope, raising ``ValueError`` (e.g. ``ContractError``) if invalid."""


class Record(Protocol):
    """What the helpers read from a Kafka record (aiokafka's ``ConsumerRecord`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


R = TypeVar("R", bound=Record)


def in_partition_order(records: Iterable[R]) -> list[R]:
    """A poll batch sorted partition by partition, each in offset order."""
    return sorted(records, key=lambda record: (record.topic, record.partition, record.offset))


def first_occurrences(deliveries: Sequence[Delivered], fresh: set[str]) -> list[Delivered]:
    """The deliveries whose id is in ``fresh``, each id once (its first copy), order kept."""
    kept: list[Delivered] = []
    taken: set[str] = set()
    for delivered in deliveries:
        if delivered.message_id in fresh and delivered.message_id not in taken:
            taken.add(delivered.message_id)
            kept.append(delivered)
    return kept


def rejection_reason(raw: bytes | None) -> str:
    """``not_json`` when ``raw`` is not JSON text at all, else ``contract_violation``."""
    if raw is None:
        return REASON_NOT_JSON
    try:
        json.loads(raw)
    except ValueError:  # covers UnicodeDecodeError and JSONDecodeError
        return REASON_NOT_JSON
    return REASON_CONTRACT_VIOLATION


def classify(topic: Topic, record: Record, decode: Decode) -> Delivered | Rejected:
    """Decode ``record``: :class:`Delivered` if it keeps the contract, else :class:`Rejected`."""

    def rejected(error: str) -> Rejected:
        return Rejected(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            # Parsed again only on this rare path, so valid messages are parsed once.
            reason=rejection_reason(record.value),
            error=error,
        )

    if record.value is None:
        return rejected("record has no value")
    try:
        envelope = decode(topic, record.value)
    except ValueError as error:  # ContractError, and anything else a decoder calls invalid
        return rejected(str(error))
    return Delivered(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        envelope=envelope,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        value=record.value,
    )


def as_rejected(delivered: Delivered, reason: str, error: str) -> Rejected:
    """A decoded message the handler could not apply, bound for the DLQ as it was received."""
    return Rejected(
        topic=delivered.topic,
        partition=delivered.partition,
        offset=delivered.offset,
        key=delivered.key,
        value=delivered.value,
        reason=reason,
        error=error,
    )
