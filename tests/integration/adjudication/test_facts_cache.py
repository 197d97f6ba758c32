"""Order facts served from the process's cache are never stale: what another replica wrote,
or what this process wrote in a transaction that rolled back, is read from the table again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from adjudication import facts as fold
from adjudication import store
from adjudication.facts import OrderFacts
from servicekit.postgres import SERVICEKIT_MIGRATIONS, apply_migrations, create_pool
from tests.unit.adjudication.builders import ORDER, contacted, order_facts, shipped

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url)
    await apply_migrations(created, SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
    try:
        yield created
    finally:
        await created.close()


async def _save(pool: asyncpg.Pool, facts: OrderFacts, cache: store.FactsCache | None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store.save_facts(conn, [facts], cache)


async def _load(pool: asyncpg.Pool, cache: store.FactsCache | None) -> OrderFacts:
    async with pool.acquire() as conn, conn.transaction():
        return (await store.load_facts(conn, [ORDER], cache))[ORDER]


class _RolledBackError(Exception):
    pass


async def _save_then_fail(pool: asyncpg.Pool, facts: OrderFacts, cache: store.FactsCache) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store.save_facts(conn, [facts], cache)
        raise _RolledBackError


async def test_what_this_process_wrote_is_served_without_being_read_again(
    pool: asyncpg.Pool,
) -> None:
    cache = store.FactsCache()
    written = order_facts()
    await _save(pool, written, cache)
    assert await _load(pool, cache) is written  # the very object: not parsed again
    assert await _load(pool, None) == written  # and the table holds the same


async def test_a_row_another_replica_rewrote_is_read_again(pool: asyncpg.Pool) -> None:
    mine, theirs = store.FactsCache(), store.FactsCache()
    await _save(pool, order_facts(), mine)
    newer = fold.apply(order_facts(), shipped(shipment_id="shp-2"))
    await _save(pool, newer, theirs)
    assert await _load(pool, mine) == newer


async def test_a_write_rolled_back_is_never_served(pool: asyncpg.Pool) -> None:
    cache = store.FactsCache()
    committed = order_facts()
    await _save(pool, committed, cache)
    lost = fold.apply(committed, contacted(contact_id="msg-lost"))

    with pytest.raises(_RolledBackError):
        await _save_then_fail(pool, lost, cache)
    loaded = await _load(pool, cache)
    assert loaded == committed
    assert "msg-lost" not in loaded.contacts


async def test_facts_saved_as_their_changes_read_back_as_the_whole_order(
    pool: asyncpg.Pool,
) -> None:
    first = order_facts()
    await _save(pool, first, None)
    later = fold.apply(fold.apply(first, shipped(shipment_id="shp-2")), contacted())
    async with pool.acquire() as conn, conn.transaction():
        # Only the shipments and contacts go: the placement stays as stored.
        await store.save_facts(conn, [later], None, loaded={ORDER: first})
    assert first.placed is not None
    assert await _load(pool, None) == later
