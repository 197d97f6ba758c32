"""Dead-letter records: the original bytes, with headers saying why, from where and when.

A consumer that cannot decode a message publishes it unchanged to ``<topic>.dlq`` with these
headers, commits the offset and moves on. Transient faults (database or broker down) are retried
and never dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

HEADER_REASON: Final = "dlq.reason"
HEADER_ERROR: Final = "dlq.error"
HEADER_SOURCE_TOPIC: Final = "dlq.source.topic"
HEADER_SOURCE_PARTITION: Final = "dlq.source.partition"
HEADER_SOURCE_OFFSET: Final = "dlq.source.offset"
HEADER_FAILED_AT: Final = "dlq.failed_at"
HEADER_CONSUMER: Final = "dlq.consumer"

REASON_NOT_JSON: Final = "not_json"
REASON_CONTRACT_VIOLATION: Final = "contract_violation"
REASON_UNKNOWN_TYPE: Final = "unknown_type"

# Kafka headers are bytes; an error text longer than this is cut so the record stays small.
MAX_ERROR_LENGTH: Final = 4000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why and from where a message was dead-lettered."""

    reason: str
    error: str
    source_topic: str
    source_partition: int
    source_offset: int
    failed_at: datetime
    consumer: str

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers that carry this record's metadata."""
        return [
            (HEADER_REASON, self.reason.encode()),
            (HEADER_ERROR, self.error[:MAX_ERROR_LENGTH].encode()),
            (HEADER_SOURCE_TOPIC, self.source_topic.encode()),
            (HEADER_SOURCE_PARTITION, str(self.source_partition).encode()),
            (HEADER_SOURCE_OFFSET, str(self.source_offset).encode()),
            (HEADER_FAILED_AT, self.failed_at.isoformat().encode()),
            (HEADER_CONSUMER, self.consumer.encode()),
        ]

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]] | dict[str, bytes]) -> DeadLetter:
        """Read the metadata back from a dead-letter record's headers."""
        found = dict(headers)
        return cls(
            reason=found[HEADER_REASON].decode(),
            error=found[HEADER_ERROR].decode(),
            source_topic=found[HEADER_SOURCE_TOPIC].decode(),
            source_partition=int(found[HEADER_SOURCE_PARTITION]),
            source_offset=int(found[HEADER_SOURCE_OFFSET]),
            failed_at=datetime.fromisoformat(found[HEADER_FAILED_AT].decode()),
            consumer=found[HEADER_CONSUMER].decode(),
        )
