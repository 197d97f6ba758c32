"""Time is bounded, through real Kafka and PostgreSQL: the 2030 and 9999 messages replayed.

One message stating 2030 used to carry the shared event clock to 2030 (every held claim denied,
every new claim granted by "silence", every seller's ODR emptied); one stating 9999 crashed the
scheduler for good. Now such messages are refused (a command rejected with its reason, a fact
sent to the DLQ), the clock does not move, and nothing else changes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager

from adjudication.app import create_app as adjudication_app
from adjudication.settings import AdjudicationSettings
from contracts import codec
from contracts.claims import Actor, WithdrawClaim
from contracts.dlq import DeadLetter
from contracts.envelope import Payload, wrap
from contracts.orders import FeedbackPosted
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, Topic
from metrics.app import create_app as metrics_app
from metrics.settings import MetricsSettings
from servicekit.kafka import KafkaAccess, utc_now
from tests.support.kafka import kafka_settings, skip_to_end, tail
from tests.unit.adjudication.builders import contacted, filing, placed, shipped

pytestmark = pytest.mark.integration

# The replayed quarter ends a month before today: every time in it is in the past.
T = utc_now().replace(microsecond=0) - timedelta(days=30)
YEAR_2030 = datetime(2030, 1, 1, tzinfo=T.tzinfo)


def _envelope_bytes(payload: Payload, at: datetime) -> bytes:
    return codec.encode(wrap(payload, source="/tests", subject=payload.order_id, time=at))  # type: ignore[attr-defined]


class _Sender:
    """Sends one order's facts and commands, each with the time its sender states."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.order_id = f"tb-{uuid.uuid4().hex[:12]}"
        self.claim_id = f"clm-{uuid.uuid4().hex[:12]}"

    async def send(self, payload: Payload, at: datetime) -> None:
        changes: dict[str, Any] = {"order_id": self.order_id}
        if "claim_id" in type(payload).model_fields:
            changes["claim_id"] = self.claim_id
        mine = payload.model_copy(update=changes)
        topic: Topic = CLAIMS_COMMANDS if mine.type.startswith("claim.") else ORDERS
        await self.producer.send_and_wait(
            topic.name, _envelope_bytes(mine, at), key=self.order_id.encode()
        )

    async def send_raw(self, value: bytes) -> None:
        await self.producer.send_and_wait(ORDERS.name, value, key=self.order_id.encode())


@pytest.fixture
async def producer(kafka: KafkaAccess) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(**kafka.options(), acks="all")
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def _adjudication(
    kafka: KafkaAccess, database_url: str, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    group = f"adjudication-tb-{uuid.uuid4().hex[:8]}"
    await skip_to_end(kafka, group, [ORDERS.name, CLAIMS_COMMANDS.name])
    app = adjudication_app(
        AdjudicationSettings(
            **kafka_settings(kafka),
            database_url=database_url,
            consumer_group=group,
            scheduler_interval_seconds=0.1,
            event_clock_idle_seconds=1.0,
            log_format="console",
            **settings,
        )
    )
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://adj") as client:
            yield client


def _about(*order_ids: str) -> Any:
    def wanted(record: Any) -> bool:
        try:
            return codec.decode(CLAIMS_EVENTS, record.value).data.order_id in order_ids
        except codec.ContractError:
            return False

    return wanted


def _dead_letter_of(consumer_prefix: str) -> Any:
    def wanted(record: Any) -> bool:
        return DeadLetter.from_headers(record.headers).consumer.startswith(consumer_prefix)

    return wanted


def _placed_days_before(moment: datetime) -> Payload:
    """An order placed a week before ``moment``, due four days before it."""
    return placed(
        placed_at=moment - timedelta(days=7),
        ship_by=moment - timedelta(days=6),
        estimated_delivery_min=moment - timedelta(days=5),
        estimated_delivery_max=moment - timedelta(days=4),
    )


async def _claims(database_url: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT claim_id, status, version FROM claims ORDER BY claim_id")
        return [tuple(row) for row in rows]
    finally:
        await conn.close()


async def _newest_event_time(database_url: str) -> datetime:
    conn = await asyncpg.connect(database_url)
    try:
        value = await conn.fetchval("SELECT max(event_time) FROM partition_clock")
        assert isinstance(value, datetime)
        return value
    finally:
        await conn.close()


async def test_on_event_time_the_2030_and_9999_messages_change_nothing(
    kafka: KafkaAccess, database_url: str, producer: AIOKafkaProducer
) -> None:
    admitted, held = _Sender(producer), _Sender(producer)
    async for _ in _adjudication(kafka, database_url, clock="event"):
        async with (
            tail(kafka, CLAIMS_EVENTS.name) as events,
            tail(kafka, ORDERS.dlq) as dead,
        ):
            # A claim waiting for its seller (72 hours) and one held for its order (24 hours).
            await admitted.send(_placed_days_before(T), T - timedelta(days=7))
            await admitted.send(shipped(shipped_at=T - timedelta(days=1)), T - timedelta(days=1))
            await admitted.send(contacted(at=T - timedelta(days=5)), T - timedelta(days=5))
            await admitted.send(filing(contact=None), T)
            await held.send(filing(contact=None), T)
            await events.collect(_about(admitted.order_id, held.order_id), count=3)
            before = await _claims(database_url)
            clock_before = await _newest_event_time(database_url)
            # A command from 2030 is rejected; a fact from 2030, one 30 days ahead of the clock
            # and one from the year 9999 go to the DLQ.
            withdraw = WithdrawClaim(
                claim_id="x", order_id="x", actor=Actor(role="buyer", subject="buyer-42")
            )
            await admitted.send(withdraw, YEAR_2030)
            await admitted.send(contacted(at=YEAR_2030, contact_id="m-2030"), YEAR_2030)
            ahead = T + timedelta(days=30)
            await admitted.send(contacted(at=ahead, contact_id="m-ahead"), ahead)
            raw = orjson.loads(_envelope_bytes(contacted(contact_id="m-9999"), T))
            raw["time"] = "9999-12-31T23:59:59Z"
            await admitted.send_raw(orjson.dumps(raw))
            (rejected,) = await events.collect(_about(admitted.order_id), count=1)
            letters = await dead.collect(_dead_letter_of("adjudication-tb"), count=3)
            await asyncio.sleep(3)  # the other partitions go idle; the scheduler runs
        rejection = codec.decode(CLAIMS_EVENTS, rejected.value).data
        assert (rejection.type, rejection.reason) == (
            "claim.command_rejected",
            "event_time_out_of_bounds",
        )
        reasons = sorted(DeadLetter.from_headers(r.headers).reason for r in letters)
        assert reasons == [
            "contract_violation",
            "event_time_out_of_bounds",
            "event_time_out_of_bounds",
        ]
        assert await _claims(database_url) == before  # still waiting, still held
        assert await _newest_event_time(database_url) == clock_before


async def test_on_the_wall_clock_a_stated_time_is_recorded_never_believed_as_now(
    kafka: KafkaAccess, database_url: str, producer: AIOKafkaProducer
) -> None:
    now = utc_now()
    early, backdated = _Sender(producer), _Sender(producer)
    async for _ in _adjudication(kafka, database_url, clock="wall"):
        async with tail(kafka, CLAIMS_EVENTS.name) as events:
            soon = {
                "placed_at": now - timedelta(days=2),
                "ship_by": now - timedelta(days=1),
                "estimated_delivery_min": now + timedelta(days=1),
                "estimated_delivery_max": now + timedelta(days=2),
            }
            for order in (early, backdated):
                await order.send(placed(**soon), now - timedelta(days=2))
                await order.send(contacted(at=now - timedelta(days=1)), now - timedelta(days=1))
            # Too early today; claiming to come from ten days on does not make it admissible.
            await early.send(filing(contact=None), now + timedelta(days=10))
            # Claiming to come from ten days ago does not make it judged then either.
            await backdated.send(filing(contact=None), now - timedelta(days=10))
            seen = await events.collect(_about(early.order_id, backdated.order_id), count=3)
        rejected = next(r for r in seen if _about(early.order_id)(r))
        denial = [r for r in seen if _about(backdated.order_id)(r)]
        rejection = codec.decode(CLAIMS_EVENTS, rejected.value).data
        assert rejection.reason == "event_time_out_of_bounds"
        denied = codec.decode(CLAIMS_EVENTS, denial[-1].value).data
        assert denied.reason == "filed_too_early"
        assert denied.claim.filed_at >= now  # the service's clock, not the stated time
        conn = await asyncpg.connect(database_url)
        try:
            stated = await conn.fetchval(
                "SELECT stated_at FROM claim_history WHERE claim_id = $1 AND type = $2",
                backdated.claim_id,
                "claim.filed",
            )
        finally:
            await conn.close()
        assert abs(stated - (now - timedelta(days=10))) < timedelta(seconds=1)


async def test_metrics_refuses_a_fact_from_2030_and_its_day_does_not_move(
    kafka: KafkaAccess, database_url: str, producer: AIOKafkaProducer
) -> None:
    group = f"metrics-tb-{uuid.uuid4().hex[:8]}"
    await skip_to_end(kafka, group, [ORDERS.name, CLAIMS_EVENTS.name])
    app = metrics_app(
        MetricsSettings(
            **kafka_settings(kafka),
            database_url=database_url,
            consumer_group=group,
            clock="event",
            log_format="console",
        )
    )
    order = _Sender(producer)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        tail(kafka, ORDERS.dlq) as dead,
    ):
        await order.send(placed(placed_at=T, seller_id="seller-tb"), T)
        feedback = FeedbackPosted(
            order_id="x", seller_id="seller-tb", feedback_id="fb-1", posted_at=T, rating=1
        )
        await order.send(feedback, YEAR_2030)
        (letter,) = await dead.collect(_dead_letter_of("metrics-tb"), count=1)
        await asyncio.sleep(1)
    assert DeadLetter.from_headers(letter.headers).reason == "event_time_out_of_bounds"
    conn = await asyncpg.connect(database_url)
    try:
        watermark = await conn.fetchval("SELECT event_time FROM watermark")
        as_of = await conn.fetchval(
            "SELECT as_of FROM seller_health WHERE seller_id = $1", "seller-tb"
        )
    finally:
        await conn.close()
    assert watermark == T
    assert as_of == T.date()
