"""The simulator refuses a platform whose order facts already reach past the simulated span:
on event time, replaying older days there would fire every deadline at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from contracts import codec
from contracts.envelope import wrap
from contracts.topics import ORDERS
from marketsim.preflight import PlatformNotReadyError, check_clock, newest_order_fact
from servicekit.kafka import KafkaAccess
from tests.unit.adjudication.builders import placed

pytestmark = pytest.mark.integration

# Long past, so that no other test's event clock is moved by it.
OLD = datetime(2001, 1, 1, tzinfo=UTC)


async def test_facts_later_than_the_start_are_refused_and_earlier_ones_are_not(
    kafka: KafkaAccess,
) -> None:
    fact = placed(order_id="preflight-1", seller_id="s-preflight", placed_at=OLD)
    producer = AIOKafkaProducer(**kafka.options())
    await producer.start()
    try:
        envelope = wrap(fact, source="/test", subject="preflight-1", time=OLD)
        await producer.send_and_wait(
            ORDERS.name, codec.encode(envelope), key=codec.message_key(ORDERS, envelope)
        )
    finally:
        await producer.stop()

    newest = await newest_order_fact(kafka)
    assert newest is not None
    assert newest >= OLD
    with pytest.raises(PlatformNotReadyError, match="already holds facts up to"):
        await check_clock(kafka, OLD - timedelta(days=1))
    await check_clock(kafka, datetime(2200, 1, 1, tzinfo=UTC))


async def test_an_unreachable_kafka_is_told_in_one_sentence() -> None:
    with pytest.raises(
        PlatformNotReadyError,
        match=re.escape("Kafka does not answer at 127.0.0.1:1 as an anonymous client:"),
    ):
        await check_clock(KafkaAccess("127.0.0.1:1"), OLD)
