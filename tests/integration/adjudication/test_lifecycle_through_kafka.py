"""Adjudication through real Kafka and PostgreSQL: commands and order facts in, claim events
out, exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from adjudication.app import create_app
from adjudication.lifecycle import platform_claim_id
from adjudication.settings import AdjudicationSettings
from contracts import codec
from contracts.base import PositiveMoney
from contracts.claims import (
    AcceptResponse,
    Actor,
    AppealClaim,
    AppealRuling,
    DecideClaim,
    DisputeResponse,
    MessageEvidence,
    ProofOfDelivery,
    RefundResponse,
    ReplacementResponse,
    RespondToClaim,
    ReviewDecision,
    WithdrawClaim,
)
from contracts.codec import ContractError
from contracts.envelope import Payload, wrap
from contracts.orders import OrderDelivered, OrderRefunded
from contracts.policy import load_policy
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, by_name
from servicekit.auth import TokenGrant
from servicekit.kafka import KafkaAccess
from tests.integration.servicekit.conftest import wait_until
from tests.support.clocks import policy_file
from tests.support.kafka import kafka_settings, skip_to_end, tail
from tests.unit.adjudication.builders import (
    CONTACTED,
    ESTIMATED_DELIVERY,
    contacted,
    filing,
    placed,
    shipped,
)

pytestmark = pytest.mark.integration

FILED = ESTIMATED_DELIVERY + timedelta(days=3)


def _digest(who: str) -> str:
    return hashlib.sha256(f"token-{who}".encode()).hexdigest()


def _bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{who}"}


@pytest.fixture
async def adjudication(
    kafka: KafkaAccess, database_url: str, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    group = f"adjudication-test-{uuid.uuid4().hex[:8]}"
    await skip_to_end(kafka, group, [ORDERS.name, CLAIMS_COMMANDS.name])
    settings = AdjudicationSettings(
        tokens=(
            TokenGrant(sha256=_digest("seller"), role="seller", subject="seller-acme"),
            TokenGrant(sha256=_digest("other"), role="seller", subject="seller-other"),
        ),
        **kafka_settings(kafka),
        database_url=database_url,
        consumer_group=group,
        clock="event",
        # One order's facts, weeks apart, with nothing in between: far sparser than a
        # marketplace's stream, so the step a message may take ahead is widened here (the
        # default is tested on its own, in test_time_bounds_through_kafka).
        policy_file=policy_file(tmp_path, event_clock_max_step_hours=24 * 365),
        scheduler_interval_seconds=0.1,
        event_clock_idle_seconds=1.0,
        log_format="console",
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        # Ready before the group has given it partitions: wait, so commands can wait for facts.
        await wait_until(lambda: _assigned(app), within=30, what="partitions assigned")
        yield app


async def _assigned(app: FastAPI) -> bool:
    consumer = app.state.service.consumer.subscriber.consumer
    return consumer is not None and bool(consumer.assignment())


class Orders:
    """Publishes order facts and commands for one fresh order id.

    A command waits until ``adjudication`` has applied every fact of the order sent before it:
    records of two topics need not arrive in the order they were sent (on several brokers
    their partitions' leaders answer each fetch apart), and a filing read before the buyer's
    message to the seller would be denied for want of it.
    """

    def __init__(self, producer: AIOKafkaProducer, adjudication: FastAPI) -> None:
        self.producer = producer
        self.adjudication = adjudication
        self.order_id = f"it-{uuid.uuid4().hex[:12]}"
        self.claim_id = f"clm-{uuid.uuid4().hex[:12]}"
        self._last_fact: dict[TopicPartition, int] = {}

    def _own(self, payload: Payload) -> Payload:
        changes: dict[str, Any] = {"order_id": self.order_id}
        if "claim_id" in type(payload).model_fields:
            changes["claim_id"] = self.claim_id
        return payload.model_copy(update=changes)

    async def send(self, payload: Payload, at: Any, *, event_id: str | None = None) -> str:
        mine = self._own(payload)
        topic = CLAIMS_COMMANDS if mine.type.startswith("claim.") else ORDERS
        if topic is CLAIMS_COMMANDS:
            await self._facts_applied()
        envelope = wrap(mine, source="/tests", subject=self.order_id, time=at, event_id=event_id)
        sent = await self.producer.send_and_wait(
            topic.name, codec.encode(envelope), key=codec.message_key(topic, envelope)
        )
        if topic is ORDERS:
            self._last_fact[TopicPartition(sent.topic, sent.partition)] = sent.offset
        return envelope.id

    async def _facts_applied(self, within: float = 20.0) -> None:
        consumer = self.adjudication.state.service.consumer.subscriber.consumer
        async with asyncio.timeout(within):
            for partition, offset in self._last_fact.items():
                while True:
                    committed = await consumer.committed(partition)
                    if committed is not None and committed > offset:
                        break
                    await asyncio.sleep(0.02)


@pytest.fixture
async def producer(kafka: KafkaAccess) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


def _for(claim_id: str) -> Any:
    def about_the_claim(record: Any) -> bool:
        try:
            return bool(codec.decode(CLAIMS_EVENTS, record.value).data.claim_id == claim_id)
        except ContractError:
            return False  # another test's or a hand-made record

    return about_the_claim


async def test_a_silent_seller_pays_after_72_hours_and_the_events_are_published_once(
    tmp_path: Path,
    adjudication: FastAPI,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
    database_url: str,
) -> None:
    order = Orders(producer, adjudication)
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await order.send(placed(), ESTIMATED_DELIVERY - timedelta(days=7))
        await order.send(shipped(), ESTIMATED_DELIVERY - timedelta(days=6))
        await order.send(contacted(), CONTACTED)
        command_id = await order.send(filing(), FILED)
        await order.send(filing(), FILED, event_id=command_id)  # the same command, redelivered
        first = await events.collect(_for(order.claim_id), count=2)
        # Time passes on event time: a later fact on the same order moves the watermark.
        await order.send(contacted(contact_id="msg-2"), FILED + timedelta(hours=73))
        later = await events.collect(_for(order.claim_id), count=2)
    types = [codec.decode(CLAIMS_EVENTS, r.value).type for r in first + later]
    assert types == ["claim.filed", "claim.action_required", "claim.decided", "claim.closed"]
    # Each names the policy it was decided under, the document this service follows (the
    # shipped one with a wider step): the command's and the deadline's alike.
    policies = {codec.decode(CLAIMS_EVENTS, r.value).data.policy for r in first + later}
    followed = load_policy(tmp_path / "policy.toml")
    assert followed.version != load_policy().version
    assert policies == {followed.version}
    closed = codec.decode(CLAIMS_EVENTS, later[-1].value).data
    assert (closed.claim.resolution, closed.claim.funded_by) == ("granted", "seller")
    assert all(r.key == order.order_id.encode() for r in first + later)
    conn = await asyncpg.connect(database_url)
    try:
        history = await conn.fetchval(
            "SELECT count(*) FROM claim_history WHERE claim_id = $1", order.claim_id
        )
    finally:
        await conn.close()
    assert history == 4  # the redelivered command changed nothing


async def test_a_claim_denied_at_filing_is_published_with_its_reason(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    order = Orders(producer, adjudication)
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await order.send(placed(fulfillment="platform"), ESTIMATED_DELIVERY - timedelta(days=7))
        await order.send(filing(), FILED)
        records = await events.collect(_for(order.claim_id), count=2)
    denied = codec.decode(CLAIMS_EVENTS, records[-1].value).data
    assert denied.type == "claim.denied"
    assert denied.reason == "not_covered"
    assert denied.message.text


async def test_a_malformed_command_goes_to_the_dead_letter_topic(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    marker = uuid.uuid4().hex.encode()
    async with tail(kafka, by_name(CLAIMS_COMMANDS.name).dlq) as dead:
        await producer.send_and_wait(CLAIMS_COMMANDS.name, b'{"not": "a command"}', key=marker)
        [record] = await dead.collect(lambda r: r.key == marker, count=1)
    headers = dict(record.headers)
    assert headers["dlq.reason"] == b"contract_violation"
    assert headers["dlq.source.topic"] == CLAIMS_COMMANDS.name.encode()


async def test_the_platform_files_for_a_buyer_the_seller_never_answered(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    order = Orders(producer, adjudication)
    platform_claim = platform_claim_id(order.order_id, "msg-1")
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await order.send(placed(), ESTIMATED_DELIVERY - timedelta(days=7))
        await order.send(shipped(), ESTIMATED_DELIVERY - timedelta(days=6))
        await order.send(contacted(at=FILED), FILED)
        # Two business days later (event time), with no answer from the seller.
        await order.send(contacted(at=FILED, contact_id="msg-late"), FILED + timedelta(days=5))
        records = await events.collect(_for(platform_claim), count=2)
    filed = codec.decode(CLAIMS_EVENTS, records[0].value).data
    assert filed.type == "claim.filed"
    assert filed.claim.filed_by == "platform"
    assert codec.decode(CLAIMS_EVENTS, records[1].value).type == "claim.action_required"


SELLER_ACTOR = Actor(role="seller", subject="seller-acme")
BUYER_ACTOR = Actor(role="buyer", subject="buyer-42")
REVIEWER = Actor(role="reviewer", subject="rev-1")


async def _admitted(order: Orders, events: Any) -> None:
    await order.send(placed(), ESTIMATED_DELIVERY - timedelta(days=7))
    await order.send(shipped(), ESTIMATED_DELIVERY - timedelta(days=6))
    await order.send(contacted(), CONTACTED)
    await order.send(filing(), FILED)
    await events.collect(_for(order.claim_id), count=2)


def _types(records: list[Any]) -> list[str]:
    return [codec.decode(CLAIMS_EVENTS, r.value).type for r in records]


def _last_state(records: list[Any]) -> Any:
    return codec.decode(CLAIMS_EVENTS, records[-1].value).data.claim


@pytest.mark.parametrize(
    ("steps", "expected_types", "expected"),
    [
        pytest.param(
            [RespondToClaim(claim_id="x", order_id="x", actor=SELLER_ACTOR,
                            response=RefundResponse(amount=PositiveMoney(
                                amount=Decimal("100.00"), currency="EUR")))],
            ["claim.responded", "claim.closed"], ("refunded_by_seller", "seller", True),
            id="refunded_by_the_seller"),
        pytest.param(
            [WithdrawClaim(claim_id="x", order_id="x", actor=BUYER_ACTOR)],
            ["claim.closed"], ("withdrawn", "none", False), id="withdrawn"),
        pytest.param(
            [RespondToClaim(claim_id="x", order_id="x", actor=SELLER_ACTOR,
                            response=DisputeResponse(evidence=(MessageEvidence(
                                sent_at=FILED, text="It was delivered."),))),
             DecideClaim(claim_id="x", order_id="x", actor=REVIEWER,
                         decision=ReviewDecision(outcome="granted", funded_by="platform"))],
            ["claim.responded", "claim.granted_or_review", "claim.decided", "claim.closed"],
            ("granted", "platform", False), id="reviewer_grants_platform_funded"),
    ],
)  # fmt: skip
async def test_each_lifecycle_path_reaches_its_outcome_through_kafka(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess,
    steps: list[Any], expected_types: list[str], expected: tuple[str, str, bool],
) -> None:  # fmt: skip
    order = Orders(producer, adjudication)
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await _admitted(order, events)
        for step in steps:
            await order.send(step, FILED + timedelta(hours=1))
        records = await events.collect(_for(order.claim_id), count=len(expected_types))
    types = _types(records)
    # A dispute that no rule settles goes to a reviewer before the decision.
    wanted = [t if t != "claim.granted_or_review" else "claim.under_review" for t in expected_types]
    assert types == wanted
    state = _last_state(records)
    assert (state.resolution, state.funded_by, state.counts_toward_odr) == expected


async def test_the_read_api_shows_a_claim_to_its_parties_only(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    order = Orders(producer, adjudication)
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await _admitted(order, events)
    transport = httpx.ASGITransport(app=adjudication)
    async with httpx.AsyncClient(transport=transport, base_url="http://adjudication") as client:
        mine = await client.get(f"/v1/claims/{order.claim_id}", headers=_bearer("seller"))
        theirs = await client.get(f"/v1/claims/{order.claim_id}", headers=_bearer("other"))
        anonymous = await client.get(f"/v1/claims/{order.claim_id}")
        queue = await client.get(
            "/v1/sellers/seller-acme/claims?tab=action_required", headers=_bearer("seller")
        )
        other_queue = await client.get("/v1/sellers/seller-acme/claims", headers=_bearer("other"))
    assert mine.status_code == 200
    body = mine.json()
    assert body["status"] == "action_required"
    assert "respond_by" in body["deadlines"]
    assert set(body["actions"]["seller"]) == {"refund", "replacement_sent", "accept", "dispute"}
    assert [h["type"] for h in body["history"]] == ["claim.filed", "claim.action_required"]
    assert (theirs.status_code, anonymous.status_code) == (404, 401)
    assert order.claim_id in [c["claim_id"] for c in queue.json()["claims"]]
    assert other_queue.status_code == 403


async def test_the_read_api_history_says_why_a_command_changed_nothing(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    order = Orders(producer, adjudication)
    intruder = Actor(role="seller", subject="seller-elsewhere")
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await _admitted(order, events)
        refund = RespondToClaim(claim_id="x", order_id="x", actor=intruder,
                                response=AcceptResponse())  # fmt: skip
        await order.send(refund, FILED + timedelta(hours=1))
        records = await events.collect(_for(order.claim_id), count=1)
    assert _types(records) == ["claim.command_rejected"]
    transport = httpx.ASGITransport(app=adjudication)
    async with httpx.AsyncClient(transport=transport, base_url="http://adjudication") as client:
        answer = await client.get(f"/v1/claims/{order.claim_id}", headers=_bearer("seller"))
    rejected = answer.json()["history"][-1]
    assert rejected["type"] == "claim.command_rejected"
    assert (rejected["command_type"], rejected["reason"]) == ("claim.respond", "not_your_claim")
    assert rejected["detail"]
    assert answer.json()["status"] == "action_required"  # the claim itself is untouched


SIGNED_SCAN = OrderDelivered(
    order_id="x",
    seller_id="seller-acme",
    shipment_id="shp-1",
    delivered_at=ESTIMATED_DELIVERY,
    carrier="colissimo",
    tracking_id="6A1",
    signature_obtained=True,
)
"""The carrier's scan of the default shipment: delivered, signed for."""
SIGNED_PROOF_DISPUTE = RespondToClaim(
    claim_id="x",
    order_id="x",
    actor=SELLER_ACTOR,
    response=DisputeResponse(
        evidence=(
            ProofOfDelivery(
                carrier="colissimo",
                tracking_id="6A1",
                delivered_at=ESTIMATED_DELIVERY,
                signature_obtained=True,
            ),
        )
    ),
)
"""The seller disputes with a signed proof of delivery of that shipment."""


async def test_a_proof_no_carrier_reported_goes_to_review_until_the_carriers_scan_backs_it(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    order = Orders(producer, adjudication)
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await _admitted(order, events)
        await order.send(SIGNED_PROOF_DISPUTE, FILED + timedelta(hours=1))
        reviewing = await events.collect(_for(order.claim_id), count=2)
        transport = httpx.ASGITransport(app=adjudication)
        async with httpx.AsyncClient(transport=transport, base_url="http://adj") as client:
            shown = await client.get(f"/v1/claims/{order.claim_id}", headers=_bearer("seller"))
        # The carrier's scan comes later, and says what the seller said.
        await order.send(SIGNED_SCAN, FILED + timedelta(hours=5))
        decided = await events.collect(_for(order.claim_id), count=2)
    assert _types(reviewing) == ["claim.responded", "claim.under_review"]
    review = codec.decode(CLAIMS_EVENTS, reviewing[-1].value).data
    assert [d.rule for d in review.discrepancies] == ["evidence.delivery_reported_by_carrier"]
    # The read API names it too, with its sentence, for the reviewer and the seller.
    (discrepancy,) = shown.json()["discrepancies"]
    assert discrepancy["message"] == "The carrier has reported no delivery of the parcel 6A1."
    assert _types(decided) == ["claim.decided", "claim.closed"]
    assert _last_state(decided).funded_by == "platform"


async def test_signed_proof_of_delivery_grants_platform_funded_without_odr_impact(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    order = Orders(producer, adjudication)
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await _admitted(order, events)
        # The carrier's own scan: the seller's proof below is checked against it.
        await order.send(SIGNED_SCAN, ESTIMATED_DELIVERY + timedelta(days=3, minutes=30))
        await order.send(SIGNED_PROOF_DISPUTE, FILED + timedelta(hours=1))
        records = await events.collect(_for(order.claim_id), count=3)
    assert _types(records) == ["claim.responded", "claim.decided", "claim.closed"]
    decided = codec.decode(CLAIMS_EVENTS, records[1].value).data
    assert decided.rules == ("decision.signed_proof_of_delivery",)
    state = _last_state(records)
    assert (state.resolution, state.funded_by, state.counts_toward_odr) == (
        "granted",
        "platform",
        False,
    )


async def test_a_replacement_is_closed_when_delivered_or_sent_back_to_the_seller_when_late(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    delivered, late = Orders(producer, adjudication), Orders(producer, adjudication)
    eta = FILED + timedelta(days=4)
    replacement = RespondToClaim(
        claim_id="x",
        order_id="x",
        actor=SELLER_ACTOR,
        response=ReplacementResponse(carrier="ups", tracking_id="1Z-R", estimated_delivery=eta),
    )
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await _admitted(delivered, events)
        await _admitted(late, events)
        await delivered.send(replacement, FILED + timedelta(hours=1))
        await late.send(replacement, FILED + timedelta(hours=1))

        # Event time moves on only once both replacements are recorded, so that the order
        # fact below is about a replacement already known.
        def either(record: Any) -> bool:
            return bool(_for(delivered.claim_id)(record) or _for(late.claim_id)(record))

        responded = await events.collect(either, count=2)
        arrival = OrderDelivered(
            order_id="x",
            seller_id="seller-acme",
            shipment_id="shp-r",
            delivered_at=eta - timedelta(days=1),
            carrier="ups",
            tracking_id="1Z-R",
        )
        await delivered.send(arrival, eta - timedelta(days=1))
        closed = await events.collect(_for(delivered.claim_id), count=1)
        # Event time moves past the late replacement's date: back to the seller's queue.
        await late.send(contacted(contact_id="msg-later"), eta + timedelta(hours=1))
        overdue = await events.collect(_for(late.claim_id), count=1)
    both = responded + closed
    replaced = [r for r in both if _for(delivered.claim_id)(r)]
    assert _types(replaced) == ["claim.responded", "claim.closed"]
    assert _last_state(replaced).resolution == "replaced"
    assert _types(overdue) == ["claim.action_required"]
    assert _last_state(overdue).status == "action_required"


async def test_a_seller_appeal_reversed_moves_the_money_to_the_platform(
    adjudication: FastAPI, producer: AIOKafkaProducer, kafka: KafkaAccess
) -> None:
    order = Orders(producer, adjudication)
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await _admitted(order, events)
        await order.send(
            RespondToClaim(
                claim_id="x", order_id="x", actor=SELLER_ACTOR, response=AcceptResponse()
            ),
            FILED + timedelta(hours=1),
        )
        await events.collect(_for(order.claim_id), count=3)
        await order.send(
            AppealClaim(
                claim_id="x",
                order_id="x",
                actor=SELLER_ACTOR,
                appeal_id="apl-1",
                statement="The buyer has it.",
            ),
            FILED + timedelta(days=2),
        )
        await order.send(
            DecideClaim(
                claim_id="x",
                order_id="x",
                actor=REVIEWER,
                decision=AppealRuling(appeal_id="apl-1", outcome="reversed"),
            ),
            FILED + timedelta(days=3),
        )
        records = await events.collect(_for(order.claim_id), count=2)
    assert _types(records) == ["claim.appealed", "claim.appeal_decided"]
    state = _last_state(records)
    assert (state.funded_by, state.counts_toward_odr) == ("platform", False)


async def test_the_same_order_fact_twice_changes_nothing(
    adjudication: FastAPI,
    producer: AIOKafkaProducer,
    kafka: KafkaAccess,
    database_url: str,
) -> None:
    order = Orders(producer, adjudication)
    async with tail(kafka, CLAIMS_EVENTS.name) as events:
        await _admitted(order, events)
        refund = OrderRefunded(
            order_id="x",
            seller_id="seller-acme",
            refund_id="rf-1",
            refunded_at=FILED + timedelta(hours=2),
            initiated_by="seller",
            amount=PositiveMoney(amount=Decimal("100.00"), currency="EUR"),
        )
        fact_id = await order.send(refund, FILED + timedelta(hours=2))
        await order.send(refund, FILED + timedelta(hours=2), event_id=fact_id)  # redelivered
        await order.send(refund, FILED + timedelta(hours=2))  # re-sent by the order system
        [closed] = await events.collect(_for(order.claim_id), count=1)
    assert _types([closed]) == ["claim.closed"]
    conn = await asyncpg.connect(database_url)
    try:
        history = await conn.fetch(
            "SELECT type FROM claim_history WHERE claim_id = $1 ORDER BY id", order.claim_id
        )
        facts = await conn.fetchval(
            "SELECT facts FROM order_facts WHERE order_id = $1", order.order_id
        )
    finally:
        await conn.close()
    assert [row["type"] for row in history] == [
        "claim.filed",
        "claim.action_required",
        "claim.closed",
    ]
    assert '"rf-1"' in facts
