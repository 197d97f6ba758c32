"""Prometheus beside the services: one more supervised process, scraping every ``/metrics``.

The launcher runs Debian's ``prometheus`` (``apt-get install prometheus``; ``./platform``
installs it) with a configuration, a data folder and a port of its own under the devstack home,
never the system service the package may start. :func:`scrape_config` renders the scrape
configuration for any targets: the launcher's loopback ports here, and compose's host names in
``deploy/docker/prometheus/prometheus.yml`` (written by ``python -m devstack.compose``), so both
scrape the same jobs the same way.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from devstack import replicas as replication
from devstack.config import HOST, DevstackConfig
from devstack.errors import PrerequisiteError
from devstack.procs import port_is_free

NAME: Final = "prometheus"
DEFAULT_PORT: Final = 9090
PORT_VARIABLE: Final = "DEVSTACK_PROMETHEUS_PORT"
READY_PATH: Final = "/-/ready"
"""Prometheus' own readiness probe (the services answer ``/health/ready``)."""
SCRAPED: Final = ("intake", "adjudication", "metrics")
"""The processes serving ``GET /metrics``: the dashboard has none."""
LOCAL_SCRAPE_SECONDS: Final = 1
"""The launcher's runs are short (90 simulated days play in 2.5 minutes, a test's burst in
seconds): a point a second is what shows them, and three loopback targets cost nothing."""
COMPOSE_SCRAPE_SECONDS: Final = 5
"""A compose stack lives longer; Prometheus' usual grain is enough there."""
RETENTION: Final = "2d"
"""A local run's series are for looking at now, not history: the data folder stays small."""
HEADER: Final = (
    "# Prometheus' scrape configuration, rendered by devstack.prometheus.scrape_config: the",
    "# launcher writes one for its own ports, `python -m devstack.compose` writes compose's",
    "# (deploy/docker/prometheus/prometheus.yml). Do not edit: change the renderer.",
)


def port() -> int:
    """Prometheus' port: ``DEVSTACK_PROMETHEUS_PORT`` or 9090."""
    raw = os.environ.get(PORT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise PrerequisiteError(f"{PORT_VARIABLE}={raw!r} is not a port number.")
    return int(raw)


def url() -> str:
    """Where the launcher's Prometheus answers (its web UI and HTTP API)."""
    return f"http://{HOST}:{port()}"


def config_file(config: DevstackConfig) -> Path:
    """The scrape configuration the launcher writes on each start of the services."""
    return config.prometheus_dir / "prometheus.yml"


def data_dir(config: DevstackConfig) -> Path:
    """Prometheus' time-series database (``devstack clean`` deletes it)."""
    return config.prometheus_dir / "data"


def scrape_config(targets: Mapping[str, Sequence[str]], interval_seconds: int) -> str:
    """The YAML text of a configuration scraping each job's ``host:port`` targets.

    Strings are written as JSON, which is valid YAML: no YAML library is needed to write it,
    and no name can be misread as another YAML type.
    """
    interval = f"{interval_seconds}s"
    lines = [
        *HEADER,
        "global:",
        f"  scrape_interval: {interval}",
        # Prometheus refuses a timeout longer than the interval (its default is 10 s).
        f"  scrape_timeout: {interval}",
        "scrape_configs:",
    ]
    for job, addresses in targets.items():
        lines += [
            f"  - job_name: {json.dumps(job)}",
            "    metrics_path: /metrics",
            "    static_configs:",
            f"      - targets: {json.dumps(list(addresses))}",
        ]
    return "\n".join(lines) + "\n"


def targets(
    service_ports: Mapping[str, int],
    *,
    host: str | None = None,
    replicas: Mapping[str, int] | None = None,
) -> dict[str, list[str]]:
    """One job per scraped service, named after it, on its port at ``host`` (by default the
    service's own name, as compose's containers reach each other), a target per replica."""
    return {
        name: [
            f"{host or name}:{instance.port}"
            for instance in replication.instances(name, service_ports[name], replicas)
        ]
        for name in SCRAPED
    }


def find_binary() -> str:
    """The ``prometheus`` program on PATH; :class:`PrerequisiteError` when there is none."""
    found = shutil.which("prometheus")
    if found is None:
        raise PrerequisiteError(
            "prometheus is not installed: install Debian's prometheus (apt-get install "
            "prometheus), or start the services with --no-prometheus."
        )
    return found


def argv(binary: str, config: DevstackConfig, listen_port: int) -> list[str]:
    """The command line of the launcher's Prometheus: its own files, loopback only."""
    return [
        binary,
        f"--config.file={config_file(config)}",
        f"--storage.tsdb.path={data_dir(config)}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address={HOST}:{listen_port}",
    ]


def prepare(
    config: DevstackConfig,
    service_ports: Mapping[str, int],
    replicas: Mapping[str, int] | None = None,
) -> list[str]:
    """Check the prerequisites, write the scrape configuration for the services on
    ``service_ports`` (and their ``replicas``) and return the command line to supervise.

    Raises :class:`PrerequisiteError` when the program is missing or its port is taken (on a
    machine with systemd, Debian's package starts a Prometheus of its own on 9090).
    """
    binary = find_binary()
    listen_port = port()
    if not port_is_free(HOST, listen_port):
        raise PrerequisiteError(
            f"port {listen_port} on {HOST} for Prometheus is already taken (by Debian's own "
            "prometheus service? systemctl disable --now prometheus); stop it or set "
            f"{PORT_VARIABLE} to a free port."
        )
    config_file(config).parent.mkdir(parents=True, exist_ok=True)
    scraped = targets(service_ports, host=HOST, replicas=replicas)
    config_file(config).write_text(scrape_config(scraped, LOCAL_SCRAPE_SECONDS))
    return argv(binary, config, listen_port)
