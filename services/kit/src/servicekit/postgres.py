"""PostgreSQL plumbing: a connection pool and versioned SQL migrations.

Migrations are plain SQL files named ``NNNN_description.sql`` in a package's ``migrations``
folder. Each is applied once, in version order, in its own transaction, and recorded in
``schema_migrations`` under the package's name (its *scope*), so servicekit's tables and a
service's own tables live side by side in one database. A service applies servicekit's first::

    await apply_migrations(pool, SERVICEKIT_MIGRATIONS, Path(__file__).parent / "migrations")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg
import structlog

log = structlog.get_logger(__name__)

SERVICEKIT_MIGRATIONS: Final = Path(__file__).parent / "migrations"
"""servicekit's own migrations (the inbox and outbox tables): apply them before a service's."""

_MIGRATION_NAME: Final = re.compile(r"^(?P<version>\d{4})_(?P<description>[a-z0-9_]+)\.sql$")

# One lock for every migrating process on the database: the second process to start waits, then
# finds the first one's work recorded and skips it, instead of racing it to CREATE TABLE.
_LOCK_SQL: Final = "SELECT pg_advisory_xact_lock(hashtextextended('servicekit.migrations', 0))"

_CREATE_LEDGER: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    scope      text        NOT NULL,
    version    text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, version)
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file: the scope (package) it belongs to, its version and where it lives."""

    scope: str
    version: str
    description: str
    path: Path

    @property
    def name(self) -> str:
        """``scope:NNNN_description``, as reported by :func:`apply_migrations`."""
        return f"{self.scope}:{self.version}_{self.description}"


def parse_migration_name(filename: str) -> tuple[str, str]:
    """``(version, description)`` of a file named ``NNNN_description.sql``; ValueError otherwise."""
    match = _MIGRATION_NAME.match(filename)
    if match is None:
        raise ValueError(f"migration {filename!r} is not named NNNN_description.sql")
    return match["version"], match["description"]


def discover(directory: Path) -> list[Migration]:
    """The migrations in ``directory``, in version order; the scope is its parent's name."""
    if not directory.is_dir():
        raise ValueError(f"no migrations folder at {directory}")
    scope = directory.parent.name
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        version, description = parse_migration_name(path.name)
        if version in found:
            raise ValueError(f"{scope}: two migrations numbered {version}")
        found[version] = Migration(scope, version, description, path)
    return [found[version] for version in sorted(found)]


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool on ``url`` (``postgresql://user:password@host:port/database``)."""
    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)


async def _apply_one(connection: asyncpg.Connection, migration: Migration) -> bool:
    async with connection.transaction():
        await connection.execute(_LOCK_SQL)
        await connection.execute(_CREATE_LEDGER)
        done = await connection.fetchval(
            "SELECT true FROM schema_migrations WHERE scope = $1 AND version = $2",
            migration.scope,
            migration.version,
        )
        if done:
            return False
        # No arguments: asyncpg sends it as a simple query, so one file may hold many statements.
        await connection.execute(migration.path.read_text(encoding="utf-8"))
        await connection.execute(
            "INSERT INTO schema_migrations (scope, version) VALUES ($1, $2)",
            migration.scope,
            migration.version,
        )
        return True


async def apply_migrations(pool: asyncpg.Pool, *directories: Path) -> list[str]:
    """Apply every migration not applied yet from ``directories``, folder by folder, in order.

    Each file runs in its own transaction under an advisory lock, so a failing file leaves the
    ones before it applied and itself not at all, and concurrent starters never both apply one.
    Returns the names (``scope:NNNN_description``) applied by this call.
    """
    plans = [discover(directory) for directory in directories]  # bad names fail before any SQL
    applied: list[str] = []
    async with pool.acquire() as connection:
        for plan in plans:
            for migration in plan:
                if await _apply_one(connection, migration):
                    log.info("postgres.migration_applied", migration=migration.name)
                    applied.append(migration.name)
    return applied
