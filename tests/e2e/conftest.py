"""The platform as the README's first command starts it: ``./platform up`` with a short seeded
simulation, on a Kafka, PostgreSQL and ports of its own, left running for the e2e tests of the
session and stopped and wiped afterwards."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.access import ADMIN
from servicekit.kafka import KafkaAccess

ROOT = Path(__file__).resolve().parents[2]
# Below Linux's ephemeral range (32768+): a client retrying a port that is not listening yet
# can otherwise connect to itself and hold the port the server then fails to bind.
PORTS = {
    "DEVSTACK_KAFKA_PORT": 17092,
    "DEVSTACK_KAFKA_CONTROLLER_PORT": 17093,
    "DEVSTACK_POSTGRES_PORT": 17433,
    "DEVSTACK_DASHBOARD_PORT": 17000,
    "DEVSTACK_INTAKE_PORT": 17001,
    "DEVSTACK_ADJUDICATION_PORT": 17002,
    "DEVSTACK_METRICS_PORT": 17003,
    "DEVSTACK_PROMETHEUS_PORT": 17090,
}
SIMULATION = ["--seed", "30", "--days", "35", "--scale", "0.5", "--minutes", "0.6"]
"""Five simulated weeks in about forty seconds: every claim story has room to play out."""


@dataclass(frozen=True)
class RunningPlatform:
    dashboard_url: str
    api: dict[str, str]
    tokens: dict[str, str]
    seller_ids: list[str]
    summary: dict[str, Any]
    kafka: KafkaAccess
    up_output: str


def _platform(command: list[str], env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(  # noqa: S603  # our own script, fixed arguments
        [str(ROOT / "platform"), *command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise AssertionError(f"./platform {' '.join(command)} failed:\n{output[-6000:]}")
    return output


@pytest.fixture(scope="session")
def running_platform() -> Iterator[RunningPlatform]:
    home = ROOT / ".devstack-e2e"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PLATFORM_", "DEVSTACK_"))  # the suite's own servers stay apart
    }
    env |= {key: str(port) for key, port in PORTS.items()} | {"DEVSTACK_HOME": str(home)}
    summary_file = home / "last-run.json"
    summary_file.unlink(missing_ok=True)
    try:
        output = _platform(["up", "--detach", "--", *SIMULATION], env, timeout=600)
        summary = json.loads(summary_file.read_text())
        tokens = json.loads((home / "tokens.json").read_text())
        base = "http://127.0.0.1:"
        yield RunningPlatform(
            dashboard_url=f"{base}{PORTS['DEVSTACK_DASHBOARD_PORT']}",
            api={
                name: f"{base}{PORTS[f'DEVSTACK_{name.upper()}_PORT']}"
                for name in ("intake", "adjudication", "metrics")
            },
            tokens={role: grant["token"] for role, grant in tokens.items()},
            seller_ids=[row["seller_id"] for row in summary["odr"]],
            summary=summary,
            kafka=KafkaAccess(
                f"127.0.0.1:{PORTS['DEVSTACK_KAFKA_PORT']}",
                ADMIN,
                json.loads((home / "kafka" / "credentials.json").read_text())[ADMIN],
            ),
            up_output=output,
        )
    finally:
        _platform(["stop"], env, timeout=120)
        subprocess.run(  # noqa: S603  # our own launcher
            [str(ROOT / ".venv/bin/devstack"), "clean"], env=env, check=False, timeout=120
        )
