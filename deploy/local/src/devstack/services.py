"""Start, stop and look at the platform's three services on top of the local servers.

``start`` writes development tokens (once, in ``<home>/tokens.json``, mode 600), a service spec
and starts :mod:`devstack.supervisor` detached; it returns when every service answers its
readiness probe. ``stop`` asks the supervisor to stop them gracefully. The dashboard (a static
page and a same-origin proxy to the three read APIs) runs beside them as a fourth process, and
a Prometheus scraping the three (:mod:`devstack.prometheus`) as a fifth, unless not wanted.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from devstack import prometheus as prometheus_server
from devstack import replicas as replication
from devstack.api import Endpoints
from devstack.config import DevstackConfig
from devstack.errors import DevstackError
from devstack.procs import pid_is_running, read_pid, spawn_detached, terminate

DEFAULT_PORTS: Final = {"intake": 8001, "adjudication": 8002, "metrics": 8003, "dashboard": 8000}
Clock = Literal["wall", "event"]
EVENT_CLOCK_IDLE_SECONDS: Final = 2.0
"""On event time, a partition read to its end stops holding the clock back once quiet this long
(wall seconds)."""


def ports() -> dict[str, int]:
    """Each process's port: ``DEVSTACK_<NAME>_PORT`` or its default (8001-8003, dashboard 8000)."""
    return {
        name: int(os.environ.get(f"DEVSTACK_{name.upper()}_PORT", default))
        for name, default in DEFAULT_PORTS.items()
    }


# The seller token belongs to a seller the simulation creates (and usually puts at risk), so
# that the dashboard's seller view with it shows a real account after ./platform up.
ROLES: Final = (
    ("buyer", "buyer-demo"),
    ("seller", "late-shipper-01"),
    ("agent", "agent-demo"),
    ("reviewer", "reviewer-demo"),
    # The simulator's: acts for every party and states event times. Never for a browser.
    ("service", "simulator"),
    # The dashboard's: reads every seller and queue, acts on nothing.
    ("operator", "operator-demo"),
)


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    url: str
    ready: bool
    supervised: bool = True
    """False when no supervisor runs: the service is stopped, not merely unready."""


def _url(name: str) -> str:
    if name == prometheus_server.NAME:
        return prometheus_server.url()
    return f"http://127.0.0.1:{replication.port_of(name, ports())}"


def _ready_url(name: str) -> str:
    path = prometheus_server.READY_PATH if name == prometheus_server.NAME else "/health/ready"
    return _url(name) + path


def tokens(config: DevstackConfig) -> dict[str, dict[str, str]]:
    """The development tokens, by role (made once, kept in the home, readable by their owner
    only); a role added since the file was written gets its token then."""
    path = config.home / "tokens.json"
    found: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}
    missing = [(role, subject) for role, subject in ROLES if role not in found]
    if missing:
        found |= {
            role: {"token": secrets.token_urlsafe(24), "subject": subject}
            for role, subject in missing
        }
        config.home.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(found, indent=2))
    return found


def _grants(config: DevstackConfig) -> str:
    return json.dumps(
        [
            {
                "sha256": hashlib.sha256(t["token"].encode()).hexdigest(),
                "role": role,
                "subject": t["subject"],
            }
            for role, t in tokens(config).items()
        ]
    )


def _spec(
    config: DevstackConfig,
    endpoints: Endpoints,
    clock: Clock = "wall",
    prometheus: list[str] | None = None,
    replicas: Mapping[str, int] | None = None,
) -> list[dict[str, object]]:
    """What the supervisor runs: the four processes (services as many times as ``replicas``
    says: :mod:`devstack.replicas`), and ``prometheus`` (a command line from
    :func:`devstack.prometheus.prepare`) when given."""
    grants = _grants(config)
    base = endpoints.postgres_url.rsplit("/", 1)[0]
    logs = config.logs_dir
    shared = {
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap_servers,
        "LOG_FORMAT": "json",
        "TOKENS": grants,
    }

    def principal(name: str) -> dict[str, str]:
        # Each service reaches Kafka as its own principal (contracts.access): least privilege.
        return {"KAFKA_USERNAME": name, "KAFKA_PASSWORD": endpoints.kafka_passwords[name]}

    # On event time the simulated days pass in seconds: quiet partitions and day boundaries
    # must be noticed in about as long.
    event_time = {
        # Intake then believes a service token's X-Event-Time in the past (a simulation's).
        "intake": {"CLOCK": "event"},
        "adjudication": {
            "CLOCK": "event",
            "EVENT_CLOCK_IDLE_SECONDS": str(EVENT_CLOCK_IDLE_SECONDS),
        },
        "metrics": {"CLOCK": "event", "DAY_CHECK_SECONDS": "1"},
    }
    specific: dict[str, dict[str, str]] = {
        "intake": {**shared, **principal("intake"), "CLAIMS_BASE_URL": _url("adjudication")},
        "adjudication": {
            **shared,
            **principal("adjudication"),
            "DATABASE_URL": f"{base}/adjudication",
        },
        "metrics": {**shared, **principal("metrics"), "DATABASE_URL": f"{base}/metrics"},
        "dashboard": {
            "LOG_FORMAT": "json",
            **{f"{name.upper()}_URL": _url(name) for name in ("adjudication", "metrics")},
        },
    }
    spec: list[dict[str, object]] = []
    for name, port in ports().items():
        for instance in replication.instances(name, port, replicas):
            prefix = name.upper() + "_"
            settings = {**specific[name], "HTTP_PORT": str(instance.port)}
            if clock == "event":
                settings |= event_time.get(name, {})
            env = {prefix + k: v for k, v in settings.items()}
            spec.append(
                {
                    "name": instance.name,
                    "argv": [sys.executable, "-m", name],
                    "env": env,
                    "log": str(logs / f"{instance.name}.log"),
                    "pid_file": str(_service_pid_file(config, instance.name)),
                }
            )
    if prometheus is not None:
        name = prometheus_server.NAME
        spec.append(
            {
                "name": name,
                "argv": prometheus,
                "env": {},
                "log": str(logs / f"{name}.log"),
                "pid_file": str(_service_pid_file(config, name)),
            }
        )
    return spec


def _spec_file(config: DevstackConfig) -> Path:
    return config.home / "services.json"


def _supervised_names(config: DevstackConfig) -> list[str]:
    """The processes of the last start (its spec file names them: Prometheus may be left
    out), else the four services."""
    try:
        spec = json.loads(_spec_file(config).read_text())
        return [str(entry["name"]) for entry in spec]
    except (OSError, ValueError, TypeError, KeyError):
        return list(ports())


def _pid_file(config: DevstackConfig) -> Path:
    return config.home / "supervisor.pid"


def _service_pid_file(config: DevstackConfig, name: str) -> Path:
    return config.home / "pids" / f"{name}.pid"


def service_pid(config: DevstackConfig, name: str) -> int | None:
    """The pid of the running process of service ``name``, as its supervisor wrote it; None
    when it is not running (stopped, or between a crash and its restart)."""
    pid = read_pid(_service_pid_file(config, name))
    return pid if pid is not None and pid_is_running(pid) else None


def status(config: DevstackConfig) -> list[ServiceStatus]:
    """Whether each process of the last start answers its readiness probe."""
    pid = read_pid(_pid_file(config))
    supervised = pid is not None and pid_is_running(pid)
    found = []
    for name in _supervised_names(config):
        try:
            with urllib.request.urlopen(_ready_url(name), timeout=2) as answer:  # noqa: S310  # our own loopback URL
                ready = answer.status == 200
        except (urllib.error.URLError, OSError):
            ready = False
        found.append(ServiceStatus(name, _url(name), ready, supervised))
    return found


def start(
    config: DevstackConfig,
    endpoints: Endpoints,
    *,
    timeout_s: float = 120,
    clock: Clock = "wall",
    prometheus: bool = True,
    replicas: Mapping[str, int] | None = None,
) -> None:
    """Start the services under a supervisor (if not running) and wait until all are ready.
    ``clock="event"`` runs adjudication's deadlines and metrics' days on event time;
    ``prometheus=False`` leaves Prometheus out; ``replicas`` runs services several times
    (:mod:`devstack.replicas`). A running supervisor is kept as it is.

    Raises :class:`devstack.errors.PrerequisiteError` when Prometheus is wanted but not
    installed or its port is taken (nothing is started then)."""
    pid = read_pid(_pid_file(config))
    if pid is None or not pid_is_running(pid):
        argv = prometheus_server.prepare(config, ports(), replicas) if prometheus else None
        config.logs_dir.mkdir(parents=True, exist_ok=True)
        spec_file = _spec_file(config)
        spec = _spec(config, endpoints, clock, argv, replicas)
        spec_file.write_text(json.dumps(spec, indent=2))
        spec_file.chmod(0o600)
        spawn_detached(
            [sys.executable, "-m", "devstack.supervisor", str(spec_file)],
            pid_file=_pid_file(config),
            output=config.logs_dir / "supervisor.log",
            cwd=config.home,
            env=dict(os.environ),
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(s.ready for s in status(config)):
            return
        time.sleep(0.5)
    waiting = [s.name for s in status(config) if not s.ready]
    raise DevstackError(
        f"services not ready after {timeout_s:.0f} s: {', '.join(waiting)};"
        f" see {config.logs_dir}/<service>.log"
    )


def stop(config: DevstackConfig) -> None:
    """Stop the supervisor and, through it, every service (gracefully)."""
    pid = read_pid(_pid_file(config))
    if pid is not None and pid_is_running(pid):
        terminate(pid, timeout_s=40)
    _pid_file(config).unlink(missing_ok=True)
