"""On a real PostgreSQL, after every batch and every day boundary of a random history, each
seller's stored health (the seller_health JSON, its columns and its day in the history) equals
a recomputation from every event applied, and sellers.health.v1 tells of a change exactly when
a figure other than the date changed."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings

from contracts import codec
from contracts.envelope import Payload, wrap
from contracts.sellers import SellerOdrChanged, SellerStatusChanged
from contracts.topics import SELLERS_HEALTH
from metrics import handlers, store
from servicekit import postgres
from servicekit.delivery import Delivered
from tests.support.clocks import WALL_CLOCK
from tests.unit.metrics.histories import (
    DAYS_GO_BY,
    LAGGED,
    SECOND_DEFECT,
    START,
    Batch,
    History,
    Listener,
    StatusChange,
    assert_shown_equals_recomputation,
    at,
    histories,
    recompute,
)

pytestmark = pytest.mark.integration
TABLES = "order_defects, seller_days, seller_health, seller_history, partition_watermark, outbox"


def _delivered(events: tuple[Payload, ...], day: date) -> list[Delivered]:
    return [
        Delivered(topic="orders.v1", partition=0, offset=index, key=None, timestamp=at(day),
                  envelope=wrap(event, source="/tests", subject="s", time=at(day)))
        for index, event in enumerate(events)
    ]  # fmt: skip


async def _shown(conn: asyncpg.Connection, day: date) -> dict[str, SellerOdrChanged]:
    """The stored snapshots, checked against their own columns and their day in the history."""
    shown = {}
    for row in await conn.fetch(
        "SELECT h.*, d.orders AS d_orders, d.defective AS d_defective, d.rate AS d_rate,"
        " d.status AS d_status FROM seller_health h"
        " LEFT JOIN seller_history d ON (d.seller_id, d.day) = (h.seller_id, h.as_of)"
    ):
        health = SellerOdrChanged.model_validate_json(row["health"])
        combined = health.combined
        figures = (combined.orders, combined.defective_orders, combined.rate, health.status)
        assert row["as_of"] == day
        assert (row["orders"], row["defective"], row["rate"], row["status"]) == figures
        assert (row["d_orders"], row["d_defective"], row["d_rate"], row["d_status"]) == figures
        shown[row["seller_id"]] = health
    return shown


async def _published(
    conn: asyncpg.Connection, after: int
) -> tuple[int, list[SellerOdrChanged], list[StatusChange]]:
    """The health events enqueued since outbox id ``after``: the last id, and the events."""
    odr_changed, status_changed = [], []
    last = after
    for row in await conn.fetch("SELECT id, value FROM outbox WHERE id > $1 ORDER BY id", after):
        last = row["id"]
        event = codec.decode(SELLERS_HEALTH, bytes(row["value"])).data
        if isinstance(event, SellerStatusChanged):
            status_changed.append((event.seller_id, event.previous_status, event.status))
        else:
            assert isinstance(event, SellerOdrChanged)
            odr_changed.append(event)
    return last, odr_changed, status_changed


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=histories())
@example(history=SECOND_DEFECT)
@example(history=DAYS_GO_BY)
@example(history=LAGGED)
async def test_stored_health_equals_a_recomputation_after_every_batch_and_every_day(
    database_url: str, history: History
) -> None:
    pool = await postgres.create_pool(database_url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        await pool.execute(f"TRUNCATE {TABLES}")
        listener, outbox, previous = Listener(), 0, START

        async def today(_: asyncpg.Connection) -> date:
            return day

        for step, day, applied in history.replay():
            async with pool.acquire() as conn, conn.transaction():
                if isinstance(step, Batch):
                    await handlers.apply_batch(
                        conn,
                        _delivered(step.events, day),
                        settings=history.settings,
                        timekeeper=WALL_CLOCK,
                        as_of=day,
                    )
                else:
                    await handlers.refresh_new_day(
                        conn, today, last=previous, settings=history.settings
                    )
            previous = day
            async with pool.acquire() as conn:
                shown = await _shown(conn, day)
                outbox, odr_changed, status_changed = await _published(conn, outbox)
            assert_shown_equals_recomputation(shown, recompute(applied, day, history.settings))
            listener.hear(shown, odr_changed, status_changed)
    finally:
        await pool.close()
