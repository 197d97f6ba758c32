"""The chaos run: a platform of its own, a seeded simulation, and a driver breaking things.

On ports and a devstack home of its own (so neither the test servers nor a platform started
with ``./platform up`` are touched), the fixture starts Kafka, PostgreSQL and the supervised
services on event time, plays a seeded simulation as ``atoz-simulate`` (a separate process, as
a real client), and meanwhile runs the driver's plan (tests/chaos/plan.py). Once both are done
it waits for every outbox to empty and every consumer group's lag to reach 0, reads every topic
from offset zero, writes the report and hands all of it to the tests, which only judge.

``--chaos-minutes`` (default one round, about 3.5 minutes) makes a longer run by hand.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from adjudication.settings import AdjudicationSettings
from contracts.access import ADMIN
from contracts.topics import (
    CLAIMS_COMMANDS,
    CLAIMS_EVENTS,
    LIVE_TOPICS,
    ORDERS,
    SELLERS_HEALTH,
    Topic,
)
from devstack import api, services
from devstack.config import DevstackConfig, load_config
from metrics.settings import MetricsSettings
from servicekit.kafka import KafkaAccess
from tests.chaos import evidence, report
from tests.chaos.driver import Driver, FaultRecord, Poison
from tests.chaos.plan import ROUND_SECONDS, Fault, plan, rounds_for
from tests.support.kafka import facts_and_claim_events, from_offset_zero
from tests.support.odr import odr_mismatches

ROOT = Path(__file__).resolve().parents[2]
PORTS: Final = {
    "DEVSTACK_KAFKA_PORT": 16092,
    "DEVSTACK_KAFKA_CONTROLLER_PORT": 16093,
    "DEVSTACK_POSTGRES_PORT": 16433,
    "DEVSTACK_DASHBOARD_PORT": 16000,
    "DEVSTACK_INTAKE_PORT": 16001,
    "DEVSTACK_ADJUDICATION_PORT": 16002,
    "DEVSTACK_METRICS_PORT": 16003,
    "DEVSTACK_PROMETHEUS_PORT": 16090,
}
SEED: Final = 23
"""A world of 30 claim stories over 35 days, of 17 kinds."""
SIMULATION: Final = ["--seed", str(SEED), "--days", "35", "--scale", "0.5"]
CONSUMERS: Final[dict[str, tuple[Topic, ...]]] = {
    str(AdjudicationSettings.model_fields["consumer_group"].default): (ORDERS, CLAIMS_COMMANDS),
    str(MetricsSettings.model_fields["consumer_group"].default): (ORDERS, CLAIMS_EVENTS),
}
"""Each consumer group (also its DLQ records' ``consumer``) and the topics it reads."""
PUBLISHED: Final = (CLAIMS_COMMANDS, CLAIMS_EVENTS, SELLERS_HEALTH)
"""The topics the platform's services write."""
DATABASES: Final = ("adjudication", "metrics")
DRAIN_BOUND_SECONDS: Final = 90.0
"""After the last fault, every outbox must be empty and every lag 0 within this (the
simulation plays its last tenth and settles its last claims in that time too)."""


@dataclass
class ChaosRun:
    """Everything the run produced, for the tests to judge."""

    summary: dict[str, Any]
    simulator_exit: int
    faults: list[FaultRecord]
    not_injected: list[Fault]
    """Left out of the plan after a fault the platform never recovered from."""
    poison: list[Poison]
    topics: dict[str, list[ConsumerRecord]]
    drained_after_seconds: float | None
    backlog: dict[str, int]
    odr_compared: int
    odr_wrong: list[str]
    report: dict[str, Any]


def chaos_minutes(config: pytest.Config) -> float:
    return float(config.getoption("--chaos-minutes"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The run happens in the package fixture, inside the first test's time: allow for it.
    budget = chaos_minutes(config) * 60 * 2 + 600
    for item in items:
        if item.get_closest_marker("chaos"):
            item.add_marker(pytest.mark.timeout(budget))


async def _backlog(config: DevstackConfig, admin: KafkaAccess) -> dict[str, int]:
    """Rows in each outbox, and each consumer group's lag over the topics it reads."""
    found: dict[str, int] = {}
    base = config.postgres_url.rsplit("/", 1)[0]
    for database in DATABASES:
        conn = await asyncpg.connect(f"{base}/{database}", timeout=5)
        try:
            found[f"outbox:{database}"] = await conn.fetchval("SELECT count(*) FROM outbox")
        finally:
            await conn.close()
    client = AIOKafkaAdminClient(**admin.options())
    ends = AIOKafkaConsumer(**admin.options(), enable_auto_commit=False)
    await client.start()
    await ends.start()
    try:
        for group, topics in CONSUMERS.items():
            partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
            committed = await client.list_consumer_group_offsets(group, partitions=partitions)
            end = await ends.end_offsets(partitions)
            found[f"lag:{group}"] = sum(
                end[tp] - max(committed[tp].offset, 0) if tp in committed else end[tp]
                for tp in partitions
            )
    finally:
        await ends.stop()
        await client.close()
    return found


async def drain(
    config: DevstackConfig, admin: KafkaAccess, since: float
) -> tuple[float | None, dict[str, int]]:
    """Seconds from ``since`` (the last fault) until nothing is left to publish or consume;
    None if that takes longer than the bound. Also the backlog last seen."""
    backlog = await _backlog(config, admin)
    while any(backlog.values()) and time.monotonic() - since < DRAIN_BOUND_SECONDS:
        await asyncio.sleep(0.5)
        backlog = await _backlog(config, admin)
    drained = time.monotonic() - since
    return (round(drained, 1) if drained < DRAIN_BOUND_SECONDS else None), backlog


async def simulate(
    config: DevstackConfig,
    minutes: float,
    summary_file: Path,
    simulation: list[str] = SIMULATION,  # read only
) -> int:
    """Play the simulation as a separate process (the platform's client); its exit code. The
    services' ports are the launcher's (``DEVSTACK_*_PORT``, set by the run's fixture)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_", "DEVSTACK_"))}
    home = config.home
    ports = services.ports()
    command = [
        str(Path(sys.executable).with_name("atoz-simulate")),
        *simulation,
        "--minutes",
        str(minutes),
        "--intake-url",
        f"http://127.0.0.1:{ports['intake']}",
        "--metrics-url",
        f"http://127.0.0.1:{ports['metrics']}",
        "--kafka",
        config.kafka_bootstrap_servers,
        "--kafka-credentials",
        str(config.kafka_credentials_file),
        "--tokens-file",
        str(home / "tokens.json"),
        "--json",
        str(summary_file),
    ]
    with (config.logs_dir / "simulator.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        try:
            return await process.wait()
        except BaseException:
            process.kill()
            await process.wait()
            raise


def _report(run: ChaosRun, minutes: float, wall: float) -> dict[str, Any]:
    summary = run.summary
    events = evidence.claim_events(run.topics[CLAIMS_EVENTS.name])
    dead_letters = {name: records for name, records in run.topics.items() if ".dlq" in name}
    expected = sum(len(consumers_of(p.topic)) for p in run.poison)
    missing = evidence.poison_missing(run.poison, dead_letters, _consumers_by_topic())
    published = [r for t in PUBLISHED for r in run.topics[t.name]]
    never = any(fault.recovery_seconds is None for fault in run.faults)
    worst = max((fault.recovery_seconds or 0.0 for fault in run.faults), default=0.0)
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "seed": SEED,
        "minutes": minutes,
        "wall_seconds": round(wall, 1),
        "faults": [asdict(fault) for fault in run.faults],
        "faults_not_injected": [asdict(fault) for fault in run.not_injected],
        "poison": [p.as_json() for p in run.poison],
        "drained_after_seconds": run.drained_after_seconds,
        "backlog": run.backlog,
        "counts": {
            "kills": sum(1 for f in run.faults if f.kind == "kill"),
            "claims": summary.get("claims", 0),
            "claims_matched": summary.get("matched", 0),
            "abandoned": len(summary.get("abandoned", [])),
            "odr_compared": run.odr_compared,
            "claim_events": len(events),
            "poison_expected": expected,
            "poison_dead_lettered": expected - len(missing),
            "conflicting_ids": len(evidence.conflicting_ids(published)),
            "decided_twice": len(evidence.decided_twice(events)),
            # None when some fault was never recovered from.
            "max_recovery_seconds": None if never else worst,
        },
        "simulation": {k: summary.get(k) for k in ("claims", "matched", "orders", "run")},
    }


def _consumers_by_topic() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {topic.name: [] for topic in LIVE_TOPICS}
    for group, topics in CONSUMERS.items():
        for topic in topics:
            found[topic.name].append(group)
    return found


def consumers_of(topic: str) -> list[str]:
    """The consumer groups reading ``topic``."""
    return _consumers_by_topic()[topic]


@pytest.fixture(scope="package")
async def chaos_run(request: pytest.FixtureRequest) -> AsyncIterator[ChaosRun]:
    minutes = chaos_minutes(request.config)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("PLATFORM_", "DEVSTACK_"))]:
            patch.delenv(key)
        for key, port in PORTS.items():
            patch.setenv(key, str(port))  # devstack.services reads the services' ports here
        config = load_config({**os.environ, "DEVSTACK_HOME": str(ROOT / ".devstack-chaos")})
        # What an interrupted earlier run left: its supervised services, then its servers.
        await asyncio.to_thread(services.stop, config)
        await asyncio.to_thread(api.clean, config)
        began = time.monotonic()
        try:
            endpoints = await asyncio.to_thread(api.start, config)
            await asyncio.to_thread(services.start, config, endpoints, clock="event")
            admin = KafkaAccess(
                config.kafka_bootstrap_servers, ADMIN, endpoints.kafka_passwords[ADMIN]
            )
            urls = {name: f"http://127.0.0.1:{port}" for name, port in services.ports().items()}
            base = config.postgres_url.rsplit("/", 1)[0]
            driver = Driver(config, urls, admin, {db: f"{base}/{db}" for db in DATABASES})
            summary_file = config.home / "simulation.json"
            rounds = rounds_for(minutes)
            try:
                paced = max(minutes, rounds * ROUND_SECONDS / 60)
                # The faults are spread over the simulation's first 90%: all hit a busy platform.
                simulation = asyncio.create_task(simulate(config, paced, summary_file))
                try:
                    await driver.run(plan(rounds, random.Random(SEED)), over_seconds=paced * 54)
                finally:
                    if driver.abandoned or sys.exc_info()[0] is not None:
                        # A fault the platform never recovered from (or a driver failure): the
                        # verdict is in; a simulation waiting on a stuck platform would only
                        # take its time.
                        simulation.cancel()
                outcome = (await asyncio.gather(simulation, return_exceptions=True))[0]
                exit_code = outcome if isinstance(outcome, int) else -1  # -1: stopped
            finally:
                await driver.close()
            drained, backlog = await drain(config, admin, driver.last_fault_over)
            topics = await from_offset_zero(
                admin, *(name for t in LIVE_TOPICS for name in (t.name, t.dlq))
            )
            summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
            events = await facts_and_claim_events(admin, skip_undecodable=True)
            compared, wrong = await odr_mismatches(
                events,
                urls["metrics"],
                services.tokens(config)["operator"]["token"],
                [row["seller_id"] for row in summary.get("odr", [])],
            )
            run = ChaosRun(
                summary,
                exit_code,
                driver.records,
                driver.abandoned,
                driver.poison,
                topics,
                drained,
                backlog,
                compared,
                wrong,
                {},
            )
            run.report = _report(run, minutes, time.monotonic() - began)
            report.write(run.report, ROOT / "artifacts")
            if request.config.getoption("--chaos-record"):
                report.record(run.report, ROOT / "bench")
            yield run
        finally:
            await asyncio.to_thread(services.stop, config)
            # The services', servers' and simulator's logs outlive the wipe, for whoever reads
            # a failed run (CI keeps artifacts/).
            kept = ROOT / "artifacts" / "chaos-logs"
            shutil.rmtree(kept, ignore_errors=True)
            if config.logs_dir.is_dir():
                shutil.copytree(config.logs_dir, kept, ignore_dangling_symlinks=True)
            await asyncio.to_thread(api.clean, config)
