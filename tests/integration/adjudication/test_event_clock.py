"""The event-time clock waits for the slowest input still being read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adjudication import store
from servicekit import postgres

pytestmark = pytest.mark.integration
T = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


async def test_a_topic_running_ahead_does_not_move_the_clock_until_the_other_goes_quiet(
    database_url: str,
) -> None:
    pool = await postgres.create_pool(database_url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        async with pool.acquire() as conn:
            assert await store.watermark(conn) is None
            await store.advance_partition_clocks(
                conn, {("claims.commands.v1", 0): T, ("orders.v1", 3): T + timedelta(days=3)}
            )
            assert await store.watermark(conn, idle_seconds=60) == T
            # Never backwards: an older event on a partition leaves its time alone.
            await store.advance_partition_clocks(
                conn, {("claims.commands.v1", 0): T - timedelta(1)}
            )
            assert await store.watermark(conn, idle_seconds=60) == T
            # The commands partition goes quiet: the orders topic sets the time.
            await conn.execute(
                "UPDATE partition_clock SET seen_at = now() - interval '1 hour'"
                " WHERE topic = 'claims.commands.v1'"
            )
            assert await store.watermark(conn, idle_seconds=60) == T + timedelta(days=3)
            # Everything quiet (a replay that has finished): the newest time of all.
            await conn.execute("UPDATE partition_clock SET seen_at = now() - interval '1 hour'")
            assert await store.watermark(conn, idle_seconds=60) == T + timedelta(days=3)
    finally:
        await pool.close()
