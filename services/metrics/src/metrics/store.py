"""Metrics' PostgreSQL tables: per-order defect state, per-seller daily counts, health.

Every function takes the caller's connection, so a batch's state, counts, inbox rows and
outbox events commit together.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
import orjson

from contracts.sellers import SellerOdrChanged
from metrics.odr import ClaimMark, DayCounts, OrderDefects
from servicekit.rowcache import VersionedCache, fetch_versioned

MIGRATIONS = Path(__file__).parent / "migrations"


def dump_state(state: OrderDefects) -> str:
    return orjson.dumps(
        {
            "order_id": state.order_id,
            "seller_id": state.seller_id,
            "channel": state.channel,
            "order_date": state.order_date.isoformat() if state.order_date else None,
            "claims": {k: [m.version, m.counts, m.pending] for k, m in state.claims.items()},
            "feedback": dict(state.feedback),
            "removed_feedback": sorted(state.removed_feedback),
            "service_chargebacks": sorted(state.service_chargebacks),
        }
    ).decode()


def load_state(text: str) -> OrderDefects:
    raw = orjson.loads(text)
    return OrderDefects(
        order_id=raw["order_id"],
        seller_id=raw["seller_id"],
        channel=raw["channel"],
        order_date=date.fromisoformat(raw["order_date"]) if raw["order_date"] else None,
        claims={k: ClaimMark(v[0], v[1], v[2]) for k, v in raw["claims"].items()},
        feedback=raw["feedback"],
        removed_feedback=frozenset(raw["removed_feedback"]),
        service_chargebacks=frozenset(raw["service_chargebacks"]),
    )


@dataclass(frozen=True, slots=True)
class Stored:
    """An order's state and what it currently adds to its seller's day (if it is counted)."""

    state: OrderDefects
    counted: DayCounts | None


@dataclass(frozen=True, slots=True)
class Caches:
    """What this process last read or wrote of orders and health (:mod:`servicekit.rowcache`)."""

    orders: VersionedCache[OrderDefects] = field(default_factory=VersionedCache)
    health: VersionedCache[SellerOdrChanged] = field(default_factory=VersionedCache)


_LOAD_ORDERS: Final = """
SELECT d.order_id, d.xmin::text AS version,
       CASE WHEN d.xmin::text IS DISTINCT FROM k.version THEN d.state END AS state,
       d.counted, d.defective, d.claim, d.negative_feedback, d.chargeback
FROM order_defects d LEFT JOIN unnest($2::text[], $3::text[]) AS k (order_id, version)
    USING (order_id)
WHERE d.order_id = ANY($1::text[])
FOR UPDATE OF d
"""


async def load_orders(
    conn: asyncpg.Connection, order_ids: Iterable[str], caches: Caches | None = None
) -> dict[str, Stored]:
    """The stored state of these orders, locked for the transaction; a state the cache holds
    at its row's current version is neither sent nor parsed again."""
    cache = caches.orders if caches is not None else None
    rows = await fetch_versioned(
        conn, _LOAD_ORDERS, order_ids, cache, load_state, key="order_id", value="state"
    )
    return {row["order_id"]: Stored(state, _counted(row)) for row, state in rows}


def _counted(row: Any) -> DayCounts | None:
    if not row["counted"]:
        return None
    return DayCounts(
        1,
        int(row["defective"]),
        int(row["claim"]),
        int(row["negative_feedback"]),
        int(row["chargeback"]),
    )


# One statement for the batch; RETURNING gives each row's new version for the cache.
_SAVE_ORDERS: Final = """
INSERT INTO order_defects (order_id, seller_id, channel, order_date, state, counted,
    defective, claim, negative_feedback, chargeback)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::jsonb[],
    $6::bool[], $7::bool[], $8::bool[], $9::bool[], $10::bool[])
ON CONFLICT (order_id) DO UPDATE SET seller_id = EXCLUDED.seller_id,
    channel = EXCLUDED.channel, order_date = EXCLUDED.order_date, state = EXCLUDED.state,
    counted = EXCLUDED.counted, defective = EXCLUDED.defective, claim = EXCLUDED.claim,
    negative_feedback = EXCLUDED.negative_feedback, chargeback = EXCLUDED.chargeback
RETURNING order_id, xmin::text AS version
"""


async def save_orders(
    conn: asyncpg.Connection, orders: Sequence[Stored], caches: Caches | None = None
) -> None:
    """Upsert these orders' states (each once); the cache learns their new versions."""
    if not orders:
        return
    rows = await conn.fetch(
        _SAVE_ORDERS,
        [o.state.order_id for o in orders],
        [o.state.seller_id for o in orders],
        [o.state.channel for o in orders],
        [o.state.order_date for o in orders],
        [dump_state(o.state) for o in orders],
        [o.counted is not None for o in orders],
        [bool(o.counted and o.counted.defective) for o in orders],
        [bool(o.counted and o.counted.claims) for o in orders],
        [bool(o.counted and o.counted.negative_feedback) for o in orders],
        [bool(o.counted and o.counted.chargebacks) for o in orders],
    )
    if caches is not None:
        caches.orders.remember(rows, {o.state.order_id: o.state for o in orders}, key="order_id")


DayKey = tuple[str, str, date]


async def add_to_days(conn: asyncpg.Connection, deltas: Mapping[DayKey, DayCounts]) -> None:
    """Add ``deltas`` (which may be negative) to the per-seller daily counts."""
    rows = [
        (seller, channel, day, d.orders, d.defective, d.claims, d.negative_feedback, d.chargebacks)
        # In key order: two transactions upserting the same days lock them in the same order.
        for (seller, channel, day), d in sorted(deltas.items())
        if d != DayCounts()
    ]
    if rows:
        await conn.executemany(
            "INSERT INTO seller_days AS s (seller_id, channel, day, orders, defective, claims,"
            " negative_feedback, chargebacks) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (seller_id, channel, day) DO UPDATE SET"
            " orders = s.orders + EXCLUDED.orders, defective = s.defective + EXCLUDED.defective,"
            " claims = s.claims + EXCLUDED.claims,"
            " negative_feedback = s.negative_feedback + EXCLUDED.negative_feedback,"
            " chargebacks = s.chargebacks + EXCLUDED.chargebacks",
            rows,
        )


async def load_days(
    conn: asyncpg.Connection, seller_ids: Iterable[str], first: date, last: date
) -> dict[str, dict[str, dict[date, DayCounts]]]:
    """seller -> channel -> day -> counts, for days in ``[first, last]``."""
    rows = await conn.fetch(
        "SELECT seller_id, channel, day, orders, defective, claims, negative_feedback,"
        " chargebacks FROM seller_days WHERE seller_id = ANY($1::text[])"
        " AND day BETWEEN $2 AND $3",
        list(set(seller_ids)),
        first,
        last,
    )
    found: dict[str, dict[str, dict[date, DayCounts]]] = {}
    for r in rows:
        found.setdefault(r["seller_id"], {}).setdefault(r["channel"], {})[r["day"]] = DayCounts(
            r["orders"], r["defective"], r["claims"], r["negative_feedback"], r["chargebacks"]
        )
    return found


_LOAD_HEALTH: Final = """
SELECT h.seller_id, h.xmin::text AS version,
       CASE WHEN h.xmin::text IS DISTINCT FROM k.version THEN h.health END AS health
FROM seller_health h LEFT JOIN unnest($2::text[], $3::text[]) AS k (seller_id, version)
    USING (seller_id)
WHERE h.seller_id = ANY($1::text[])
FOR UPDATE OF h
"""


async def load_health(
    conn: asyncpg.Connection, seller_ids: Iterable[str], caches: Caches | None = None
) -> dict[str, SellerOdrChanged]:
    """The stored health snapshot of these sellers, locked for the transaction (parsed only
    when the cache does not hold it at its current version)."""
    cache = caches.health if caches is not None else None
    rows = await fetch_versioned(
        conn, _LOAD_HEALTH, seller_ids, cache, SellerOdrChanged.model_validate_json,
        key="seller_id", value="health",
    )  # fmt: skip
    return {row["seller_id"]: health for row, health in rows}


_SAVE_HEALTH: Final = """
INSERT INTO seller_health (seller_id, as_of, orders, defective, rate, status, health,
    updated_at)
SELECT *, now() FROM unnest($1::text[], $2::date[], $3::int[], $4::int[], $5::numeric[],
    $6::text[], $7::jsonb[])
ON CONFLICT (seller_id) DO UPDATE SET as_of = EXCLUDED.as_of,
    orders = EXCLUDED.orders, defective = EXCLUDED.defective, rate = EXCLUDED.rate,
    status = EXCLUDED.status, health = EXCLUDED.health, updated_at = now()
RETURNING seller_id, xmin::text AS version
"""


async def save_health(
    conn: asyncpg.Connection,
    snapshots: Sequence[SellerOdrChanged],
    as_of: date,
    caches: Caches | None = None,
) -> None:
    """Each seller's new health snapshot as of ``as_of``, and its day in the history; the cache
    learns the snapshots' row versions."""
    if not snapshots:
        return
    rows = [
        (
            s.seller_id,
            as_of,
            s.combined.orders,
            s.combined.defective_orders,
            s.combined.rate,
            s.status,
        )
        for s in snapshots
    ]
    columns = [list(column) for column in zip(*rows, strict=True)]
    saved = await conn.fetch(_SAVE_HEALTH, *columns, [s.model_dump_json() for s in snapshots])
    if caches is not None:
        caches.health.remember(saved, {s.seller_id: s for s in snapshots}, key="seller_id")
    await conn.executemany(
        "INSERT INTO seller_history (seller_id, day, orders, defective, rate, status)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seller_id, day) DO UPDATE SET"
        " orders = EXCLUDED.orders, defective = EXCLUDED.defective, rate = EXCLUDED.rate,"
        " status = EXCLUDED.status",
        rows,
    )


SELLER_LOCKS: Final = 0x0D2_4EA17
"""The advisory-lock namespace of sellers' stripes (see :func:`lock_sellers`)."""
SELLER_STRIPES: Final = 256
"""Sellers share this many locks (by hash): a transaction holds at most this many, well within
PostgreSQL's lock table, however many sellers a day refresh recomputes."""


def seller_stripe(seller_id: str) -> int:
    """The lock stripe of a seller: the same in every process (CRC-32 of its id)."""
    return zlib.crc32(seller_id.encode()) % SELLER_STRIPES


_LOCK_STRIPES: Final = (
    "SELECT pg_advisory_xact_lock($1, stripe) FROM unnest($2::int[]) AS stripe ORDER BY stripe"
)


async def lock_sellers(conn: asyncpg.Connection, sellers: Iterable[str]) -> None:
    """Hold these sellers' locks until the transaction ends, taken in ascending stripe order so
    that two transactions never wait on each other in a cycle. Batches of different sellers
    run side by side (replicas, each on its own partitions); a batch and a day refresh that
    share a seller take turns, so neither writes figures older than the other's."""
    stripes = sorted({seller_stripe(seller) for seller in sellers})
    if stripes:
        await conn.execute(_LOCK_STRIPES, SELLER_LOCKS, stripes)


async def lock_all_sellers(conn: asyncpg.Connection) -> None:
    """Every seller's lock (a day refresh recomputes them all)."""
    await conn.execute(_LOCK_STRIPES, SELLER_LOCKS, list(range(SELLER_STRIPES)))


async def all_sellers(conn: asyncpg.Connection, first: date, last: date) -> list[str]:
    """Every seller with a health snapshot, or with orders dated in ``[first, last]``."""
    rows = await conn.fetch(
        "SELECT seller_id FROM seller_health UNION SELECT seller_id FROM seller_days"
        " WHERE day BETWEEN $1 AND $2 AND orders > 0",
        first,
        last,
    )
    return [row["seller_id"] for row in rows]


async def advance_watermark(
    conn: asyncpg.Connection, newest: Mapping[tuple[str, int], datetime]
) -> None:
    """Move each partition's watermark forward to the newest event time read on it (never
    back). Each partition's row is written only by the replica consuming it."""
    if newest:
        await conn.execute(
            "INSERT INTO partition_watermark (topic, partition, event_time)"
            " SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[])"
            " ON CONFLICT (topic, partition) DO UPDATE"
            " SET event_time = GREATEST(partition_watermark.event_time, EXCLUDED.event_time)",
            *(
                list(column)
                for column in zip(*((t, p, at) for (t, p), at in newest.items()), strict=True)
            ),
        )


async def watermark(conn: asyncpg.Connection) -> datetime | None:
    """The event-time watermark: the newest event time read on any partition (None before)."""
    value = await conn.fetchval("SELECT max(event_time) FROM partition_watermark")
    return value if isinstance(value, datetime) else None
