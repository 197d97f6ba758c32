"""The versioned row cache: a value is handed back only at the version it was recorded with."""

from __future__ import annotations

from typing import Any

import pytest

from servicekit.rowcache import VersionedCache, fetch_versioned


def test_a_value_comes_back_only_at_its_version() -> None:
    cache: VersionedCache[str] = VersionedCache()
    cache.put("o-1", "100", "facts at 100")
    assert cache.get("o-1", "100") == "facts at 100"
    assert cache.get("o-1", "101") is None  # the row was rewritten since
    assert cache.get("o-2", "100") is None


def test_known_lists_held_keys_with_their_versions_in_parallel() -> None:
    cache: VersionedCache[str] = VersionedCache()
    cache.put("a", "1", "x")
    cache.put("b", "2", "y")
    assert cache.known(["b", "missing", "a"]) == (["b", "a"], ["2", "1"])


def test_the_least_recently_used_row_goes_first_when_full() -> None:
    cache: VersionedCache[str] = VersionedCache(capacity=2)
    cache.put("a", "1", "x")
    cache.put("b", "1", "y")
    assert cache.get("a", "1") == "x"  # a is now the most recent
    cache.put("c", "1", "z")
    assert cache.known(["a", "b", "c"]) == (["a", "c"], ["1", "1"])
    assert len(cache) == 2


def test_a_cache_of_no_capacity_keeps_nothing() -> None:
    cache: VersionedCache[str] = VersionedCache(capacity=0)
    cache.put("a", "1", "x")
    assert cache.get("a", "1") is None


def test_a_negative_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        VersionedCache(capacity=-1)


class _Table:
    """A stand-in for a versioned read: one row per key, its value NULL when the version the
    caller holds is current; ``during`` runs while the query is in flight."""

    def __init__(self, rows: dict[str, tuple[str, str]], during: Any = None) -> None:
        self.rows, self.during, self.queries = rows, during, 0

    async def fetch(self, _: str, wanted: list[str], held: list[str], versions: list[str]) -> Any:
        self.queries += 1
        if self.during is not None:
            self.during()
        known = dict(zip(held, versions, strict=True))
        return [
            {"key": k, "version": v, "value": None if known.get(k) == v else text}
            for k, (v, text) in self.rows.items()
            if k in wanted
        ]


async def test_a_versioned_read_parses_only_what_the_cache_does_not_hold_at_its_version() -> None:
    cache: VersionedCache[str] = VersionedCache()
    cache.put("a", "7", "parsed a")
    cache.put("b", "1", "old b")
    table = _Table({"a": ("7", "raw a"), "b": ("2", "raw b")})
    found = await fetch_versioned(table, "", ["a", "b"], cache, str.upper, key="key", value="value")
    assert sorted(value for _, value in found) == ["RAW B", "parsed a"]
    assert cache.get("b", "2") == "RAW B"


async def test_a_row_dropped_from_the_cache_while_the_query_ran_is_read_again() -> None:
    cache: VersionedCache[str] = VersionedCache(capacity=1)
    cache.put("a", "7", "parsed a")
    # Another task fills the one-row cache while the read is in flight: "a" is gone.
    table = _Table({"a": ("7", "raw a")}, during=lambda: cache.put("z", "1", "other"))
    found = await fetch_versioned(table, "", ["a"], cache, str.upper, key="key", value="value")
    assert [value for _, value in found] == ["RAW A"]
    assert table.queries == 2
