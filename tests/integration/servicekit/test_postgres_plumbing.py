"""Migrations, the inbox and the outbox against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from servicekit.inbox import first_deliveries
from servicekit.outbox import OUTBOX_CHANNEL, OutboxMessage, decode_headers, enqueue
from servicekit.postgres import SERVICEKIT_MIGRATIONS, apply_migrations, create_pool

pytestmark = pytest.mark.integration


def _service_migrations(root: Path) -> Path:
    folder = root / "billing" / "migrations"
    folder.mkdir(parents=True)
    (folder / "0001_refunds.sql").write_text(
        "CREATE TABLE refunds (id text PRIMARY KEY);\nINSERT INTO refunds VALUES ('seed');\n"
    )
    (folder / "0002_refund_amount.sql").write_text(
        "ALTER TABLE refunds ADD COLUMN amount numeric NOT NULL DEFAULT 0;"
    )
    return folder


async def test_migrations_apply_in_order_once_and_are_recorded_per_scope(
    database_url: str, tmp_path: Path
) -> None:
    folder = _service_migrations(tmp_path)
    pool = await create_pool(database_url)
    try:
        first = await apply_migrations(pool, SERVICEKIT_MIGRATIONS, folder)
        second = await apply_migrations(pool, SERVICEKIT_MIGRATIONS, folder)
        ledger = await pool.fetch("SELECT scope, version FROM schema_migrations ORDER BY 1, 2")
        seeded = await pool.fetchval("SELECT amount FROM refunds WHERE id = 'seed'")
    finally:
        await pool.close()
    assert first == [
        "servicekit:0001_inbox_outbox",
        "servicekit:0002_inbox_retention",
        "servicekit:0003_outbox_lanes",
        "billing:0001_refunds",
        "billing:0002_refund_amount",
    ]
    assert second == []
    assert [tuple(row) for row in ledger] == [
        ("billing", "0001"),
        ("billing", "0002"),
        ("servicekit", "0001"),
        ("servicekit", "0002"),
        ("servicekit", "0003"),
    ]
    assert seeded == 0


async def test_two_processes_migrating_at_once_apply_each_file_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    folder = _service_migrations(tmp_path)
    pools = [await create_pool(database_url), await create_pool(database_url)]
    try:
        results = await asyncio.gather(
            *(apply_migrations(pool, SERVICEKIT_MIGRATIONS, folder) for pool in pools)
        )
    finally:
        for pool in pools:
            await pool.close()
    # The seed INSERT would fail on its primary key had both processes run 0001_refunds.
    assert sorted(results[0] + results[1]) == sorted(
        [
            "servicekit:0001_inbox_outbox",
            "servicekit:0002_inbox_retention",
            "servicekit:0003_outbox_lanes",
            "billing:0001_refunds",
            "billing:0002_refund_amount",
        ]
    )


async def test_a_failing_migration_leaves_earlier_ones_applied_and_itself_not_at_all(
    database_url: str, tmp_path: Path
) -> None:
    folder = _service_migrations(tmp_path)
    (folder / "0003_broken.sql").write_text("CREATE TABLE half_done (id int);\nTHIS IS NOT SQL;")
    pool = await create_pool(database_url)
    try:
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await apply_migrations(pool, folder)
        versions = await pool.fetch("SELECT version FROM schema_migrations ORDER BY 1")
        half_done = await pool.fetchval("SELECT to_regclass('half_done')")
    finally:
        await pool.close()
    assert [row["version"] for row in versions] == ["0001", "0002"]
    assert half_done is None


async def test_the_inbox_returns_only_ids_never_seen_by_that_consumer(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        async with connection.transaction():
            first = await first_deliveries(connection, "adjudication", ["a", "b", "a"])
        async with connection.transaction():
            second = await first_deliveries(connection, "adjudication", ["b", "c"])
        async with connection.transaction():
            other_consumer = await first_deliveries(connection, "metrics", ["a"])
    assert first == {"a", "b"}
    assert second == {"c"}
    assert other_consumer == {"a"}


async def test_an_inbox_entry_rolled_back_with_its_transaction_is_forgotten(
    pool: asyncpg.Pool,
) -> None:
    async def apply_then_fail(connection: asyncpg.Connection) -> None:
        async with connection.transaction():
            await first_deliveries(connection, "adjudication", ["m-1"])
            raise RuntimeError("handler blew up")

    async with pool.acquire() as connection:
        with pytest.raises(RuntimeError, match="handler blew up"):
            await apply_then_fail(connection)
        async with connection.transaction():
            again = await first_deliveries(connection, "adjudication", ["m-1"])
    assert again == {"m-1"}


async def test_the_inbox_and_the_outbox_refuse_to_work_outside_a_transaction(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        with pytest.raises(RuntimeError, match="inside"):
            await first_deliveries(connection, "adjudication", ["m-1"])
        with pytest.raises(RuntimeError, match="inside"):
            await enqueue(connection, [OutboxMessage("t", b"k", b"v")])


async def test_enqueued_messages_keep_their_order_and_headers_and_notify_only_at_commit(
    pool: asyncpg.Pool,
) -> None:
    notified = asyncio.Event()

    def on_notify(*_: object) -> None:
        notified.set()

    listener = await pool.acquire()
    await listener.add_listener(OUTBOX_CHANNEL, on_notify)
    try:
        messages = [
            OutboxMessage("claims.events.v1", f"k{i}".encode(), f"v{i}".encode(), (("h", b"\x00"),))
            for i in range(5)
        ]
        async with pool.acquire() as connection, connection.transaction():
            await enqueue(connection, messages)
            await asyncio.sleep(0.2)
            assert not notified.is_set()  # nothing to relay before the transaction commits
        await asyncio.wait_for(notified.wait(), 2.0)
        rows = await pool.fetch("SELECT topic, key, value, headers FROM outbox ORDER BY id")
    finally:
        await listener.remove_listener(OUTBOX_CHANNEL, on_notify)
        await pool.release(listener)
    assert [
        OutboxMessage(row["topic"], row["key"], row["value"], tuple(decode_headers(row["headers"])))
        for row in rows
    ] == messages
