"""The launcher runs a service as several replicas, each on a port, log and pid file of its own."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from contracts.access import ALL_NAMES
from devstack import prometheus, replicas
from devstack.api import Endpoints
from devstack.config import load_config
from devstack.errors import PrerequisiteError
from devstack.services import _spec, _url

ENDPOINTS = Endpoints(
    "127.0.0.1:19092",
    "postgresql://atoz:atoz@127.0.0.1:15433/postgres",
    kafka_passwords={name: f"pw-{name}" for name in ALL_NAMES},
)


def test_replica_counts_are_read_from_a_comma_separated_list() -> None:
    assert replicas.parse("adjudication=2, metrics=3") == {"adjudication": 2, "metrics": 3}
    assert replicas.parse("") == {}
    assert replicas.parse(None) == {}


@pytest.mark.parametrize(
    "text", ["dashboard=2", "adjudication", "adjudication=0", "metrics=x", "intake=99"]
)
def test_a_replica_count_that_is_not_one_service_and_a_small_count_is_refused(text: str) -> None:
    with pytest.raises(PrerequisiteError, match="--replicas"):
        replicas.parse(text)


def test_each_replica_is_its_own_process_on_its_own_port_sharing_the_services_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEVSTACK_ADJUDICATION_PORT", raising=False)
    config = load_config({"DEVSTACK_HOME": str(tmp_path)})
    spec = {
        str(entry["name"]): entry
        for entry in _spec(config, ENDPOINTS, "event", None, {"adjudication": 3})
    }
    assert set(spec) == {
        "intake",
        "adjudication",
        "adjudication-2",
        "adjudication-3",
        "metrics",
        "dashboard",
    }
    first, third = (
        cast(dict[str, str], spec[n]["env"]) for n in ("adjudication", "adjudication-3")
    )
    assert (first["ADJUDICATION_HTTP_PORT"], third["ADJUDICATION_HTTP_PORT"]) == ("8002", "8202")
    # One database, one consumer group, one clock: only the port differs.
    assert {k: v for k, v in first.items() if k != "ADJUDICATION_HTTP_PORT"} == {
        k: v for k, v in third.items() if k != "ADJUDICATION_HTTP_PORT"
    }
    assert spec["adjudication-3"]["argv"] == spec["adjudication"]["argv"]
    assert str(spec["adjudication-3"]["log"]).endswith("adjudication-3.log")
    assert str(spec["adjudication-3"]["pid_file"]).endswith("adjudication-3.pid")
    assert _url("adjudication-3") == "http://127.0.0.1:8202"


def test_prometheus_scrapes_every_replica_in_its_services_job() -> None:
    ports = {"intake": 28001, "adjudication": 28002, "metrics": 28003, "dashboard": 28000}
    found = prometheus.targets(ports, host="127.0.0.1", replicas={"metrics": 2})
    assert found["metrics"] == ["127.0.0.1:28003", "127.0.0.1:28103"]
    assert found["adjudication"] == ["127.0.0.1:28002"]
