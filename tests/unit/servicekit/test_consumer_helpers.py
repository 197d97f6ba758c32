"""The pure parts of consuming: ordering, deduplication and classification."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts import codec
from contracts.examples import examples
from contracts.topics import ORDERS
from servicekit.delivery import (
    Delivered,
    Rejected,
    as_rejected,
    classify,
    first_occurrences,
    in_partition_order,
    rejection_reason,
)

ORDER = examples()[ORDERS.name][0]


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int = 1_772_443_800_000
    key: bytes | None = b"k"
    value: bytes | None = b"{}"


def delivered(message_id: str, partition: int = 0, offset: int = 0) -> Delivered:
    envelope = ORDER.model_copy(update={"id": message_id})
    return Delivered(
        ORDERS.name, partition, offset, b"k", envelope, datetime(2026, 3, 2, tzinfo=UTC)
    )


def test_a_poll_batch_is_sorted_partition_by_partition_in_offset_order() -> None:
    batch = [
        FakeRecord("b", 0, 8),
        FakeRecord("b", 0, 7),
        FakeRecord("a", 1, 3),
        FakeRecord("a", 1, 4),
        FakeRecord("a", 0, 9),
    ]
    ordered = in_partition_order(batch)
    assert [(r.topic, r.partition, r.offset) for r in ordered] == [
        ("a", 0, 9),
        ("a", 1, 3),
        ("a", 1, 4),
        ("b", 0, 7),
        ("b", 0, 8),
    ]


def test_only_fresh_ids_are_kept_each_once_in_their_original_order() -> None:
    batch = [
        delivered("m-3", offset=0),
        delivered("m-1", offset=1),
        delivered("m-3", offset=2),
        delivered("m-2", offset=3),
    ]
    kept = first_occurrences(batch, fresh={"m-3", "m-2"})
    assert [(d.message_id, d.offset) for d in kept] == [("m-3", 0), ("m-2", 3)]


def test_bytes_that_are_not_json_text_are_told_apart_from_json_breaking_the_contract() -> None:
    assert rejection_reason(b"\xff\xfe") == "not_json"
    assert rejection_reason(b'{"id": ') == "not_json"
    assert rejection_reason(None) == "not_json"
    assert rejection_reason(b'{"id": "x"}') == "contract_violation"
    assert rejection_reason(b"[1, 2]") == "contract_violation"


def test_a_valid_record_is_decoded_with_its_position_and_kafka_timestamp() -> None:
    record = FakeRecord(ORDERS.name, 2, 41, key=b"order-1", value=codec.encode(ORDER))
    outcome = classify(ORDERS, record, codec.decode)
    assert outcome == Delivered(
        topic=ORDERS.name,
        partition=2,
        offset=41,
        key=b"order-1",
        envelope=ORDER,
        timestamp=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        value=record.value,
    )
    assert isinstance(outcome, Delivered)
    assert outcome.message_id == ORDER.id


def test_a_message_the_handler_refused_goes_to_the_dlq_as_received_with_the_reason() -> None:
    raw = codec.encode(ORDER)
    outcome = classify(ORDERS, FakeRecord(ORDERS.name, 1, 9, value=raw), codec.decode)
    assert isinstance(outcome, Delivered)
    letter = as_rejected(outcome, "event_time_out_of_bounds", "from 2030")
    assert (letter.topic, letter.partition, letter.offset, letter.key, letter.value) == (
        ORDERS.name,
        1,
        9,
        b"k",
        raw,
    )
    assert (letter.reason, letter.error) == ("event_time_out_of_bounds", "from 2030")


def test_a_record_breaking_the_contract_keeps_its_original_bytes_and_names_the_field() -> None:
    broken = ORDER.model_dump(mode="json")
    del broken["data"]["seller_id"]
    raw = json.dumps(broken).encode()
    outcome = classify(ORDERS, FakeRecord(ORDERS.name, 0, 5, value=raw), codec.decode)
    assert isinstance(outcome, Rejected)
    assert (outcome.value, outcome.reason, outcome.offset) == (raw, "contract_violation", 5)
    assert "seller_id" in outcome.error


def test_a_record_without_a_value_is_rejected_as_not_json() -> None:
    outcome = classify(ORDERS, FakeRecord(ORDERS.name, 0, 0, value=None), codec.decode)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "not_json"
