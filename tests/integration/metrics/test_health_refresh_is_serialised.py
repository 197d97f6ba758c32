"""The day-boundary refresh and the consumer's batches recompute health in separate
transactions; they take turns, so a refresh never writes figures older than a batch's."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import asyncpg
import pytest

from contracts.envelope import wrap
from metrics import handlers, store
from metrics.odr import OdrSettings
from servicekit import postgres
from servicekit.delivery import Delivered
from tests.support.clocks import WALL_CLOCK
from tests.unit.adjudication.builders import placed

pytestmark = pytest.mark.integration
DAY = datetime(2026, 5, 4, 12, tzinfo=UTC)
SETTINGS = OdrSettings()


def _order(order_id: str, seller: str) -> Delivered:
    fact = placed(order_id=order_id, seller_id=seller, placed_at=DAY)
    envelope = wrap(fact, source="/test", subject=order_id, time=DAY)
    return Delivered(
        topic="orders.v1", partition=0, offset=0, key=None, envelope=envelope, timestamp=DAY
    )


async def _today(_: asyncpg.Connection) -> date:
    return DAY.date()


async def test_a_day_refresh_waits_for_a_batch_in_flight_and_then_sees_its_orders(
    database_url: str,
) -> None:
    pool = await postgres.create_pool(database_url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        async with pool.acquire() as conn, conn.transaction():  # a known seller, one order
            await handlers.apply_batch(
                conn, [_order("o-1", "s-1")], settings=SETTINGS, timekeeper=WALL_CLOCK
            )

        async def day_refresh() -> None:
            async with pool.acquire() as conn, conn.transaction():
                await handlers.refresh_new_day(conn, _today, last=None, settings=SETTINGS)

        async with pool.acquire() as batch_conn:
            batch = batch_conn.transaction()
            await batch.start()
            await handlers.apply_batch(
                batch_conn, [_order("o-2", "s-1")], settings=SETTINGS, timekeeper=WALL_CLOCK
            )
            refresh = asyncio.create_task(day_refresh())
            await asyncio.sleep(0.5)
            assert not refresh.done(), "the refresh must wait for the batch's transaction"
            await batch.commit()
        await asyncio.wait_for(refresh, 10)

        async with pool.acquire() as conn:
            orders = await conn.fetchval("SELECT orders FROM seller_health WHERE seller_id = 's-1'")
        assert orders == 2  # not the 1 the refresh would have read before the batch committed
    finally:
        await pool.close()
