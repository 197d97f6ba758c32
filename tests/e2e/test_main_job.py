"""The main job, end to end: ``./platform up`` started everything and played a seeded
simulation; every claim must have ended as the policy gives, and every seller's rate on the
metrics API must equal a from-scratch recomputation from the events on the topics."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import jsonschema_rs
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import codec
from contracts.claims import ClaimEvent
from contracts.orders import OrderFact
from contracts.schema_export import DEFAULT_OUTPUT
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, SELLERS_HEALTH, Topic, by_name
from marketsim.odr_check import recompute
from servicekit.kafka import KafkaAccess
from tests.e2e.conftest import RunningPlatform

pytestmark = pytest.mark.e2e


def test_up_prints_the_summary_and_the_addresses_of_apis_and_dashboard(
    running_platform: RunningPlatform,
) -> None:
    output = running_platform.up_output
    assert "claims reached the outcome the policy gives" in output
    assert "Sellers' Order Defect Rate" in output
    assert f"{running_platform.dashboard_url}/#token=" in output
    for url in running_platform.api.values():
        assert url in output


def test_every_simulated_claim_reached_the_outcome_the_policy_gives(
    running_platform: RunningPlatform,
) -> None:
    summary = running_platform.summary
    assert summary["claims"] >= 20, "the simulation should tell enough claim stories"
    assert summary["mismatches"] == []
    assert summary["matched"] == summary["claims"]
    assert summary["run"]["http_failures"] == []
    assert summary["run"]["rejected_moves"] == []  # no move came too late or from the wrong party
    # Many kinds of outcome, not one repeated: the simulation exercises the rule book.
    assert len(summary["by_scenario"]) >= 8
    assert {"granted/seller", "granted/platform", "denied/none"} <= set(summary["resolutions"])


async def _records(kafka: KafkaAccess, *topics: Topic) -> dict[str, list[Any]]:
    """Every record of ``topics``, from offset zero, by topic, each partition in order."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[str, list[Any]] = {topic.name: [] for topic in topics}
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                found[tp.topic] += [r for r in records if r.offset < ends[tp]]
        return found
    finally:
        await consumer.stop()


async def _read_from_scratch(kafka: KafkaAccess) -> list[OrderFact | ClaimEvent]:
    """Every order fact and claim event on the topics, from offset zero."""
    found: list[OrderFact | ClaimEvent] = []
    for name, records in (await _records(kafka, ORDERS, CLAIMS_EVENTS)).items():
        for record in records:
            data = codec.decode(by_name(name), record.value).data
            if isinstance(data, OrderFact | ClaimEvent):
                found.append(data)
    return found


async def test_every_message_the_platform_published_validates_against_its_published_schema(
    running_platform: RunningPlatform,
) -> None:
    published = (CLAIMS_COMMANDS, CLAIMS_EVENTS, SELLERS_HEALTH)
    found = await _records(running_platform.kafka, *published)
    for topic in published:
        schema = json.loads((DEFAULT_OUTPUT / f"topic.{topic.name}.json").read_text())
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        records = found[topic.name]
        assert records, f"the simulation published nothing on {topic.name}"
        for record in records:
            errors = [error.message for error in validator.iter_errors(json.loads(record.value))]
            assert errors == [], (topic.name, record.offset, errors)


async def test_each_claims_versions_run_one_two_three_without_a_gap(
    running_platform: RunningPlatform,
) -> None:
    records = (await _records(running_platform.kafka, CLAIMS_EVENTS))[CLAIMS_EVENTS.name]
    versions: dict[str, list[int]] = {}
    # A claim's events share its order's partition, so their offsets give their order.
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        data = codec.decode(CLAIMS_EVENTS, record.value).data
        if isinstance(data, ClaimEvent):
            versions.setdefault(data.claim_id, []).append(data.claim.version)
    assert len(versions) >= 20
    gapped = {c: v for c, v in versions.items() if v != list(range(1, len(v) + 1))}
    assert gapped == {}


async def test_each_sellers_rate_on_the_api_equals_a_recomputation_from_the_events(
    running_platform: RunningPlatform,
) -> None:
    events = await _read_from_scratch(running_platform.kafka)
    headers = {"Authorization": f"Bearer {running_platform.tokens['operator']}"}
    metrics = running_platform.api["metrics"]
    compared = 0
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        for seller in running_platform.seller_ids:
            answer = await http.get(f"{metrics}/v1/sellers/{seller}/health")
            assert answer.status_code == 200, answer.text
            health: dict[str, Any] = answer.json()
            window = health["window"]
            mine = recompute(
                events,
                date.fromisoformat(window["first_order_date"]),
                date.fromisoformat(window["last_order_date"]),
            )[seller]
            combined = health["combined"]
            assert (combined["orders"], combined["defective_orders"]) == (
                mine.orders,
                mine.defective,
            ), seller
            # The API keeps the rate to a fixed scale; the counts above are the exact part.
            assert abs(Decimal(health["rate"]) - mine.rate) < Decimal("1e-6"), seller
            compared += 1
    assert compared == len(running_platform.seller_ids) >= 6
    at_risk = [row for row in running_platform.summary["odr"] if row["status"] != "NORMAL"]
    assert at_risk, "the bad profiles should put some sellers at risk"
