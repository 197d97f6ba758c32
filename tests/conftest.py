"""Session fixtures: a real Kafka and PostgreSQL for the tests that ask for them.

Unit tests ask for neither and start nothing. See ``tests/support/infrastructure.py`` for where
the servers come from (environment, testcontainers, or the project's launcher).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings

from servicekit.kafka import KafkaAccess
from tests.support.infrastructure import Infrastructure, ensure_topics, provide

# CI runs the property and fuzz tests on a fixed set of examples, so a submission's result does
# not depend on the draw; run with HYPOTHESIS_PROFILE=explore (or locally, by default) to search
# new examples.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore")
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kafka-only",
        action="store_true",
        help="Only the tests that use Kafka (./platform test runs the integration ones again on"
        " three brokers with it).",
    )
    chaos = parser.getgroup("chaos", "the chaos suite (tests/chaos)")
    chaos.addoption(
        "--chaos-minutes",
        type=float,
        default=3.5,
        help="How long the chaos run breaks things (default: one round, about 3.5 minutes).",
    )
    chaos.addoption(
        "--chaos-record",
        action="store_true",
        help="Also write the chaos table into bench/README.md and bench/results/chaos.json.",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--kafka-only"):
        return
    # The fixture closure names every fixture a test depends on, however indirectly.
    kept = [item for item in items if "kafka" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    with provide() as found:
        yield found


@pytest.fixture(scope="session")
async def kafka(infrastructure: Infrastructure) -> KafkaAccess:
    """The broker, as its admin, with every topic of the contracts."""
    await ensure_topics(infrastructure.kafka)
    return infrastructure.kafka


@pytest.fixture(scope="session")
def postgres_url(infrastructure: Infrastructure) -> str:
    """URL of the server's admin database; tests wanting tables use ``database_url``."""
    return infrastructure.postgres_url


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


@contextlib.asynccontextmanager
async def _fresh_database(postgres_url: str) -> AsyncIterator[str]:
    name = "test_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(postgres_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    async with _fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
async def another_database_url(postgres_url: str) -> AsyncIterator[str]:
    """A second fresh database, for a test running two services that each own one."""
    async with _fresh_database(postgres_url) as url:
        yield url
