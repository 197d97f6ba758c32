"""The supervisor restarts a crashed service and stops every service on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import pytest

from contracts.access import ALL_NAMES
from devstack.api import Endpoints
from devstack.config import load_config
from devstack.procs import pid_is_running, read_pid
from devstack.services import _spec, status, tokens
from devstack.supervisor import restart_pause


def _wait_for(predicate: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_crashed_service_is_restarted_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    # A "service" that counts its starts and crashes at once on its first start.
    crasher = (
        f"import pathlib, sys, time; p = pathlib.Path({str(marker)!r});"
        " n = len(p.read_text()) if p.exists() else 0; p.write_text('x' * (n + 1));"
        " sys.exit(3) if n == 0 else time.sleep(60)"
    )
    sleeper = "import time; time.sleep(60)"
    spec = [
        {
            "name": name,
            "argv": [sys.executable, "-c", code],
            "env": {},
            "log": str(tmp_path / f"{name}.log"),
            "pid_file": str(tmp_path / "pids" / f"{name}.pid"),
        }
        for name, code in (("crasher", crasher), ("sleeper", sleeper))
    ]
    crasher_pid = tmp_path / "pids" / "crasher.pid"
    spec_file = tmp_path / "services.json"
    spec_file.write_text(json.dumps(spec))
    supervisor = subprocess.Popen(  # noqa: S603  # our own module
        [sys.executable, "-m", "devstack.supervisor", str(spec_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait_for(lambda: marker.exists() and len(marker.read_text()) == 2)
        # The pid file names the process running now: the restarted one.
        assert _wait_for(lambda: pid_is_running(read_pid(crasher_pid) or 0))
        running = read_pid(crasher_pid)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        output = supervisor.communicate(timeout=40)[0].decode()
    assert supervisor.returncode == 0
    starts = re.findall(r"started crasher \(pid (\d+)\)", output)
    assert len(starts) == 2
    assert running == int(starts[-1])
    assert not crasher_pid.exists()  # a stopped service leaves no pid behind
    assert "crasher exited with 3; restarting" in output
    assert "crasher stopped" in output
    assert "sleeper stopped" in output


ENDPOINTS = Endpoints(
    "127.0.0.1:19092",
    "postgresql://atoz:atoz@127.0.0.1:15433/postgres",
    kafka_passwords={name: f"pw-{name}" for name in ALL_NAMES},
)


def test_the_services_get_their_own_settings_and_hashed_tokens(tmp_path: Path) -> None:
    config = load_config({"DEVSTACK_HOME": str(tmp_path)})
    spec = {entry["name"]: entry for entry in _spec(config, ENDPOINTS)}
    assert set(spec) == {"intake", "adjudication", "metrics", "dashboard"}
    adjudication_env = spec["adjudication"]["env"]
    assert isinstance(adjudication_env, dict)
    assert adjudication_env["ADJUDICATION_DATABASE_URL"].endswith(":15433/adjudication")
    assert adjudication_env["ADJUDICATION_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    # Each service reaches Kafka as its own principal; the dashboard not at all.
    for name in ("intake", "adjudication", "metrics"):
        env = spec[name]["env"]
        assert isinstance(env, dict)
        prefix = name.upper()
        assert (env[f"{prefix}_KAFKA_USERNAME"], env[f"{prefix}_KAFKA_PASSWORD"]) == (
            name,
            f"pw-{name}",
        )
    dashboard = spec["dashboard"]["env"]
    assert isinstance(dashboard, dict)
    assert not any("KAFKA" in key for key in dashboard)
    grants = json.loads(adjudication_env["ADJUDICATION_TOKENS"])
    secrets = {t["token"] for t in tokens(config).values()}
    assert all(grant["sha256"] not in secrets for grant in grants)  # digests, not tokens
    assert {grant["role"] for grant in grants} >= {"buyer", "seller", "reviewer"}
    assert (tmp_path / "tokens.json").stat().st_mode & 0o077 == 0


def test_the_dashboard_is_pointed_at_the_services_and_holds_no_tokens(tmp_path: Path) -> None:
    config = load_config({"DEVSTACK_HOME": str(tmp_path)})
    env = {entry["name"]: entry for entry in _spec(config, ENDPOINTS)}["dashboard"]["env"]
    assert isinstance(env, dict)
    assert env["DASHBOARD_METRICS_URL"].startswith("http://127.0.0.1:")
    assert "DASHBOARD_ADJUDICATION_URL" in env
    assert "DASHBOARD_INTAKE_URL" not in env  # the page reads nothing of intake's
    assert not any("TOKENS" in key for key in env)  # the page brings the reader's own token


def _environments(spec: list[dict[str, object]]) -> dict[str, dict[str, str]]:
    return {str(entry["name"]): cast(dict[str, str], entry["env"]) for entry in spec}


def test_on_event_time_every_service_follows_the_events(tmp_path: Path) -> None:
    config = load_config({"DEVSTACK_HOME": str(tmp_path)})
    endpoints = ENDPOINTS
    wall = _environments(_spec(config, endpoints))
    event = _environments(_spec(config, endpoints, "event"))
    assert "ADJUDICATION_CLOCK" not in wall["adjudication"]
    assert event["adjudication"]["ADJUDICATION_CLOCK"] == "event"
    assert event["metrics"]["METRICS_CLOCK"] == "event"
    # Intake then believes a service token's past X-Event-Time (a simulation's), not on wall.
    assert event["intake"]["INTAKE_CLOCK"] == "event"
    assert "INTAKE_CLOCK" not in wall["intake"]


def test_services_without_a_supervisor_are_reported_stopped_not_just_unready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, port in {"INTAKE": 1, "ADJUDICATION": 2, "METRICS": 3, "DASHBOARD": 4}.items():
        monkeypatch.setenv(f"DEVSTACK_{name}_PORT", str(port))  # nothing listens there
    config = load_config({"DEVSTACK_HOME": str(tmp_path)})
    found = status(config)
    assert [s.name for s in found] == ["intake", "adjudication", "metrics", "dashboard"]
    assert not any(s.ready or s.supervised for s in found)


def test_a_role_added_since_the_tokens_were_made_gets_a_token_and_the_others_are_kept(
    tmp_path: Path,
) -> None:
    config = load_config({"DEVSTACK_HOME": str(tmp_path)})
    (tmp_path / "tokens.json").write_text(json.dumps({"buyer": {"token": "t", "subject": "b"}}))
    found = tokens(config)
    assert found["buyer"] == {"token": "t", "subject": "b"}
    assert found["operator"]["subject"] == "operator-demo"
    assert json.loads((tmp_path / "tokens.json").read_text()) == found


@pytest.mark.parametrize(
    ("crashes", "ran_for", "pause"),
    [
        (1, 600.0, 0.5),  # it had been running: back at once
        (7, 30.0, 0.5),  # however often that happened before
        (1, 1.0, 0.5),  # crashed on start: a first short pause...
        (2, 1.0, 1.0),  # ...that grows while it keeps crashing on start...
        (3, 1.0, 2.0),
        (9, 1.0, 5.0),  # ...to a few seconds at most: clients retry for a minute
    ],
)
def test_a_crashed_service_is_back_within_seconds(
    crashes: int, ran_for: float, pause: float
) -> None:
    assert restart_pause(crashes, ran_for) == pause
