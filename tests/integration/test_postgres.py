"""The harness's PostgreSQL is real: asyncpg writes and reads it, transactions hold."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

pytestmark = pytest.mark.integration


async def test_asyncpg_writes_and_reads_money_and_aware_times(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "CREATE TABLE refunds (id text PRIMARY KEY, amount numeric(14, 3) NOT NULL,"
            " currency char(3) NOT NULL, refunded_at timestamptz NOT NULL)"
        )
        when = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
        await connection.execute(
            "INSERT INTO refunds VALUES ($1, $2, $3, $4)", "rfd-1", Decimal("50.10"), "EUR", when
        )
        row = await connection.fetchrow("SELECT amount, currency, refunded_at FROM refunds")
    finally:
        await connection.close()
    assert row is not None
    assert row["amount"] == Decimal("50.10")
    assert row["currency"] == "EUR"
    assert row["refunded_at"] == when


async def test_a_failed_transaction_leaves_nothing_behind(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CREATE TABLE inbox (message_id text PRIMARY KEY)")

        async def insert_twice() -> None:
            async with connection.transaction():
                await connection.execute("INSERT INTO inbox VALUES ('m-1')")
                await connection.execute("INSERT INTO inbox VALUES ('m-1')")

        with pytest.raises(asyncpg.UniqueViolationError):
            await insert_twice()
        count = await connection.fetchval("SELECT count(*) FROM inbox")
    finally:
        await connection.close()
    assert count == 0
