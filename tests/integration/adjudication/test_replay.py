"""A replay gives the same result: the same inputs, applied again to an empty database, emit
the same events with the same ids, deadlines firing on event time included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from adjudication import handlers, store
from adjudication.policy import default_policy
from adjudication.replay import Replay
from contracts import codec
from contracts.envelope import Payload, wrap
from contracts.topics import CLAIMS_EVENTS
from servicekit import postgres
from servicekit.delivery import Delivered
from servicekit.eventtime import Timekeeper
from tests.support.clocks import DEFAULT_BOUNDS
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


def _inputs() -> list[Delivered]:
    """Two orders: one claim decided by silence, one denied (platform-fulfilled)."""
    steps: list[tuple[Payload, datetime]] = []
    for index, fulfillment in enumerate(("merchant", "platform")):
        order, claim = f"replay-order-{index}", f"replay-claim-{index}"
        steps += [
            (placed(order_id=order, fulfillment=fulfillment), ESTIMATED_DELIVERY - timedelta(7)),
            (shipped(order_id=order), ESTIMATED_DELIVERY - timedelta(days=6)),
            (contacted().model_copy(update={"order_id": order}), CONTACTED),
            (filing(order_id=order, claim_id=claim), FILED),
        ]
    return [
        Delivered(topic="t", partition=0, offset=offset, key=None, timestamp=datetime.now(UTC),
                  envelope=wrap(payload, source="/replay", subject="s", time=at,
                                event_id=f"input-{offset}"))
        for offset, (payload, at) in enumerate(steps)
    ]  # fmt: skip


# Event time, as a replay runs; the wall clock is the day the replayed quarter ended.
TIMEKEEPER = Timekeeper("event", DEFAULT_BOUNDS, lambda: FILED + timedelta(days=90))


async def _run(url: str) -> list[tuple[Any, ...]]:
    pool = await postgres.create_pool(url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        policy = default_policy()
        for delivered in _inputs():  # one message per batch, as a slow consumer would
            async with pool.acquire() as conn, conn.transaction():
                await handlers.apply_batch(conn, [delivered], policy=policy, timekeeper=TIMEKEEPER)
        # Ninety days later on event time, every deadline due by then fires.
        while await handlers.fire_deadlines(pool, now=FILED + timedelta(days=90), policy=policy):
            pass
        rows = await pool.fetch("SELECT topic, key, value FROM outbox ORDER BY id")
        return [tuple(row) for row in rows]
    finally:
        await pool.close()


async def test_replaying_the_same_inputs_emits_the_same_events_with_the_same_ids(
    database_url: str, postgres_url: str
) -> None:
    second = "replay_" + uuid.uuid4().hex[:10]
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{second}"')
    try:
        first_run = await _run(database_url)
        second_run = await _run(database_url.rsplit("/", 1)[0] + "/" + second)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{second}" WITH (FORCE)')
        await admin.close()
    types = [row[2].split(b'"type":"', 1)[1].split(b'"', 1)[0] for row in first_run]
    assert types == [b"claim.filed", b"claim.action_required", b"claim.filed", b"claim.denied",
                     b"claim.decided", b"claim.closed"]  # fmt: skip
    assert first_run == second_run


async def _served_on_event_time(url: str, end: datetime) -> list[Any]:
    """The service on PostgreSQL, with a scheduler as punctual as event time allows: every
    deadline fires at its due time, before the first message after it."""
    pool = await postgres.create_pool(url)
    policy = default_policy()

    async def fire_until(moment: datetime) -> None:
        while (due := await pool.fetchval("SELECT min(due_at) FROM deadlines")) is not None:
            if due > moment:
                return
            await handlers.fire_deadlines(pool, now=due, policy=policy)

    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        for delivered in _inputs():
            await fire_until(delivered.envelope.time)
            async with pool.acquire() as conn, conn.transaction():
                await handlers.apply_batch(conn, [delivered], policy=policy, timekeeper=TIMEKEEPER)
        await fire_until(end)
        rows = await pool.fetch("SELECT value FROM outbox ORDER BY id")
        return [codec.decode(CLAIMS_EVENTS, row["value"]).data for row in rows]
    finally:
        await pool.close()


async def test_the_in_memory_replay_decides_what_the_service_decides(database_url: str) -> None:
    # atoz-whatif's replay (adjudication.replay) against the service on PostgreSQL: the same
    # events in the same order, the same final claim states, the same deciding rules.
    end = FILED + timedelta(days=90)
    served = await _served_on_event_time(database_url, end)
    memory = Replay(default_policy())
    for delivered in _inputs():
        memory.feed(delivered.envelope)
    memory.finish(end)
    final = {event.claim.claim_id: event.claim for event in served}  # the last state of each
    assert {claim.state.claim_id: claim.state for claim in memory.claims()} == final
    decided = {e.claim_id: e for e in served if getattr(e, "rules", ())}
    assert {k: (e.type, e.rules) for k, e in decided.items()} == {
        k: (e.type, e.rules) for k, e in memory.last_decision.items()
    }
