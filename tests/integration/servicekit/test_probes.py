"""Readiness tells the truth and liveness asks for a restart only when one helps: each probe
watched while a dependency or a loop is broken, on a real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from servicekit.delivery import Delivered
from servicekit.kafka import KafkaAccess
from servicekit.loophealth import LoopHealth
from servicekit.outbox import OutboxMessage, enqueue
from servicekit.postgres import SERVICEKIT_MIGRATIONS
from servicekit.runtime import ConsumingService, Loop
from tests.integration.servicekit.conftest import Topics, unique
from tests.integration.servicekit.test_outbox_relay import _terminate_every_connection

pytestmark = pytest.mark.integration


async def _nothing(_: asyncpg.Connection, __: list[Delivered]) -> None:
    return None


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def _service(
    kafka: KafkaAccess, database_url: str, topics: Topics, *loops: Loop, **options: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, ConsumingService]]:
    service = ConsumingService(
        name="probe-test",
        database_url=database_url,
        pool_size=4,
        kafka=kafka,
        consumer_group=unique("probe"),
        topics=[await topics.new(partitions=1)],
        max_batch=10,
        migrations=SERVICEKIT_MIGRATIONS,  # no tables of its own: the shared ones, once
        handler=_nothing,
        grace_seconds=2,
        loops=loops,
        **options,
    )
    app = FastAPI(lifespan=service.lifespan)
    service.install(app)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client, service


async def _answer(
    client: httpx.AsyncClient, probe: str, wanted: int, within: float = 20.0
) -> dict[str, Any]:
    """The probe's body once it answers ``wanted`` (fails after ``within`` seconds)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        answer = await client.get(f"/health/{probe}")
        if answer.status_code == wanted:
            body: dict[str, Any] = answer.json()
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"/health/{probe} stayed {answer.status_code}: {answer.text}")
        await asyncio.sleep(0.2)


def _steady(health_calls: list[str]) -> Loop:
    async def steady(pool: asyncpg.Pool, health: LoopHealth) -> None:
        # As the services' loops do: a pass that fails is reported and tried again.
        while True:
            try:
                await pool.fetchval("SELECT 1")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                health.failed(error)
            else:
                health.worked()
                health_calls.append("worked")
            await asyncio.sleep(0.1)

    return steady


async def test_a_healthy_service_is_ready_and_alive(
    kafka: KafkaAccess, database_url: str, topics: Topics
) -> None:
    async with _service(kafka, database_url, topics, _steady([])) as (client, _):
        ready = await _answer(client, "ready", 200)
        parts = {"kafka", "consumer", "relay", "steady", "postgres", "outbox"}
        assert set(ready["checks"]) == parts
        assert (await client.get("/health/live")).status_code == 200


async def test_a_loop_that_keeps_failing_is_not_ready_but_alive(
    kafka: KafkaAccess, database_url: str, topics: Topics
) -> None:
    async def scheduler(_: asyncpg.Pool, health: LoopHealth) -> None:
        while True:
            health.failed(OSError("the database went away"))
            await asyncio.sleep(0.1)

    async with _service(kafka, database_url, topics, scheduler) as (client, _):
        ready = await _answer(client, "ready", 503)
        assert ready["checks"]["scheduler"]["error"] == "OSError: the database went away"
        # Riding out an outage: a restart would not help.
        assert (await client.get("/health/live")).status_code == 200


async def test_a_loop_that_makes_no_pass_at_all_is_wedged_and_not_alive(
    kafka: KafkaAccess, database_url: str, topics: Topics
) -> None:
    async def stuck(_: asyncpg.Pool, __: LoopHealth) -> None:
        await asyncio.Event().wait()  # never reports again

    async with _service(kafka, database_url, topics, stuck, wedged_after_seconds=1.0) as (
        client,
        _,
    ):
        live = await _answer(client, "live", 503)
        assert live["checks"]["stuck"] == {"ok": False}


async def test_a_loop_whose_task_died_is_not_alive(
    kafka: KafkaAccess, database_url: str, topics: Topics
) -> None:
    async def crashes(_: asyncpg.Pool, __: LoopHealth) -> None:
        raise RuntimeError("a bug")

    async with _service(kafka, database_url, topics, crashes) as (client, _):
        live = await _answer(client, "live", 503)
        assert live["checks"]["crashes"] == {"ok": False}


async def test_without_kafka_the_broker_link_and_relay_are_failing_and_the_service_not_ready(
    kafka: KafkaAccess, database_url: str, topics: Topics
) -> None:
    nowhere = KafkaAccess(f"127.0.0.1:{_closed_port()}")
    async with _service(nowhere, database_url, topics) as (client, _):
        ready = await _answer(client, "ready", 503)
        assert ready["checks"]["kafka"]["healthy"] is False
        await _answer(client, "ready", 503)
        ready = (await client.get("/health/ready")).json()
        assert ready["checks"]["relay"]["healthy"] is False, ready
        # Riding out an outage, not wedged: no restart asked for.
        assert (await client.get("/health/live")).status_code == 200


async def test_an_outbox_row_stuck_longer_than_the_setting_makes_the_service_not_ready(
    kafka: KafkaAccess, database_url: str, topics: Topics
) -> None:
    async with _service(kafka, database_url, topics, outbox_stall_seconds=1.0) as (
        client,
        service,
    ):
        await _answer(client, "ready", 200)
        async with service.pool.acquire() as connection, connection.transaction():
            # A topic nobody created: the relay can never publish it.
            await enqueue(connection, [OutboxMessage(unique("test.missing"), b"k", b"stuck")])
        await _answer(client, "ready", 503)  # the relay fails at once; the row ages meanwhile
        await asyncio.sleep(1.2)
        ready = await _answer(client, "ready", 503)
        assert ready["checks"]["outbox"]["ok"] is False
        assert ready["checks"]["outbox"]["oldest_row_seconds"] >= 1.0


async def test_after_the_database_drops_every_connection_the_service_is_ready_again(
    kafka: KafkaAccess, database_url: str, postgres_url: str, topics: Topics
) -> None:
    calls: list[str] = []
    async with _service(kafka, database_url, topics, _steady(calls)) as (client, _):
        await _answer(client, "ready", 200)
        assert await _terminate_every_connection(database_url, postgres_url) >= 1
        await asyncio.sleep(0.5)
        before = len(calls)
        ready = await _answer(client, "ready", 200)
        assert all(check["ok"] for check in ready["checks"].values())
        await asyncio.sleep(0.5)
        assert len(calls) > before  # the loop works again, on fresh connections
