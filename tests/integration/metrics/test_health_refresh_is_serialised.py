"""The day-boundary refresh and the consumer's batches recompute health in separate
transactions; they take turns, so a refresh never writes figures older than a batch's."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import asyncpg
import pytest

from contracts.envelope import wrap
from metrics import handlers, odr, store
from servicekit import postgres
from servicekit.delivery import Delivered
from tests.support.clocks import WALL_CLOCK
from tests.unit.adjudication.builders import placed

pytestmark = pytest.mark.integration
DAY = datetime(2026, 5, 4, 12, tzinfo=UTC)
SETTINGS = odr.default_settings()


def _order(order_id: str, seller: str, partition: int = 0) -> Delivered:
    fact = placed(order_id=order_id, seller_id=seller, placed_at=DAY)
    envelope = wrap(fact, source="/test", subject=order_id, time=DAY)
    return Delivered(
        topic="orders.v1",
        partition=partition,
        offset=0,
        key=None,
        envelope=envelope,
        timestamp=DAY,
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


def _sellers_on_different_stripes() -> tuple[str, str]:
    first = "s-1"
    other = next(
        f"s-{n}"
        for n in range(2, 1000)
        if store.seller_stripe(f"s-{n}") != store.seller_stripe(first)
    )
    return first, other


async def test_batches_of_different_sellers_do_not_wait_for_each_other(
    database_url: str,
) -> None:
    # Two replicas, each on its own partitions: their sellers differ, their batches overlap.
    mine, theirs = _sellers_on_different_stripes()
    pool = await postgres.create_pool(database_url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        async with pool.acquire() as held:
            in_flight = held.transaction()
            await in_flight.start()
            await handlers.apply_batch(
                held, [_order("o-1", mine)], settings=SETTINGS, timekeeper=WALL_CLOCK
            )

            async def other_replica() -> None:
                async with pool.acquire() as conn, conn.transaction():
                    await handlers.apply_batch(
                        conn,
                        [_order("o-2", theirs, partition=1)],  # its partitions, not mine
                        settings=SETTINGS,
                        timekeeper=WALL_CLOCK,
                    )

            await asyncio.wait_for(other_replica(), 5)  # did not wait for the batch in flight
            await in_flight.commit()
        async with pool.acquire() as conn:
            healthy = await conn.fetchval("SELECT count(*) FROM seller_health")
        assert healthy == 2
    finally:
        await pool.close()


async def test_batches_sharing_sellers_in_opposite_orders_take_turns_without_a_deadlock(
    database_url: str,
) -> None:
    a, b = _sellers_on_different_stripes()
    pool = await postgres.create_pool(database_url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        async with pool.acquire() as held:
            first = held.transaction()
            await first.start()
            await handlers.apply_batch(
                held,
                [_order("o-1", a), _order("o-2", b)],
                settings=SETTINGS,
                timekeeper=WALL_CLOCK,
            )

            async def second() -> None:
                async with pool.acquire() as conn, conn.transaction():
                    await handlers.apply_batch(
                        conn,
                        [_order("o-3", b), _order("o-4", a)],
                        settings=SETTINGS,
                        timekeeper=WALL_CLOCK,
                    )

            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.5)
            assert not waiting.done(), "a batch sharing a seller must wait for the one in flight"
            await first.commit()
        await asyncio.wait_for(waiting, 10)
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT seller_id, orders FROM seller_health ORDER BY 1")
        assert sorted((r["seller_id"], r["orders"]) for r in rows) == sorted([(a, 2), (b, 2)])
    finally:
        await pool.close()
