"""The scale run: three brokers, replicas that come and go, and a broker lost, under a simulation.

On ports and a devstack home of its own, the fixture starts a three-broker Kafka (replication
factor 3, two in sync), PostgreSQL and the supervised services on event time, and plays a
seeded simulation as ``atoz-simulate``. Meanwhile, on a schedule over the run: a second replica
of adjudication and of metrics joins (their groups rebalance mid-burst), a broker is SIGKILLed
and later started again, and the extra replicas are stopped (their groups rebalance again).
Then it waits for every outbox to empty and every group's lag to reach 0, reads every topic from
offset zero, recomputes each ODR, and hands it all to the tests, which only judge.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
from aiokafka import ConsumerRecord

from contracts.access import ADMIN
from contracts.topics import LIVE_TOPICS
from devstack import api, services
from devstack import kafka as kafka_server
from devstack.config import DevstackConfig, load_config
from devstack.procs import send_signal, wait_for_exit
from devstack.replicas import PORT_STEP
from servicekit.kafka import KafkaAccess
from tests.chaos.conftest import ROOT, drain, simulate
from tests.support.kafka import facts_and_claim_events, from_offset_zero
from tests.support.odr import odr_mismatches

PORTS: Final = {
    "DEVSTACK_KAFKA_PORT": 14092,
    "DEVSTACK_KAFKA_CONTROLLER_PORT": 14093,
    "DEVSTACK_POSTGRES_PORT": 14433,
    "DEVSTACK_DASHBOARD_PORT": 14000,
    "DEVSTACK_INTAKE_PORT": 14001,
    "DEVSTACK_ADJUDICATION_PORT": 14002,
    "DEVSTACK_METRICS_PORT": 14003,
    "DEVSTACK_PROMETHEUS_PORT": 14090,
}
SEED: Final = 31
SIMULATION: Final = ["--seed", str(SEED), "--days", "30", "--scale", "0.5"]
MINUTES: Final = 1.5
SCALED: Final = ("adjudication", "metrics")
"""The consuming services that get a second replica mid-run."""
STEPS: Final = (
    (0.20, "replicas_join"),
    (0.40, "broker_killed"),
    (0.60, "broker_back"),
    (0.75, "replicas_leave"),
)
"""When (share of the simulation's wall time) each step happens."""


@dataclass
class ScaleRun:
    """Everything the run produced, for the tests to judge."""

    summary: dict[str, Any]
    simulator_exit: int
    steps: list[tuple[str, float]]
    """Each step and when it happened (seconds into the simulation)."""
    joined: dict[str, int] = field(default_factory=dict)
    """The partitions each extra replica was assigned while it ran (from its log)."""
    topics: dict[str, list[ConsumerRecord]] = field(default_factory=dict)
    drained_after_seconds: float | None = None
    backlog: dict[str, int] = field(default_factory=dict)
    odr_compared: int = 0
    odr_wrong: list[str] = field(default_factory=list)


class ExtraReplica:
    """A second process of a supervised service, as ``--replicas`` would run it: the service's
    own command and settings, its own port and log."""

    def __init__(self, config: DevstackConfig, service: str) -> None:
        spec = {e["name"]: e for e in json.loads((config.home / "services.json").read_text())}
        entry = spec[service]
        port = services.ports()[service] + PORT_STEP
        self.log = config.logs_dir / f"{service}-2.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603  # the spec the launcher wrote
                entry["argv"],
                env={**os.environ, **entry["env"], f"{service.upper()}_HTTP_PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        """Leave gracefully (SIGTERM): its batch finishes, its partitions move."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def assigned(self) -> int:
        """How many partitions its group ever gave it (its log says)."""
        most = 0
        for line in self.log.read_text(errors="replace").splitlines():
            if '"consumer.partitions_assigned"' in line:
                most = max(most, len(json.loads(line).get("partitions", [])))
        return most


async def _steps(config: DevstackConfig, seconds: float, run: ScaleRun) -> None:
    began = time.monotonic()
    extra: dict[str, ExtraReplica] = {}
    killed: int | None = None
    try:
        for share, step in STEPS:
            await asyncio.sleep(max(began + share * seconds - time.monotonic(), 0))
            if step == "replicas_join":
                extra = {name: ExtraReplica(config, name) for name in SCALED}
            elif step == "broker_killed":
                killed = kafka_server.node_pid(kafka_server.nodes(config)[1])
                assert killed is not None, "broker 2 is not running"
                send_signal(killed, signal.SIGKILL, group=True)
                await asyncio.to_thread(wait_for_exit, killed, timeout_s=30)
            elif step == "broker_back":
                await asyncio.to_thread(api.start, config, postgres=False)
            else:
                run.joined = {name: replica.assigned() for name, replica in extra.items()}
                await asyncio.gather(*(asyncio.to_thread(r.stop) for r in extra.values()))
            run.steps.append((step, round(time.monotonic() - began, 1)))
    finally:
        for replica in extra.values():
            if replica.process.poll() is None:
                replica.stop()


@pytest.fixture(scope="package")
async def scale_run() -> AsyncIterator[ScaleRun]:
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("PLATFORM_", "DEVSTACK_"))]:
            patch.delenv(key)
        for key, port in PORTS.items():
            patch.setenv(key, str(port))  # devstack.services reads the services' ports here
        home = ROOT / ".devstack-scale"
        config = load_config({**os.environ, "DEVSTACK_HOME": str(home)}, brokers=3)
        await asyncio.to_thread(services.stop, config)
        await asyncio.to_thread(api.clean, config)
        config = load_config({**os.environ, "DEVSTACK_HOME": str(home)}, brokers=3)
        try:
            endpoints = await asyncio.to_thread(api.start, config)
            await asyncio.to_thread(
                services.start, config, endpoints, clock="event", prometheus=False
            )
            admin = KafkaAccess(
                config.kafka_bootstrap_servers, ADMIN, endpoints.kafka_passwords[ADMIN]
            )
            summary_file = config.home / "simulation.json"
            run = ScaleRun({}, -1, [])
            simulation = asyncio.create_task(simulate(config, MINUTES, summary_file, SIMULATION))
            await _steps(config, MINUTES * 60, run)
            outcome = (await asyncio.gather(simulation, return_exceptions=True))[0]
            run.simulator_exit = outcome if isinstance(outcome, int) else -1
            run.drained_after_seconds, run.backlog = await drain(config, admin, time.monotonic())
            run.topics = await from_offset_zero(
                admin, *(name for t in LIVE_TOPICS for name in (t.name, t.dlq))
            )
            run.summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
            events = await facts_and_claim_events(admin, skip_undecodable=True)
            run.odr_compared, run.odr_wrong = await odr_mismatches(
                events,
                f"http://127.0.0.1:{services.ports()['metrics']}",
                services.tokens(config)["operator"]["token"],
                [row["seller_id"] for row in run.summary.get("odr", [])],
            )
            yield run
        finally:
            await asyncio.to_thread(services.stop, config)
            kept = ROOT / "artifacts" / "scale-logs"
            if config.logs_dir.is_dir():
                await asyncio.to_thread(_keep_logs, config.logs_dir, kept)
            await asyncio.to_thread(api.clean, config)


def _keep_logs(logs: Path, kept: Path) -> None:
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(logs, kept, ignore_dangling_symlinks=True)
