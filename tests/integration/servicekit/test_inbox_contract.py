"""One contract for the inbox, run over PostgreSQL and its in-memory twin: the twin that
handler tests use behaves as the real one does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from servicekit import inbox
from servicekit.consumer import FirstDeliveries, pool_transactions
from servicekit.inbox import MemoryInbox

pytestmark = pytest.mark.integration

Begin = Callable[[], AbstractAsyncContextManager[Any]]


@pytest.fixture(params=["postgres", "memory"])
async def twin(
    request: pytest.FixtureRequest, pool: asyncpg.Pool
) -> AsyncIterator[tuple[Begin, FirstDeliveries]]:
    if request.param == "postgres":
        yield pool_transactions(lambda: pool), inbox.first_deliveries
    else:
        memory = MemoryInbox()
        yield memory.begin, memory


async def test_ids_never_seen_are_fresh_once_and_each_consumer_has_its_own(
    twin: tuple[Begin, FirstDeliveries],
) -> None:
    begin, first_deliveries = twin
    async with begin() as connection:
        assert await first_deliveries(connection, "a", ["m1", "m2", "m1"]) == {"m1", "m2"}
    async with begin() as connection:
        assert await first_deliveries(connection, "a", ["m2", "m3"]) == {"m3"}
        assert await first_deliveries(connection, "b", ["m2"]) == {"m2"}


async def test_ids_of_a_transaction_that_rolled_back_are_fresh_again(
    twin: tuple[Begin, FirstDeliveries],
) -> None:
    begin, first_deliveries = twin

    async def fail_after_recording() -> None:
        async with begin() as connection:
            assert await first_deliveries(connection, "a", ["m1"]) == {"m1"}
            raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        await fail_after_recording()
    async with begin() as connection:
        assert await first_deliveries(connection, "a", ["m1"]) == {"m1"}


async def test_pruning_removes_only_rows_older_than_the_retention(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO inbox (consumer, message_id, received_at) VALUES"
        " ('a', 'old', now() - interval '40 days'), ('a', 'recent', now() - interval '1 day')"
    )
    assert await inbox.prune(pool, timedelta(days=30), batch=1) == 1
    rows = await pool.fetch("SELECT message_id FROM inbox")
    assert [row["message_id"] for row in rows] == ["recent"]
