"""Each input partition's newest event time, and whether it is still being read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adjudication import store
from adjudication.eventclock import PartitionTime, event_clock
from servicekit import postgres

pytestmark = pytest.mark.integration
T = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


async def test_partition_times_never_move_back_and_say_which_were_read_lately(
    database_url: str,
) -> None:
    pool = await postgres.create_pool(database_url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        async with pool.acquire() as conn:
            assert await store.partition_times(conn, idle_seconds=60) == []
            await store.advance_partition_clocks(
                conn, {("claims.commands.v1", 0): T, ("orders.v1", 3): T + timedelta(days=3)}
            )
            # Never backwards: an older event on a partition leaves its time alone.
            await store.advance_partition_clocks(
                conn, {("claims.commands.v1", 0): T - timedelta(1)}
            )
            assert await store.partition_times(conn, idle_seconds=60) == [
                PartitionTime("claims.commands.v1", 0, T, read_lately=True),
                PartitionTime("orders.v1", 3, T + timedelta(days=3), read_lately=True),
            ]
            await conn.execute(
                "UPDATE partition_clock SET seen_at = now() - interval '1 hour'"
                " WHERE topic = 'claims.commands.v1'"
            )
            times = await store.partition_times(conn, idle_seconds=60)
            assert [p.read_lately for p in times] == [False, True]
            # Quiet, but with records unread: the commands partition still holds the clock.
            assert event_clock(times, {("claims.commands.v1", 0)}) == T
    finally:
        await pool.close()
