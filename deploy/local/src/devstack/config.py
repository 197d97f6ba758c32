"""Where the devstack keeps its files and which ports it uses, read from the environment.

Every setting has a default so that ``devstack start`` works on a fresh clone. Two devstacks
with different ``DEVSTACK_HOME`` and ports live side by side: every file, pid and socket a
devstack owns is derived from its home, except the shared (read-only once filled) jar cache.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devstack.errors import PrerequisiteError

HOST: Final = "127.0.0.1"
# Must match <kafka.version> in the POM (a unit test checks); it names the jar cache folder.
KAFKA_VERSION: Final = "4.1.1"
POM_RELATIVE_PATH: Final = Path("deploy/local/kafka-jars/pom.xml")

DEFAULT_KAFKA_PORT: Final = 9092
DEFAULT_KAFKA_CONTROLLER_PORT: Final = 9093
DEFAULT_POSTGRES_PORT: Final = 5433
DEFAULT_KAFKA_HEAP: Final = "512m"
DEFAULT_START_TIMEOUT_S: Final = 120.0

KAFKA_PORT_STEP: Final = 100
"""Broker k of a local cluster listens on the first's ports + 100 (k - 1)."""
KAFKA_BROKER_COUNTS: Final = (1, 3)
"""One broker, or a cluster of three (replication factor 3, two in sync)."""
_HEAP_PATTERN: Final = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class DevstackConfig:
    """Everything the launcher needs to know; build it with :func:`load_config`."""

    home: Path
    repo_root: Path
    jar_cache: Path
    kafka_pom: Path
    kafka_port: int = DEFAULT_KAFKA_PORT
    kafka_controller_port: int = DEFAULT_KAFKA_CONTROLLER_PORT
    postgres_port: int = DEFAULT_POSTGRES_PORT
    kafka_heap: str = DEFAULT_KAFKA_HEAP
    kafka_brokers: int = 1
    """Brokers of the local cluster (:mod:`devstack.kafka`): 1, or 3 for replication."""
    postgres_synchronous_commit: bool = True
    # Only set when the PostgreSQL files must live outside the home (see postgres_root_for).
    postgres_root_override: Path | None = None
    # Folder of initdb/pg_ctl/postgres; None means "search PATH, then /usr/lib/postgresql".
    postgres_bin_dir: Path | None = None
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S

    @property
    def logs_dir(self) -> Path:
        """Folder of every log file of this devstack (the PostgreSQL one may be a symlink)."""
        return self.home / "logs"

    @property
    def env_file(self) -> Path:
        """``KEY=value`` lines for the platform's settings, rewritten after each start."""
        return self.home / "env"

    @property
    def lock_file(self) -> Path:
        """Serialises start/stop of this devstack across processes (e.g. pytest-xdist workers)."""
        return self.home / "devstack.lock"

    @property
    def kafka_dir(self) -> Path:
        """Kafka's own folder: configuration, pid file, cluster id and data."""
        return self.home / "kafka"

    @property
    def kafka_data_dir(self) -> Path:
        """Kafka's ``log.dirs`` (the KRaft metadata log lives here too)."""
        return self.kafka_dir / "data"

    @property
    def kafka_pid_file(self) -> Path:
        """Pid of the detached broker process."""
        return self.kafka_dir / "kafka.pid"

    @property
    def kafka_properties(self) -> Path:
        """The broker's ``server.properties``, rewritten on every start."""
        return self.kafka_dir / "server.properties"

    @property
    def kafka_log4j_config(self) -> Path:
        """The broker's log4j2 configuration, rewritten on every start."""
        return self.kafka_dir / "log4j2.xml"

    @property
    def kafka_cluster_id_file(self) -> Path:
        """The KRaft cluster id the storage was formatted with; kept so re-formats agree."""
        return self.kafka_dir / "cluster-id"

    @property
    def kafka_credentials_file(self) -> Path:
        """Every principal's password, generated on first start (mode 600, never committed)."""
        return self.kafka_dir / "credentials.json"

    @property
    def kafka_log(self) -> Path:
        """The broker's log4j output (readiness is detected here)."""
        return self.logs_dir / "kafka.log"

    @property
    def kafka_stdout_log(self) -> Path:
        """The JVM's stdout/stderr: crashes that happen before or outside log4j land here."""
        return self.logs_dir / "kafka.stdout.log"

    @property
    def kafka_jar_dir(self) -> Path:
        """The cached jars of the pinned Kafka version."""
        return self.jar_cache / KAFKA_VERSION

    @property
    def postgres_root(self) -> Path:
        """Folder of PostgreSQL's data, socket and log (see :func:`postgres_root_for`)."""
        if self.postgres_root_override is not None:
            return self.postgres_root_override
        return postgres_root_for(self.home, euid=os.geteuid())

    @property
    def postgres_root_pointer(self) -> Path:
        """File in the home naming :attr:`postgres_root`, for people looking for the data."""
        return self.home / "postgres-root"

    @property
    def postgres_data_dir(self) -> Path:
        """PostgreSQL's data folder (``PGDATA``)."""
        return self.postgres_root / "data"

    @property
    def postgres_socket_dir(self) -> Path:
        """``unix_socket_directories``: the launcher's own superuser connections go through it."""
        return self.postgres_root / "run"

    @property
    def postgres_log(self) -> Path:
        """PostgreSQL's server log; written by the server's user, so it lives in its root."""
        return self.postgres_root / "postgres.log"

    @property
    def postgres_log_link(self) -> Path:
        """Where the PostgreSQL log shows up among the other logs."""
        return self.logs_dir / "postgres.log"

    @property
    def prometheus_dir(self) -> Path:
        """The launcher's Prometheus: its scrape configuration and time series."""
        return self.home / "prometheus"

    @property
    def kafka_ports(self) -> list[int]:
        """Each broker's client port: the first on ``kafka_port``, broker k on it + 100 (k-1)."""
        return [self.kafka_port + KAFKA_PORT_STEP * n for n in range(self.kafka_brokers)]

    @property
    def kafka_brokers_file(self) -> Path:
        """How many brokers this devstack's Kafka storage was formatted for."""
        return self.kafka_dir / "brokers"

    @property
    def kafka_bootstrap_servers(self) -> str:
        """``host:port[,host:port...]`` for Kafka clients: every broker."""
        return ",".join(f"{HOST}:{port}" for port in self.kafka_ports)

    @property
    def postgres_url(self) -> str:
        """URL of the admin database ``postgres`` as the ``atoz`` role (asyncpg accepts it)."""
        return f"postgresql://atoz:atoz@{HOST}:{self.postgres_port}/postgres"


def postgres_root_for(home: Path, *, euid: int) -> Path:
    """Where PostgreSQL's files go for the devstack at ``home``.

    PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user, which
    usually cannot traverse into the home (CI clones into a root-owned ``mktemp -d`` folder of
    mode 700). Its files then go to a postgres-owned folder under /tmp, named after a hash of
    the home so that side-by-side devstacks do not share it.
    """
    if euid != 0:
        return home / "postgres"
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
    # /tmp rather than tempfile.gettempdir(): a CI-private TMPDIR may be unreachable for postgres.
    return Path("/tmp") / f"atoz-devstack-{digest}"  # noqa: S108


def find_repo_root(start: Path | None = None) -> Path | None:
    """The checkout holding ``deploy/local/kafka-jars/pom.xml``, searched upwards.

    The package's own location is tried first (the workspace installs it editable), then
    ``start`` (default: the working directory).
    """
    candidates = [Path(__file__).resolve().parent, (start or Path.cwd()).resolve()]
    for candidate in candidates:
        for folder in (candidate, *candidate.parents):
            if (folder / POM_RELATIVE_PATH).is_file():
                return folder
    return None


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PrerequisiteError(f"{name}={raw!r} is not a port number.") from None
    if not 1 <= value <= 65535:
        raise PrerequisiteError(f"{name}={value} is outside the port range 1-65535.")
    return value


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE_WORDS:
        return True
    if raw in _FALSE_WORDS:
        return False
    raise PrerequisiteError(f"{name}={raw!r} is neither on nor off.")


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw).expanduser().resolve() if raw else None


def load_config(
    env: Mapping[str, str] | None = None, *, cwd: Path | None = None, brokers: int | None = None
) -> DevstackConfig:
    """Read the configuration from ``env`` (default: ``os.environ``); ``brokers`` (``devstack
    start --brokers``) outranks ``DEVSTACK_KAFKA_BROKERS``.

    Variables: ``DEVSTACK_HOME`` (default ``<repo>/.devstack``), ``DEVSTACK_JAR_CACHE`` (default
    ``<repo>/.cache/kafka-jars``), ``DEVSTACK_KAFKA_PORT`` (9092),
    ``DEVSTACK_KAFKA_CONTROLLER_PORT`` (9093), ``DEVSTACK_POSTGRES_PORT`` (5433),
    ``DEVSTACK_KAFKA_HEAP`` (512m), ``DEVSTACK_KAFKA_BROKERS`` (1 or 3; default: what the
    devstack's Kafka was last started with, else 1), ``DEVSTACK_POSTGRES_SYNCHRONOUS_COMMIT``
    (on; off trades durability of the last commits on a crash for speed),
    ``DEVSTACK_POSTGRES_ROOT`` (where PostgreSQL's files go; default: see
    :func:`postgres_root_for`), ``DEVSTACK_POSTGRES_BIN`` (folder of initdb and pg_ctl; default:
    PATH, then the newest /usr/lib/postgresql/*/bin) and ``DEVSTACK_START_TIMEOUT`` (seconds per
    server, 120).

    Raises :class:`PrerequisiteError` for a malformed value or when the repository (which holds
    the Kafka POM) cannot be found.
    """
    env = os.environ if env is None else env
    repo_root = find_repo_root(cwd)
    if repo_root is None:
        raise PrerequisiteError(
            f"cannot find the repository ({POM_RELATIVE_PATH} above the devstack package or "
            "the working directory); run devstack from inside the checkout."
        )
    home = _path(env, "DEVSTACK_HOME") or repo_root / ".devstack"
    jar_cache = _path(env, "DEVSTACK_JAR_CACHE") or repo_root / ".cache" / "kafka-jars"

    kafka_port = _port(env, "DEVSTACK_KAFKA_PORT", DEFAULT_KAFKA_PORT)
    controller_port = _port(env, "DEVSTACK_KAFKA_CONTROLLER_PORT", DEFAULT_KAFKA_CONTROLLER_PORT)
    postgres_port = _port(env, "DEVSTACK_POSTGRES_PORT", DEFAULT_POSTGRES_PORT)
    if len({kafka_port, controller_port, postgres_port}) != 3:
        raise PrerequisiteError(
            f"the Kafka ({kafka_port}), Kafka controller ({controller_port}) and PostgreSQL "
            f"({postgres_port}) ports must all differ."
        )

    brokers = _brokers(env, home, brokers)
    heap = env.get("DEVSTACK_KAFKA_HEAP", "").strip() or DEFAULT_KAFKA_HEAP
    if not _HEAP_PATTERN.fullmatch(heap):
        raise PrerequisiteError(f"DEVSTACK_KAFKA_HEAP={heap!r} is not a JVM size such as 512m.")

    raw_timeout = env.get("DEVSTACK_START_TIMEOUT", "").strip()
    try:
        timeout = float(raw_timeout) if raw_timeout else DEFAULT_START_TIMEOUT_S
    except ValueError:
        raise PrerequisiteError(f"DEVSTACK_START_TIMEOUT={raw_timeout!r} is not seconds.") from None
    if timeout <= 0:
        raise PrerequisiteError(f"DEVSTACK_START_TIMEOUT={raw_timeout!r} must be positive.")

    return DevstackConfig(
        home=home,
        repo_root=repo_root,
        jar_cache=jar_cache,
        kafka_pom=repo_root / POM_RELATIVE_PATH,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        postgres_port=postgres_port,
        kafka_heap=heap,
        kafka_brokers=brokers,
        postgres_synchronous_commit=_flag(
            env, "DEVSTACK_POSTGRES_SYNCHRONOUS_COMMIT", default=True
        ),
        postgres_root_override=_path(env, "DEVSTACK_POSTGRES_ROOT"),
        postgres_bin_dir=_path(env, "DEVSTACK_POSTGRES_BIN"),
        start_timeout_s=timeout,
    )


def _brokers(env: Mapping[str, str], home: Path, given: int | None) -> int:
    """``given``, else ``DEVSTACK_KAFKA_BROKERS``, else the count the home's Kafka was started
    with, else 1."""
    raw = str(given) if given is not None else env.get("DEVSTACK_KAFKA_BROKERS", "").strip()
    if not raw:
        with_file = home / "kafka" / "brokers"
        raw = with_file.read_text().strip() if with_file.is_file() else "1"
    if not raw.isdigit() or int(raw) not in KAFKA_BROKER_COUNTS:
        counts = " or ".join(str(n) for n in KAFKA_BROKER_COUNTS)
        raise PrerequisiteError(
            f"DEVSTACK_KAFKA_BROKERS={raw!r}: a local Kafka has {counts} brokers."
        )
    return int(raw)
