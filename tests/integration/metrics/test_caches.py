"""Order states and health snapshots served from the process's caches are never stale: what
another replica wrote, or what this process wrote in a transaction that rolled back, is read
from the tables again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest

from contracts.examples import seller_payloads
from contracts.sellers import SellerOdrChanged
from metrics import store
from metrics.odr import DayCounts, OrderDefects
from servicekit.postgres import SERVICEKIT_MIGRATIONS, apply_migrations, create_pool

pytestmark = pytest.mark.integration
DAY = date(2026, 3, 2)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url)
    await apply_migrations(created, SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
    try:
        yield created
    finally:
        await created.close()


class _RolledBackError(Exception):
    pass


def _order(feedback: dict[str, bool]) -> store.Stored:
    state = OrderDefects("o-1", "s-1", "seller_fulfilled", DAY, feedback=feedback)
    return store.Stored(state, DayCounts(1))


def _health(status: Any) -> SellerOdrChanged:
    template = seller_payloads()[0]
    assert isinstance(template, SellerOdrChanged)
    return template.model_copy(update={"seller_id": "s-1", "status": status})


async def _in_transaction(pool: asyncpg.Pool, work: Any, *, fail: bool = False) -> Any:
    async with pool.acquire() as conn, conn.transaction():
        result = await work(conn)
        if fail:
            raise _RolledBackError
        return result


async def test_an_order_state_written_here_is_served_without_parsing(pool: asyncpg.Pool) -> None:
    caches = store.Caches()
    order = _order({})
    await _in_transaction(pool, lambda c: store.save_orders(c, [order], caches))
    loaded = await _in_transaction(pool, lambda c: store.load_orders(c, ["o-1"], caches))
    assert loaded["o-1"].state is order.state


async def test_an_order_state_another_replica_rewrote_is_read_again(pool: asyncpg.Pool) -> None:
    mine, theirs = store.Caches(), store.Caches()
    await _in_transaction(pool, lambda c: store.save_orders(c, [_order({})], mine))
    newer = _order({"fb-1": True})
    await _in_transaction(pool, lambda c: store.save_orders(c, [newer], theirs))
    loaded = await _in_transaction(pool, lambda c: store.load_orders(c, ["o-1"], mine))
    assert loaded["o-1"].state == newer.state


async def test_an_order_state_rolled_back_is_never_served(pool: asyncpg.Pool) -> None:
    caches = store.Caches()
    committed = _order({})
    await _in_transaction(pool, lambda c: store.save_orders(c, [committed], caches))
    with pytest.raises(_RolledBackError):
        await _in_transaction(
            pool, lambda c: store.save_orders(c, [_order({"lost": True})], caches), fail=True
        )
    loaded = await _in_transaction(pool, lambda c: store.load_orders(c, ["o-1"], caches))
    assert loaded["o-1"].state == committed.state


async def test_a_health_snapshot_rolled_back_or_rewritten_elsewhere_is_never_served(
    pool: asyncpg.Pool,
) -> None:
    mine, theirs = store.Caches(), store.Caches()
    normal, at_risk = _health("NORMAL"), _health("AT_RISK")
    await _in_transaction(pool, lambda c: store.save_health(c, [normal], DAY, mine))
    with pytest.raises(_RolledBackError):
        await _in_transaction(pool, lambda c: store.save_health(c, [at_risk], DAY, mine), fail=True)
    loaded = await _in_transaction(pool, lambda c: store.load_health(c, ["s-1"], mine))
    assert loaded["s-1"] == normal  # the committed one (read again: the cache held the lost one)
    await _in_transaction(pool, lambda c: store.save_health(c, [at_risk], DAY, theirs))
    loaded = await _in_transaction(pool, lambda c: store.load_health(c, ["s-1"], mine))
    assert loaded["s-1"].status == "AT_RISK"
