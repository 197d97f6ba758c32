"""Metrics through real Kafka and PostgreSQL: order facts and claim events in, each seller's
rate on the API and health events on sellers.health.v1 out, once per real change."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from contracts import codec
from contracts.claims import ClaimClosed, ClaimFiled
from contracts.codec import ContractError
from contracts.envelope import Payload, wrap
from contracts.examples import claim_event_payloads
from contracts.orders import FeedbackPosted
from contracts.topics import CLAIMS_EVENTS, ORDERS, SELLERS_HEALTH
from metrics.app import create_app
from metrics.rebuild import rebuild
from metrics.settings import MetricsSettings
from servicekit.auth import TokenGrant
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_settings, skip_to_end, tail
from tests.unit.adjudication.builders import placed

pytestmark = pytest.mark.integration
DAY = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{who}"}


@pytest.fixture
async def metrics(kafka: KafkaAccess, database_url: str) -> AsyncIterator[FastAPI]:
    group = f"metrics-test-{uuid.uuid4().hex[:8]}"
    await skip_to_end(kafka, group, [ORDERS.name, CLAIMS_EVENTS.name])
    digest = hashlib.sha256(b"token-reviewer").hexdigest()
    settings = MetricsSettings(
        **kafka_settings(kafka),
        database_url=database_url,
        consumer_group=group,
        clock="event",
        log_format="console",
        tokens=(TokenGrant(sha256=digest, role="reviewer", subject="rev-1"),),
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


async def _send(
    producer: AIOKafkaProducer, payload: Payload, at: datetime, event_id: str | None = None
) -> str:
    envelope = wrap(payload, source="/tests", subject="s", time=at, event_id=event_id)
    await producer.send_and_wait(
        ORDERS.name, codec.encode(envelope), key=codec.message_key(ORDERS, envelope)
    )
    return envelope.id


def _for(seller: str) -> Any:
    def about(record: Any) -> bool:
        try:
            return bool(codec.decode(SELLERS_HEALTH, record.value).data.seller_id == seller)
        except ContractError:
            return False

    return about


def _odr_of(seller: str, *, defective: int) -> Any:
    """A seller's ``seller.odr_changed`` with ``defective`` defective orders in all."""

    def matches(record: Any) -> bool:
        try:
            event = codec.decode(SELLERS_HEALTH, record.value)
        except ContractError:
            return False
        return bool(
            event.type == "seller.odr_changed"
            and event.data.seller_id == seller
            and event.data.combined.defective_orders == defective
        )

    return matches


async def test_one_defect_in_100_orders_is_at_risk_and_the_101st_order_brings_it_back(
    metrics: FastAPI, kafka: KafkaAccess
) -> None:
    seller = f"seller-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        async with tail(kafka, SELLERS_HEALTH.name) as health:
            orders = [f"{seller}-o{i}" for i in range(101)]
            for order_id in orders[:100]:
                await _send(
                    producer, placed(order_id=order_id, seller_id=seller, placed_at=DAY), DAY
                )
            feedback = FeedbackPosted(
                order_id=orders[0],
                seller_id=seller,
                feedback_id="fb-1",
                posted_at=DAY + timedelta(hours=1),
                rating=1,
            )
            feedback_id = await _send(producer, feedback, DAY + timedelta(hours=1))
            await _send(producer, feedback, DAY + timedelta(hours=1), event_id=feedback_id)
            at_risk = await health.collect(
                lambda r: (
                    _for(seller)(r)
                    and codec.decode(SELLERS_HEALTH, r.value).type == "seller.status_changed"
                ),
                count=1,
            )
            await _send(
                producer,
                placed(order_id=orders[100], seller_id=seller, placed_at=DAY),
                DAY + timedelta(hours=2),
            )
            back = await health.collect(
                lambda r: (
                    _for(seller)(r)
                    and codec.decode(SELLERS_HEALTH, r.value).type == "seller.status_changed"
                ),
                count=1,
            )
    finally:
        await producer.stop()
    first = codec.decode(SELLERS_HEALTH, at_risk[0].value).data
    assert (first.previous_status, first.status) == ("NORMAL", "AT_RISK")
    assert at_risk[0].key == seller.encode()
    second = codec.decode(SELLERS_HEALTH, back[0].value).data
    assert (second.previous_status, second.status) == ("AT_RISK", "NORMAL")
    transport = httpx.ASGITransport(app=metrics)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        current = await client.get(f"/v1/sellers/{seller}/health", headers=_bearer("reviewer"))
        forbidden = await client.get(f"/v1/sellers/{seller}/health")
    assert forbidden.status_code == 401
    body = current.json()
    assert body["status"] == "NORMAL"
    assert body["combined"]["orders"] == 101
    assert body["combined"]["defective_orders"] == 1
    assert body["combined"]["negative_feedback"] == 1


async def test_a_withdrawn_claim_stops_counting_and_the_duplicate_event_changes_nothing(
    metrics: FastAPI, kafka: KafkaAccess
) -> None:
    seller = f"seller-{uuid.uuid4().hex[:8]}"
    order_id = f"{seller}-o1"
    template = claim_event_payloads()[0]
    assert isinstance(template, ClaimFiled)
    filed_state = template.claim.model_copy(
        update={"order_id": order_id, "seller_id": seller, "claim_id": f"clm-{seller}"}
    )
    filed = ClaimFiled(
        claim_id=filed_state.claim_id, order_id=order_id, claim=filed_state, description="x"
    )
    withdrawn_state = filed_state.model_copy(
        update={
            "status": "closed",
            "resolution": "withdrawn",
            "counts_toward_odr": False,
            "version": 2,
        }
    )
    withdrawn = ClaimClosed(
        claim_id=filed_state.claim_id,
        order_id=order_id,
        claim=withdrawn_state,
        resolution="withdrawn",
    )
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await producer.start()

    async def send_claim_event(payload: Payload, event_id: str | None = None) -> str:
        envelope = wrap(payload, source="/tests", subject="s", time=DAY, event_id=event_id)
        await producer.send_and_wait(
            CLAIMS_EVENTS.name,
            codec.encode(envelope),
            key=codec.message_key(CLAIMS_EVENTS, envelope),
        )
        return envelope.id

    try:
        async with tail(kafka, SELLERS_HEALTH.name) as health:
            # The claim arrives before its order: it counts once the order is known.
            claim_id = await send_claim_event(filed)
            await send_claim_event(filed, event_id=claim_id)
            await _send(producer, placed(order_id=order_id, seller_id=seller, placed_at=DAY), DAY)
            # The topics need not be read in the order written (on several brokers their
            # leaders answer apart): the order may be counted before its claim, so wait for
            # the rate that counts the claim, whatever came before it.
            risky = await health.collect(_odr_of(seller, defective=1), count=1)
            await send_claim_event(withdrawn)
            cleared = await health.collect(_odr_of(seller, defective=0), count=1)
    finally:
        await producer.stop()
    counted = codec.decode(SELLERS_HEALTH, risky[0].value).data
    assert counted.combined.claims == 1  # the duplicate event changed nothing
    assert codec.decode(SELLERS_HEALTH, cleared[0].value).data.status == "NORMAL"


async def _read_api_lists_the_seller_at_risk(metrics: FastAPI, seller: str) -> None:
    transport = httpx.ASGITransport(app=metrics)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        at_risk = (
            await client.get("/v1/sellers/at-risk?limit=500", headers=_bearer("reviewer"))
        ).json()
        history = (
            await client.get(f"/v1/sellers/{seller}/history?days=365", headers=_bearer("reviewer"))
        ).json()
        too_long = await client.get(
            f"/v1/sellers/{seller}/history?days=366", headers=_bearer("reviewer")
        )
    listed = [entry["seller_id"] for entry in at_risk["sellers"]]
    assert seller in listed
    rates = [entry["rate"] for entry in at_risk["sellers"]]
    assert rates == sorted(rates, key=float, reverse=True)  # worst first
    assert history["days"][0]["status"] == "AT_RISK"
    assert too_long.status_code == 422


async def test_a_rebuild_from_offset_zero_equals_the_live_state(
    metrics: FastAPI, kafka: KafkaAccess, database_url: str, postgres_url: str
) -> None:
    seller = f"seller-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        async with tail(kafka, SELLERS_HEALTH.name) as health:
            for index in range(20):
                await _send(
                    producer,
                    placed(order_id=f"{seller}-o{index}", seller_id=seller, placed_at=DAY),
                    DAY,
                )
            feedback = FeedbackPosted(
                order_id=f"{seller}-o3",
                seller_id=seller,
                feedback_id="fb-9",
                posted_at=DAY,
                rating=2,
            )
            await _send(producer, feedback, DAY + timedelta(hours=1))
            await health.collect(
                lambda r: (
                    _for(seller)(r)
                    and codec.decode(SELLERS_HEALTH, r.value).type == "seller.status_changed"
                ),
                count=1,
            )
    finally:
        await producer.stop()
    await _read_api_lists_the_seller_at_risk(metrics, seller)
    rebuilt = "rebuilt_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{rebuilt}"')
    rebuilt_url = postgres_url.rsplit("/", 1)[0] + "/" + rebuilt
    progress: list[tuple[int, int]] = []
    try:
        settings = MetricsSettings(**kafka_settings(kafka), database_url=rebuilt_url, clock="event")
        # The live service's "today" is the newest event time it read (this test's events);
        # the rebuild reads every test's events, so it is told the same day.
        applied = await rebuild(
            kafka,
            rebuilt_url,
            settings,
            on_progress=lambda done, total: progress.append((done, total)),
            as_of=(DAY + timedelta(hours=1)).date(),
        )
        query = (
            "SELECT channel, day, orders, defective, claims, negative_feedback, chargebacks"
            " FROM seller_days WHERE seller_id = $1 ORDER BY channel, day"
        )
        live_conn, rebuilt_conn = (
            await asyncpg.connect(database_url),
            await asyncpg.connect(rebuilt_url),
        )
        try:
            live = [tuple(r) for r in await live_conn.fetch(query, seller)]
            again = [tuple(r) for r in await rebuilt_conn.fetch(query, seller)]
            live_status = await live_conn.fetchval(
                "SELECT status FROM seller_health WHERE seller_id = $1", seller
            )
            rebuilt_status = await rebuilt_conn.fetchval(
                "SELECT status FROM seller_health WHERE seller_id = $1", seller
            )
        finally:
            await live_conn.close()
            await rebuilt_conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{rebuilt}" WITH (FORCE)')
        await admin.close()
    assert applied >= 21
    assert live == again
    assert live[0][2:4] == (20, 1)
    assert live_status == rebuilt_status == "AT_RISK"
    assert progress[-1][0] == progress[-1][1]  # the bar reached its end


async def test_orders_leave_the_window_at_a_day_boundary_even_when_nothing_happens(
    kafka: KafkaAccess, database_url: str
) -> None:
    group = f"metrics-test-{uuid.uuid4().hex[:8]}"
    await skip_to_end(kafka, group, [ORDERS.name, CLAIMS_EVENTS.name])
    today = [DAY + timedelta(hours=3)]
    settings = MetricsSettings(
        **kafka_settings(kafka),
        database_url=database_url,
        consumer_group=group,
        day_check_seconds=0.2,
        log_format="console",
    )
    seller = f"seller-{uuid.uuid4().hex[:8]}"
    app = create_app(settings, clock=lambda: today[0])
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
            tail(kafka, SELLERS_HEALTH.name) as health,
        ):
            await _send(
                producer, placed(order_id=f"{seller}-o1", seller_id=seller, placed_at=DAY), DAY
            )
            [counted] = await health.collect(_for(seller), count=1)
            today[0] = DAY + timedelta(days=61)  # nothing else happens; the days go by
            [left] = await health.collect(_for(seller), count=1)
    finally:
        await producer.stop()
    assert codec.decode(SELLERS_HEALTH, counted.value).data.combined.orders == 1
    after = codec.decode(SELLERS_HEALTH, left.value).data
    assert after.combined.orders == 0
    assert after.window.first_order_date > DAY.date()
