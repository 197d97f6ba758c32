"""The launcher's Prometheus: its scrape configuration, command line, prerequisites and its
place among the supervised processes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from contracts.access import ALL_NAMES
from devstack import prometheus, services
from devstack.api import Endpoints
from devstack.config import DevstackConfig, load_config
from devstack.errors import PrerequisiteError

SERVICE_PORTS = {"intake": 28001, "adjudication": 28002, "metrics": 28003, "dashboard": 28000}
ENDPOINTS = Endpoints(
    "127.0.0.1:19092",
    "postgresql://atoz:atoz@127.0.0.1:15433/postgres",
    kafka_passwords={name: f"pw-{name}" for name in ALL_NAMES},
)


@pytest.fixture
def config(tmp_path: Path) -> DevstackConfig:
    return load_config({"DEVSTACK_HOME": str(tmp_path / "home")})


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A stand-in ``prometheus`` on PATH (the tests never run one)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    binary = folder / "prometheus"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    return str(binary)


def _jobs(text: str) -> dict[str, list[str]]:
    loaded = yaml.safe_load(text)
    return {
        job["job_name"]: [target for group in job["static_configs"] for target in group["targets"]]
        for job in loaded["scrape_configs"]
    }


def test_the_scrape_configuration_has_a_job_per_target_mapping_and_the_interval() -> None:
    text = prometheus.scrape_config({"a": ["h:1"], "b": ["h:2", "k:3"]}, 7)
    loaded = yaml.safe_load(text)
    assert loaded["global"] == {"scrape_interval": "7s", "scrape_timeout": "7s"}
    assert _jobs(text) == {"a": ["h:1"], "b": ["h:2", "k:3"]}
    assert {job["metrics_path"] for job in loaded["scrape_configs"]} == {"/metrics"}
    assert text.startswith("# ")  # the header says where it comes from
    assert text.endswith("\n")


def test_each_service_with_metrics_is_a_job_named_after_it_but_not_the_dashboard() -> None:
    assert prometheus.targets(SERVICE_PORTS, host="127.0.0.1") == {
        "intake": ["127.0.0.1:28001"],
        "adjudication": ["127.0.0.1:28002"],
        "metrics": ["127.0.0.1:28003"],
    }
    assert prometheus.targets(SERVICE_PORTS)["metrics"] == ["metrics:28003"]  # compose's names


@pytest.mark.skipif(shutil.which("promtool") is None, reason="Debian's prometheus is not here")
def test_promtool_accepts_the_launchers_configuration(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    scraped = prometheus.targets(SERVICE_PORTS, host="127.0.0.1")
    path.write_text(prometheus.scrape_config(scraped, prometheus.LOCAL_SCRAPE_SECONDS))
    checked = subprocess.run(  # noqa: S603  # a fixed tool on our own file
        ["promtool", "check", "config", str(path)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_prepare_writes_the_configuration_and_runs_prometheus_on_its_own_files_and_port(
    config: DevstackConfig, installed: str, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSTACK_PROMETHEUS_PORT", str(free_port))
    argv = prometheus.prepare(config, SERVICE_PORTS)
    written = prometheus.config_file(config)
    assert argv == [
        installed,
        f"--config.file={written}",
        f"--storage.tsdb.path={config.home / 'prometheus' / 'data'}",
        f"--storage.tsdb.retention.time={prometheus.RETENTION}",
        f"--web.listen-address=127.0.0.1:{free_port}",
    ]
    assert written.is_relative_to(config.home)
    assert _jobs(written.read_text()) == prometheus.targets(SERVICE_PORTS, host="127.0.0.1")
    assert yaml.safe_load(written.read_text())["global"]["scrape_interval"] == "1s"
    assert prometheus.url() == f"http://127.0.0.1:{free_port}"


def test_the_port_defaults_to_9090_and_a_bad_one_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DEVSTACK_PROMETHEUS_PORT", raising=False)
    assert prometheus.port() == 9090
    monkeypatch.setenv("DEVSTACK_PROMETHEUS_PORT", "ninety")
    with pytest.raises(PrerequisiteError, match="DEVSTACK_PROMETHEUS_PORT='ninety'"):
        prometheus.port()


def test_a_missing_prometheus_says_how_to_install_it(
    config: DevstackConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteError, match=r"apt-get install prometheus"):
        prometheus.prepare(config, SERVICE_PORTS)


def test_a_taken_port_names_the_setting_that_moves_it(
    config: DevstackConfig, installed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        monkeypatch.setenv("DEVSTACK_PROMETHEUS_PORT", str(taken))
        with pytest.raises(PrerequisiteError, match=f"port {taken} .*DEVSTACK_PROMETHEUS_PORT"):
            prometheus.prepare(config, SERVICE_PORTS)


def test_services_start_checks_prometheus_before_starting_anything(
    config: DevstackConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteError, match="prometheus"):
        services.start(config, ENDPOINTS, timeout_s=1)
    assert not (config.home / "services.json").exists()
    assert not (config.home / "supervisor.pid").exists()


def test_prometheus_is_supervised_beside_the_services_and_logs_with_them(
    config: DevstackConfig,
) -> None:
    argv = ["/usr/bin/prometheus", "--config.file=x"]
    spec = {entry["name"]: entry for entry in services._spec(config, ENDPOINTS, "event", argv)}
    assert set(spec) == {"intake", "adjudication", "metrics", "dashboard", "prometheus"}
    assert spec["prometheus"]["argv"] == argv
    assert spec["prometheus"]["log"] == str(config.logs_dir / "prometheus.log")
    assert spec["prometheus"]["pid_file"] == str(config.home / "pids" / "prometheus.pid")
    assert "prometheus" not in {entry["name"] for entry in services._spec(config, ENDPOINTS)}


def test_status_lists_what_the_last_start_supervises_probing_prometheus_at_its_own_url(
    config: DevstackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, port in {"INTAKE": 1, "ADJUDICATION": 2, "METRICS": 3, "DASHBOARD": 4}.items():
        monkeypatch.setenv(f"DEVSTACK_{name}_PORT", str(port))  # nothing listens there
    monkeypatch.setenv("DEVSTACK_PROMETHEUS_PORT", "5")
    config.home.mkdir(parents=True)
    spec = services._spec(config, ENDPOINTS, "wall", ["/usr/bin/prometheus"])
    (config.home / "services.json").write_text(json.dumps(spec))
    found = services.status(config)
    assert [s.name for s in found] == [
        "intake",
        "adjudication",
        "metrics",
        "dashboard",
        "prometheus",
    ]
    assert found[-1].url == "http://127.0.0.1:5"
    assert services._ready_url("prometheus") == "http://127.0.0.1:5/-/ready"
    assert not any(s.ready for s in found)
    # A start without Prometheus leaves it out of the status (and out of what start awaits).
    (config.home / "services.json").write_text(json.dumps(services._spec(config, ENDPOINTS)))
    assert "prometheus" not in [s.name for s in services.status(config)]
