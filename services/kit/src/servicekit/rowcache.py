"""Rows a service last read or wrote, kept parsed, each with its row version (``xmin``).

Parsing a stored JSON state (pydantic) is what a high-volume handler spends most of its time
on, and the same rows come back batch after batch (an order's next fact, a seller's next day).
A :class:`VersionedCache` keeps each parsed row with the version PostgreSQL gave it: the
``xmin`` system column, which every insert or update of a row sets to its transaction's id.
A reader sends the versions it holds and gets back only the rows whose version differs (see
:data:`VERSIONS_SQL_HINT`); a writer records the version its ``RETURNING xmin`` reports.

An entry can therefore never be used stale: a row another replica rewrote has another
version, and a write of this process that rolled back never committed its version, so the
next read returns the row itself. Nothing has to be invalidated, by rebalances or retries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Generic, TypeVar

V = TypeVar("V")

DEFAULT_CAPACITY: Final = 100_000
"""Rows kept (least recently used dropped first): at a few kilobytes a row, some hundreds of
megabytes at most, for every order of several days at a large marketplace's partition share."""

VERSIONS_SQL_HINT: Final = """
SELECT t.key, t.xmin::text AS version,
       CASE WHEN t.xmin::text IS DISTINCT FROM k.version THEN t.value END AS value
FROM the_table t LEFT JOIN unnest($2::text[], $3::text[]) AS k (key, version) USING (key)
WHERE t.key = ANY($1::text[])
"""
"""The shape of a versioned read, as :func:`fetch_versioned` runs it: the keys wanted, then
the keys held and their versions; ``value`` is NULL where the version held is current. A
write's ``RETURNING key, xmin::text AS version`` gives :meth:`VersionedCache.remember` what it
needs."""


class VersionedCache(Generic[V]):
    """Parsed rows by key, each valid only while its row has the version recorded with it."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[str, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def known(self, keys: Iterable[str]) -> tuple[list[str], list[str]]:
        """The keys among ``keys`` held here and their versions, as two parallel lists (the
        query's ``$2`` and ``$3``)."""
        held, versions = [], []
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None:
                held.append(key)
                versions.append(entry[0])
        return held, versions

    def get(self, key: str, version: str) -> V | None:
        """The value held for ``key`` if it was recorded at ``version``, else None."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def remember(self, rows: Iterable[Any], values: Mapping[str, V], *, key: str) -> None:
        """Record each written value at the version its row came back with (``rows`` from a
        ``RETURNING <key>, xmin::text AS version``)."""
        for row in rows:
            self.put(row[key], row["version"], values[row[key]])

    def put(self, key: str, version: str, value: V) -> None:
        """Record ``value`` as the row ``key`` at ``version``."""
        if self._capacity == 0:
            return
        self._entries[key] = (version, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


async def fetch_versioned(
    conn: Any,
    query: str,
    keys: Iterable[str],
    cache: VersionedCache[V] | None,
    parse: Callable[[str], V],
    *,
    key: str,
    value: str,
) -> list[tuple[Any, V]]:
    """Run a versioned read (see :data:`VERSIONS_SQL_HINT`) for ``keys``: each row found with
    its value, from the cache where the row's version is the one held, else parsed (and
    cached). ``key`` and ``value`` name the query's key and value columns."""
    wanted = list(set(keys))
    held, versions = cache.known(wanted) if cache is not None else ([], [])
    rows: Sequence[Any] = await conn.fetch(query, wanted, held, versions)
    found: list[tuple[Any, V]] = []
    missed: list[str] = []
    for row in rows:
        text = row[value]
        if text is None:
            cached = cache.get(row[key], row["version"]) if cache is not None else None
            if cached is None:  # dropped meanwhile (another task shares the cache): read it
                missed.append(row[key])
            else:
                found.append((row, cached))
            continue
        parsed = parse(text)
        if cache is not None:
            cache.put(row[key], row["version"], parsed)
        found.append((row, parsed))
    if missed:  # asked without versions, the rows come back whole
        found += await fetch_versioned(conn, query, missed, None, parse, key=key, value=value)
    return found
