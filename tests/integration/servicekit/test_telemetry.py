"""The sampled gauges against a real broker and database: consumer lag per partition while a
backlog is being read, and the outbox's backlog, back to zero once everything is done."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from prometheus_client import generate_latest

from servicekit.delivery import Delivered
from servicekit.kafka import KafkaAccess
from servicekit.outbox import OutboxMessage, enqueue
from servicekit.postgres import SERVICEKIT_MIGRATIONS
from servicekit.runtime import ConsumingService
from servicekit.telemetry import sample_once
from tests.integration.servicekit.conftest import (
    Topics,
    decode_as_orders,
    order_placed,
    send_envelopes,
    unique,
    wait_until,
)

pytestmark = pytest.mark.integration


async def _slowly(_: asyncpg.Connection, __: list[Delivered]) -> None:
    await asyncio.sleep(0.3)  # a backlog that takes a few seconds to read


async def test_lag_shows_while_a_backlog_is_read_and_the_outbox_backlog_is_counted(
    kafka: KafkaAccess, database_url: str, topics: Topics, producer: AIOKafkaProducer
) -> None:
    source = await topics.new(partitions=1)
    await send_envelopes(producer, source, [order_placed(f"ord-{n}") for n in range(60)])
    service = ConsumingService(
        name="telemetry-test",
        database_url=database_url,
        pool_size=4,
        kafka=kafka,
        consumer_group=unique("telemetry"),
        topics=[source],
        max_batch=5,
        migrations=SERVICEKIT_MIGRATIONS,
        handler=_slowly,
        grace_seconds=2,
        decode=decode_as_orders,
    )
    app = FastAPI(lifespan=service.lifespan)
    service.install(app)
    registry = service.metrics.registry
    lag = {"topic": source.name, "partition": "0"}
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):

        async def lagging() -> bool:
            await sample_once(service.metrics, service.pool, service.consumer.subscriber.consumer)
            return (registry.get_sample_value("atoz_consumer_lag", lag) or 0) > 0

        await wait_until(lagging, within=20, what="a non-zero lag while the backlog is read")

        async with service.pool.acquire() as connection, connection.transaction():
            # A topic nobody created: the row stays, and is counted.
            await enqueue(connection, [OutboxMessage(unique("test.missing"), b"k", b"stuck")])
        await sample_once(service.metrics, service.pool, service.consumer.subscriber.consumer)
        assert registry.get_sample_value("atoz_outbox_rows") == 1

        async def caught_up() -> bool:
            await sample_once(service.metrics, service.pool, service.consumer.subscriber.consumer)
            return registry.get_sample_value("atoz_consumer_lag", lag) == 0

        await wait_until(caught_up, within=30, what="the lag back to zero")
    applied = registry.get_sample_value("atoz_messages_applied_total", {"topic": source.name})
    assert applied == 60


async def test_what_the_relay_publishes_is_counted_once_acknowledged_per_topic(
    kafka: KafkaAccess, database_url: str, topics: Topics, producer: AIOKafkaProducer
) -> None:
    source = await topics.new(partitions=1)
    target = await topics.new(partitions=1)

    async def relay_each(connection: asyncpg.Connection, batch: list[Delivered]) -> None:
        # Each message consumed is an event to publish (through the outbox and its relay).
        rows = [OutboxMessage(target.name, d.key or b"k", d.value or b"") for d in batch]
        await enqueue(connection, rows)

    await send_envelopes(producer, source, [order_placed(f"ord-{n}") for n in range(20)])
    service = ConsumingService(
        name="telemetry-relay-test",
        database_url=database_url,
        pool_size=4,
        kafka=kafka,
        consumer_group=unique("telemetry"),
        topics=[source],
        publishes=[target],
        max_batch=50,
        migrations=SERVICEKIT_MIGRATIONS,
        handler=relay_each,
        grace_seconds=2,
        decode=decode_as_orders,
    )
    app = FastAPI(lifespan=service.lifespan)
    service.install(app)
    registry = service.metrics.registry
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):

        async def all_published() -> bool:
            found = registry.get_sample_value(
                "atoz_messages_published_total", {"topic": target.name}
            )
            return found == 20

        await wait_until(all_published, within=30, what="20 records published and counted")
    text = generate_latest(registry).decode()
    # faststream counts consumption; publishing is counted here, once the broker acknowledged
    # (faststream's per-message publish metrics would count records merely queued).
    assert "faststream_received_messages_total" in text
    assert "faststream_published_messages_total{" not in text
