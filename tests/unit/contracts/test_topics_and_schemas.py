"""Topics, keys, DLQs and the exported JSON Schemas are defined once and kept current."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from contracts import codec
from contracts.dlq import DeadLetter
from contracts.examples import examples
from contracts.schema_export import DEFAULT_OUTPUT, build_schemas, stale_files
from contracts.topics import LIVE_TOPICS, by_name, topics_to_create


def test_every_live_topic_has_a_dead_letter_topic_to_create() -> None:
    names = dict(topics_to_create())
    for topic in LIVE_TOPICS:
        assert names[topic.name] == topic.partitions
        assert names[topic.dlq] == 1
        assert topic.dlq == topic.name + ".dlq"
    assert len(names) == 2 * len(LIVE_TOPICS)


def test_every_payload_of_a_topic_carries_that_topic_key() -> None:
    for topic in LIVE_TOPICS:
        for payload in codec.PAYLOADS[topic.name]:
            assert topic.key in payload.model_fields, (topic.name, payload.__name__)


def test_message_key_is_the_order_id_or_the_seller_id() -> None:
    for topic_name, envelopes in examples().items():
        topic = by_name(topic_name)
        for envelope in envelopes:
            expected = getattr(envelope.data, topic.key)
            assert codec.message_key(topic, envelope) == expected.encode()
    assert by_name("sellers.health.v1").key == "seller_id"
    assert {t.key for t in LIVE_TOPICS if t.name != "sellers.health.v1"} == {"order_id"}


def test_committed_json_schemas_are_current() -> None:
    stale = stale_files(DEFAULT_OUTPUT)
    assert stale == [], f"run `uv run atoz-export-schemas` and commit: {stale}"


def test_stale_schema_detection_notices_an_edited_file(tmp_path: Path) -> None:
    directory = tmp_path
    for name, text in ((n, json.dumps(d)) for n, d in build_schemas().items()):
        (directory / name).write_text(text)
    assert stale_files(directory)  # compact JSON differs from the rendered form
    (directory / "leftover.json").write_text("{}")
    assert "leftover.json" in stale_files(directory)


def test_each_payload_type_has_a_schema_with_its_data_schema_id() -> None:
    documents = build_schemas()
    for topic, payloads in codec.PAYLOADS.items():
        for payload in payloads:
            tag = codec.payload_type_tag(payload)
            document = documents[f"{tag}.v1.json"]
            assert document["$id"] == f"urn:atoz:schema:{tag}:v1"
            assert topic in document["title"]


def test_dead_letter_headers_round_trip() -> None:
    letter = DeadLetter(
        reason="contract_violation", error="data.placed_at: timezone required",
        source_topic="orders.v1", source_partition=3, source_offset=1234,
        failed_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC), consumer="adjudication",
    )  # fmt: skip
    assert DeadLetter.from_headers(letter.headers()) == letter
