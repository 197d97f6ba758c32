"""The launcher's Python API, used by the CLI and the test harness.

``start`` and ``stop`` are idempotent and serialised per devstack home (a file lock), so
concurrent callers (pytest-xdist workers, a developer's shell) cannot start a server twice.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.access import ADMIN
from contracts.topics import topics_to_create
from devstack import access
from devstack import kafka as kafka_server
from devstack import postgres as postgres_server
from devstack.config import HOST, DevstackConfig, load_config
from devstack.procs import PhaseReporter, file_lock, port_accepts

__all__ = [
    "DevstackConfig",
    "Endpoints",
    "ServerStatus",
    "Status",
    "clean",
    "endpoints",
    "load_config",
    "start",
    "status",
    "stop",
]

# Long enough for a cold start (jar fetch) held by another caller.
_LOCK_TIMEOUT_S = 1200.0

_log = logging.getLogger("devstack")


def _log_phase(phase: str, seconds: float, detail: str) -> None:
    """The reporter used when the caller passes none: test runs show it on failure."""
    _log.info("%s took %.2fs%s", phase, seconds, f" ({detail})" if detail else "")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the platform finds the servers, and every Kafka principal's password."""

    kafka_bootstrap_servers: str
    postgres_url: str
    kafka_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    kafka_credentials_file: Path | None = None

    def kafka_options(self, principal: str = ADMIN) -> dict[str, Any]:
        """aiokafka client options to reach the broker as ``principal``."""
        return kafka_server.client_options(
            self.kafka_bootstrap_servers, principal, self.kafka_passwords[principal]
        )

    def as_env(self) -> dict[str, str]:
        """The platform's settings pointing at these servers (Kafka as the admin: the tests
        create topics and read every one)."""
        return {
            "PLATFORM_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "PLATFORM_KAFKA_USERNAME": ADMIN,
            "PLATFORM_KAFKA_PASSWORD": self.kafka_passwords.get(ADMIN, ""),
            "PLATFORM_KAFKA_CREDENTIALS_FILE": str(self.kafka_credentials_file or ""),
            "PLATFORM_POSTGRES_URL": self.postgres_url,
        }


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """One server: whether it is up, its pid, where it listens and where it logs."""

    name: str
    up: bool
    pid: int | None
    address: str
    log: Path


@dataclass(frozen=True, slots=True)
class Status:
    """The servers of a devstack: Kafka's first broker, PostgreSQL, any other brokers."""

    kafka: ServerStatus
    postgres: ServerStatus
    brokers: tuple[ServerStatus, ...] = ()
    """Brokers 2 and 3 of a cluster (none for a single broker)."""

    @property
    def servers(self) -> tuple[ServerStatus, ...]:
        """The servers in display order."""
        return (self.kafka, *self.brokers, self.postgres)

    @property
    def all_up(self) -> bool:
        """Whether every server is up."""
        return all(server.up for server in self.servers)


def endpoints(config: DevstackConfig) -> Endpoints:
    """The endpoints of ``config``'s servers (whether or not they are running)."""
    return Endpoints(
        kafka_bootstrap_servers=config.kafka_bootstrap_servers,
        postgres_url=config.postgres_url,
        kafka_passwords=access.load_or_create(config.kafka_credentials_file),
        kafka_credentials_file=config.kafka_credentials_file,
    )


def write_env_file(config: DevstackConfig) -> Path:
    """Write ``<home>/env`` (``KEY=value`` lines) and return its path."""
    lines = [f"{key}={value}" for key, value in endpoints(config).as_env().items()]
    config.home.mkdir(parents=True, exist_ok=True)
    scratch = config.env_file.with_name(".env.tmp")
    scratch.touch(mode=0o600)  # it holds the Kafka admin's password
    scratch.write_text("\n".join(lines) + "\n")
    # Readers (a shell sourcing it mid-start) must never see a half-written file.
    scratch.replace(config.env_file)
    return config.env_file


def start(
    config: DevstackConfig,
    *,
    kafka: bool = True,
    postgres: bool = True,
    report: PhaseReporter | None = None,
) -> Endpoints:
    """Start the chosen servers unless they already run, and return the endpoints.

    Servers already running are only checked (and their topics, role and databases ensured),
    so calling this from every test session is cheap. Prerequisites of both servers are
    checked before either is started. ``report(phase, seconds, detail)`` hears how long each
    phase took. Raises :class:`devstack.errors.PrerequisiteError` for a machine problem and
    :class:`devstack.errors.DevstackError` when a server fails to start.
    """
    report = report or _log_phase
    config.home.mkdir(parents=True, exist_ok=True)
    with file_lock(config.lock_file, timeout_s=_LOCK_TIMEOUT_S, what="this devstack"):
        # Brokers not running (all of them, or one a test or an outage stopped) are started.
        down = (
            [node for node, pid in kafka_server.running_pids(config).items() if pid is None]
            if kafka
            else []
        )
        java = ""
        if down:
            java = kafka_server.check_java()
            kafka_server.check_ports(config, down)
        if postgres:
            binaries, account = postgres_server.prepare(config)

        launches = kafka_server.prepare_and_launch(config, java, report, down) if down else []
        # PostgreSQL starts while the brokers' JVMs warm up. Should it fail, the brokers are
        # left starting on their own: the next start() finds them and only waits for them.
        if postgres:
            postgres_server.ensure_started(config, binaries, account, report)
        if kafka:
            kafka_server.wait_until_ready(config, launches, topics_to_create(), report)
        write_env_file(config)
    return endpoints(config)


def stop(config: DevstackConfig) -> None:
    """Stop both servers if they run (SIGTERM/SIGINT, then SIGKILL after a timeout)."""
    if not config.home.exists():
        # Nothing to lock, but a server whose home was deleted is still found by its argv.
        kafka_server.stop(config)
        postgres_server.stop(config)
        return
    with file_lock(config.lock_file, timeout_s=_LOCK_TIMEOUT_S, what="this devstack"):
        kafka_server.stop(config)
        postgres_server.stop(config)


def clean(config: DevstackConfig) -> list[Path]:
    """Stop the servers and delete their data, logs and settings; return what was deleted.

    Only files the devstack creates are removed (never the whole home, which a user may have
    pointed somewhere shared); the jar cache stays. As root this includes the PostgreSQL
    folder under /tmp, which deleting the home alone would leave behind.
    """
    stop(config)
    removed: list[Path] = []
    candidates = [
        config.postgres_data_dir,
        config.postgres_socket_dir,
        config.postgres_log,
        config.postgres_root_pointer,
        config.kafka_dir,
        config.prometheus_dir,
        config.logs_dir,
        config.env_file,
    ]
    for path in candidates:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            continue
        removed.append(path)
    config.lock_file.unlink(missing_ok=True)
    for folder in (config.postgres_root, config.home):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            removed.append(folder)
    return removed


def status(config: DevstackConfig) -> Status:
    """Whether each server runs and accepts connections; cheap, takes no lock."""
    brokers = []
    for node in kafka_server.nodes(config):
        pid = kafka_server.node_pid(node)
        brokers.append(
            ServerStatus(
                name=node.name,
                up=pid is not None and port_accepts(HOST, node.port),
                pid=pid,
                address=f"{HOST}:{node.port}",
                log=node.log,
            )
        )
    postgres_pid = postgres_server.running_pid(config)
    return Status(
        kafka=brokers[0],
        brokers=tuple(brokers[1:]),
        postgres=ServerStatus(
            name="postgres",
            up=postgres_pid is not None and port_accepts(HOST, config.postgres_port),
            pid=postgres_pid,
            address=f"{HOST}:{config.postgres_port}",
            log=config.postgres_log_link,
        ),
    )
