"""Adjudication's PostgreSQL tables: order facts, claims, history, deadlines, the watermark.

Every function takes the caller's connection, so a batch of messages, its inbox rows and its
outbox rows commit or roll back together (see :mod:`adjudication.handlers`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
from pydantic import TypeAdapter

from adjudication.eventclock import PartitionTime
from adjudication.facts import OrderFacts
from adjudication.lifecycle import Claim, pending_deadlines
from servicekit.rowcache import VersionedCache, fetch_versioned

MIGRATIONS = Path(__file__).parent / "migrations"


FactsCache = VersionedCache[OrderFacts]
"""Order facts as this process last read or wrote them (see :mod:`servicekit.rowcache`)."""

_LOAD_FACTS: Final = """
SELECT f.order_id, f.xmin::text AS version,
       CASE WHEN f.xmin::text IS DISTINCT FROM k.version THEN f.facts END AS facts
FROM order_facts f LEFT JOIN unnest($2::text[], $3::text[]) AS k (order_id, version)
    USING (order_id)
WHERE f.order_id = ANY($1::text[])
"""


async def load_facts(
    conn: asyncpg.Connection, order_ids: Iterable[str], cache: FactsCache | None = None
) -> dict[str, OrderFacts]:
    """The stored facts of these orders (missing orders are absent from the result). Rows the
    cache holds at their current version are not sent, nor parsed, again."""
    rows = await fetch_versioned(
        conn, _LOAD_FACTS, order_ids, cache, OrderFacts.model_validate_json,
        key="order_id", value="facts",
    )  # fmt: skip
    return {row["order_id"]: facts for row, facts in rows}


# One statement for the batch: its RETURNING gives each row's new version for the cache. A
# stored row gets only the fields that changed (jsonb ``||`` replaces top-level keys): an
# order's third fact need not rewrite the first two, nor its placement.
_SAVE_FACTS: Final = """
INSERT INTO order_facts AS stored (order_id, seller_id, facts, updated_at)
SELECT order_id, seller_id, facts, now()
FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS given (order_id, seller_id, facts)
ON CONFLICT (order_id) DO UPDATE SET seller_id = EXCLUDED.seller_id,
    facts = stored.facts || EXCLUDED.facts, updated_at = EXCLUDED.updated_at
RETURNING order_id, xmin::text AS version
"""


async def save_facts(
    conn: asyncpg.Connection,
    facts: Sequence[OrderFacts],
    cache: FactsCache | None = None,
    *,
    loaded: Mapping[str, OrderFacts] | None = None,
) -> None:
    """Upsert the facts of these orders (each once); the cache learns their new versions.

    ``loaded`` holds the facts as this transaction read them: an order found there is
    written as the fields that differ from it, any other whole."""
    if not facts:
        return
    rows = await conn.fetch(
        _SAVE_FACTS,
        [f.order_id for f in facts],
        [f.seller_id for f in facts],
        [_changes(f, (loaded or {}).get(f.order_id)) for f in facts],
    )
    if cache is not None:
        cache.remember(rows, {f.order_id: f for f in facts}, key="order_id")


_FIELDS: Final = {
    name: (f'"{name}":'.encode(), TypeAdapter[Any](field.annotation or Any))
    for name, field in OrderFacts.model_fields.items()
}
"""Each field's JSON key and serializer: a changed field alone is dumped in a third less time
than ``model_dump_json(include=...)`` takes (it filters the whole model)."""


def _changes(facts: OrderFacts, before: OrderFacts | None) -> str:
    """The JSON of ``facts``, or of its fields that are not those of ``before`` (a fold
    keeps every field it does not change: an identity test is enough, and never misses)."""
    if before is None:
        return facts.model_dump_json()
    parts = [
        key + adapter.dump_json(value)
        for name, (key, adapter) in _FIELDS.items()
        if (value := getattr(facts, name)) is not getattr(before, name)
    ]
    return (b"{" + b",".join(parts) + b"}").decode()


def _claim(row: Any) -> Claim:
    return Claim.model_validate_json(row["claim"])


async def load_claims(conn: asyncpg.Connection, claim_ids: Iterable[str]) -> dict[str, Claim]:
    rows = await conn.fetch(
        "SELECT claim FROM claims WHERE claim_id = ANY($1::text[]) FOR UPDATE",
        list(set(claim_ids)),
    )
    claims = [_claim(row) for row in rows]
    return {claim.state.claim_id: claim for claim in claims}


async def load_claims_of_orders(
    conn: asyncpg.Connection, order_ids: Iterable[str]
) -> dict[str, list[Claim]]:
    """Every claim of these orders, oldest first (locked for this transaction)."""
    rows = await conn.fetch(
        "SELECT claim FROM claims WHERE order_id = ANY($1::text[]) ORDER BY filed_at FOR UPDATE",
        list(set(order_ids)),
    )
    found: dict[str, list[Claim]] = {}
    for row in rows:
        claim = _claim(row)
        found.setdefault(claim.state.order_id, []).append(claim)
    return found


async def save_claims(conn: asyncpg.Connection, claims: Sequence[Claim], now: datetime) -> None:
    """Upsert the claims and replace their deadlines with the ones their state now needs."""
    if not claims:
        return
    await conn.executemany(
        "INSERT INTO claims (claim_id, order_id, seller_id, buyer_id, status, resolution,"
        " funded_by, is_open, version, filed_at, updated_at, claim)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)"
        " ON CONFLICT (claim_id) DO UPDATE SET seller_id = EXCLUDED.seller_id,"
        " status = EXCLUDED.status, resolution = EXCLUDED.resolution,"
        " funded_by = EXCLUDED.funded_by, is_open = EXCLUDED.is_open,"
        " version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, claim = EXCLUDED.claim",
        [
            (
                c.state.claim_id,
                c.state.order_id,
                c.state.seller_id,
                c.state.buyer_id,
                c.state.status,
                c.state.resolution,
                c.state.funded_by,
                c.is_open,
                c.state.version,
                c.state.filed_at,
                now,
                c.model_dump_json(),
            )
            for c in claims
        ],
    )
    ids = [c.state.claim_id for c in claims]
    await conn.execute("DELETE FROM deadlines WHERE claim_id = ANY($1::text[])", ids)
    due = [(kind, c.state.claim_id, at) for c in claims for kind, at in pending_deadlines(c)]
    if due:
        await conn.executemany(
            "INSERT INTO deadlines (kind, claim_id, due_at) VALUES ($1, $2, $3)", due
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event in a claim's history: when the rules made it, and when its cause said it
    happened (the time a caller stated, recorded but never believed as "now")."""

    claim_id: str
    event_id: str
    type: str
    occurred_at: datetime
    stated_at: datetime | None
    event: bytes


async def append_history(conn: asyncpg.Connection, entries: Sequence[HistoryEntry]) -> None:
    if entries:
        await conn.executemany(
            "INSERT INTO claim_history (claim_id, event_id, type, occurred_at, stated_at, event)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            [
                (e.claim_id, e.event_id, e.type, e.occurred_at, e.stated_at, e.event.decode())
                for e in entries
            ],
        )


@dataclass(frozen=True, slots=True)
class Deadline:
    """A stored deadline: on a claim, or (automatic filing) on an order's contact."""

    kind: str
    claim_id: str
    due_at: datetime
    order_id: str | None = None
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedDeadline:
    """An order-level deadline as planned now; ``due_at`` None means it no longer runs."""

    kind: str
    claim_id: str
    due_at: datetime | None
    order_id: str
    contact_id: str


async def due_deadlines(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Deadline]:
    """Deadlines due by ``now``, locked so that two schedulers never fire the same one."""
    rows = await conn.fetch(
        "SELECT kind, claim_id, due_at, order_id, contact_id FROM deadlines WHERE due_at <= $1"
        " ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    return [
        Deadline(r["kind"], r["claim_id"], r["due_at"], r["order_id"], r["contact_id"])
        for r in rows
    ]


async def plan_order_deadlines(
    conn: asyncpg.Connection, deadlines: Sequence[PlannedDeadline]
) -> None:
    """Store order-level deadlines as planned now: moved to their new time, or dropped."""
    running = [d for d in deadlines if d.due_at is not None]
    if running:
        await conn.executemany(
            "INSERT INTO deadlines (kind, claim_id, due_at, order_id, contact_id)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, claim_id)"
            " DO UPDATE SET due_at = EXCLUDED.due_at",
            [(d.kind, d.claim_id, d.due_at, d.order_id, d.contact_id) for d in running],
        )
    await delete_deadlines(conn, [(d.kind, d.claim_id) for d in deadlines if d.due_at is None])


async def delete_deadlines(conn: asyncpg.Connection, fired: Sequence[tuple[str, str]]) -> None:
    if fired:
        await conn.executemany("DELETE FROM deadlines WHERE kind = $1 AND claim_id = $2", fired)


async def advance_partition_clocks(
    conn: asyncpg.Connection, newest: dict[tuple[str, int], datetime]
) -> None:
    """Record the newest event time read on each partition (never moving back)."""
    if newest:
        await conn.executemany(
            "INSERT INTO partition_clock (topic, partition, event_time, seen_at)"
            " VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT (topic, partition) DO UPDATE"
            " SET event_time = GREATEST(partition_clock.event_time, EXCLUDED.event_time),"
            " seen_at = EXCLUDED.seen_at",
            [(topic, partition, at) for (topic, partition), at in newest.items()],
        )


async def newest_event_time(conn: asyncpg.Connection) -> datetime | None:
    """The newest event time accepted on any input partition (None before any)."""
    value = await conn.fetchval("SELECT max(event_time) FROM partition_clock")
    return value if isinstance(value, datetime) else None


async def partition_times(conn: asyncpg.Connection, idle_seconds: float) -> list[PartitionTime]:
    """Each input partition's newest event time, and whether it was read in the last
    ``idle_seconds`` of wall time (what :func:`adjudication.eventclock.event_clock` needs)."""
    rows = await conn.fetch(
        "SELECT topic, partition, event_time,"
        " seen_at > clock_timestamp() - make_interval(secs => $1) AS read_lately"
        " FROM partition_clock ORDER BY topic, partition",
        idle_seconds,
    )
    return [
        PartitionTime(row["topic"], row["partition"], row["event_time"], row["read_lately"])
        for row in rows
    ]


async def deadline_counts(conn: asyncpg.Connection, now: datetime) -> tuple[int, int]:
    """(deadlines waiting, those already due at ``now``: the scheduler should have fired them)."""
    row = await conn.fetchrow(
        "SELECT count(*)::bigint AS waiting,"
        " count(*) FILTER (WHERE due_at <= $1)::bigint AS due FROM deadlines",
        now,
    )
    return int(row["waiting"]), int(row["due"])
