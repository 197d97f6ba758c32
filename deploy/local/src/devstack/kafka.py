"""Apache Kafka (KRaft) run from the cached jars: one node, or a cluster of three.

Each node is broker and controller at once, runs detached from the launcher and listens on
127.0.0.1 only. One node is tuned for tests: replication factor 1 everywhere, one partition for
the internal topics. Three nodes (``devstack start --brokers 3``) form a controller quorum of
three with replication factor 3 and ``min.insync.replicas=2`` for every topic, the internal
ones too, so a broker can be lost without losing a write acknowledged with ``acks=all``. Node 1
keeps the single node's ports, files and logs; node k listens on ports + 100 (k - 1) and keeps
its files in ``<home>/kafka/broker-k``. Always: no rebalance delay, no topic auto-creation
(topics come from ``contracts.topics``).

No client is anonymous: the client listener takes SASL/SCRAM-SHA-512 only, KRaft's
``StandardAuthorizer`` allows nothing without an ACL, and the principals and their ACLs are those
of :mod:`contracts.access` (set up by :mod:`devstack.access`). The controller listener takes the
admin alone (SASL/PLAIN, the one mechanism a controller can check before its metadata is read).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import quoteattr

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from contracts.access import ADMIN, SASL_MECHANISM
from devstack import access
from devstack.config import HOST, KAFKA_PORT_STEP, DevstackConfig
from devstack.errors import DevstackError, PrerequisiteError
from devstack.jars import ensure_jars
from devstack.procs import (
    PhaseReporter,
    find_pids,
    pid_is_running,
    port_is_free,
    process_cmdline,
    read_pid,
    run_async,
    run_tool,
    spawn_detached,
    tail,
    terminate,
    timed,
)

READY_LINE: Final = "Kafka Server started"
MIN_JAVA: Final = 17
STOP_TIMEOUT_S: Final = 30.0
NODE_ID: Final = 1
"""The first node's id (a single broker's)."""
# Kafka answers TOPIC_ALREADY_EXISTS when a concurrent launcher created the topic first.
_TOPIC_ALREADY_EXISTS: Final = 36
_CLUSTER_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{22}$")
_JAVA_VERSION_PATTERN: Final = re.compile(r'version "(\d+)(?:\.(\d+))?')


def new_cluster_id() -> str:
    """A fresh KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars).

    Like Kafka's ``Uuid.randomUuid``, ids starting with ``-`` are skipped: the command-line
    tools would read them as options.
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


def is_cluster_id(text: str) -> bool:
    """Whether ``text`` is a well-formed KRaft cluster id."""
    if not _CLUSTER_ID_PATTERN.fullmatch(text):
        return False
    return len(base64.urlsafe_b64decode(text + "==")) == 16


def _escape(value: str) -> str:
    """Escape a value for a Java properties file (backslashes would start escapes)."""
    return value.replace("\\", "\\\\")


def _jaas(module: str, admin_password: str, *, plain_users: bool = False) -> str:
    # The password is urlsafe base64 (no quote, no backslash): safe between double quotes.
    users = f' user_{ADMIN}="{admin_password}"' if plain_users else ""
    return (
        f'org.apache.kafka.common.security.{module} required username="{ADMIN}" '
        f'password="{admin_password}"{users};'
    )


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the local cluster: its id, ports and files."""

    node_id: int
    port: int
    controller_port: int
    folder: Path
    """Its configuration, pid file and (in ``data``) its storage."""
    log: Path
    stdout_log: Path

    @property
    def name(self) -> str:
        return "kafka" if self.node_id == NODE_ID else f"kafka-{self.node_id}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def properties(self) -> Path:
        return self.folder / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.folder / "log4j2.xml"

    @property
    def pid_file(self) -> Path:
        return self.folder / "kafka.pid"


def nodes(config: DevstackConfig) -> list[Node]:
    """The nodes of ``config``'s cluster (node 1 on the configured ports and files)."""
    found = []
    for index in range(config.kafka_brokers):
        node_id = NODE_ID + index
        first = node_id == NODE_ID
        found.append(
            Node(
                node_id=node_id,
                port=config.kafka_port + KAFKA_PORT_STEP * index,
                controller_port=config.kafka_controller_port + KAFKA_PORT_STEP * index,
                folder=config.kafka_dir if first else config.kafka_dir / f"broker-{node_id}",
                log=config.kafka_log if first else config.logs_dir / f"kafka-{node_id}.log",
                stdout_log=(
                    config.kafka_stdout_log
                    if first
                    else config.logs_dir / f"kafka-{node_id}.stdout.log"
                ),
            )
        )
    return found


def replication_factor(config: DevstackConfig) -> int:
    """Replicas of every partition: one per broker, up to three."""
    return min(config.kafka_brokers, 3)


def server_settings(
    config: DevstackConfig, admin_password: str, node: Node | None = None
) -> dict[str, str]:
    """The ``server.properties`` of ``node`` (by default the first) as a mapping."""
    cluster = nodes(config)
    node = node or cluster[0]
    broker = f"{HOST}:{node.port}"
    controller = f"{HOST}:{node.controller_port}"
    replicas = str(replication_factor(config))
    # Two in sync of three: a write acknowledged by acks=all survives the loss of a broker.
    in_sync = "2" if replication_factor(config) >= 3 else "1"
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        # A static quorum: the storage is formatted without --standalone.
        "controller.quorum.voters": ",".join(
            f"{n.node_id}@{HOST}:{n.controller_port}" for n in cluster
        ),
        "listeners": f"CLIENT://{broker},CONTROLLER://{controller}",
        "advertised.listeners": f"CLIENT://{broker}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "CLIENT",
        "listener.security.protocol.map": "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": SASL_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SASL_MECHANISM,
        "listener.name.client.scram-sha-512.sasl.jaas.config": _jaas(
            "scram.ScramLoginModule", admin_password
        ),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": _jaas(
            "plain.PlainLoginModule", admin_password, plain_users=True
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN}",
        "allow.everyone.if.no.acl.found": "false",
        "log.dirs": str(node.data_dir),
        "num.partitions": "1",
        "default.replication.factor": replicas,
        "min.insync.replicas": in_sync,
        # Internal topics replicated as much as the cluster allows: on a single broker, with
        # more than one replica, group joins and idempotent producer id requests never succeed.
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": in_sync,
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": in_sync,
        "group.initial.rebalance.delay.ms": "0",
        # Topics are declared in contracts.topics; a typo in a test must fail, not create one.
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
    }


def render_server_properties(
    config: DevstackConfig, admin_password: str, node: Node | None = None
) -> str:
    """The text of a node's ``server.properties`` (it holds the admin's password)."""
    lines = ["# Written by devstack on every start; edit devstack/kafka.py instead."]
    settings = server_settings(config, admin_password, node)
    lines += [f"{key}={_escape(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def render_log4j2(config: DevstackConfig, node: Node | None = None) -> str:
    """A log4j2 configuration sending a node's logs to its log (``logs/kafka.log`` for the
    first)."""
    log = str((node or nodes(config)[0]).log)
    # shutdownHook="disable": log4j's own hook would otherwise close the appender before
    # Kafka's shutdown hook has logged how the shutdown went.
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by devstack on every start; edit devstack/kafka.py instead. -->
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <RollingFile name="file" fileName={quoteattr(log)} filePattern={quoteattr(log + ".%i")}>
      <PatternLayout pattern="[%d{{ISO8601}}] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
  </Loggers>
</Configuration>
"""


def parse_java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output ("1.8.0_x" is 8, "17.0.15" is 17)."""
    found = _JAVA_VERSION_PATTERN.search(version_output)
    if found is None:
        return None
    major = int(found.group(1))
    if major == 1 and found.group(2) is not None:
        return int(found.group(2))
    return major


def check_java() -> str:
    """Path of a Java 17+ runtime; raises :class:`PrerequisiteError` when there is none."""
    java_home = os.environ.get("JAVA_HOME", "").strip()
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if java is None or not Path(java).is_file():
        raise PrerequisiteError(
            f"Java is not installed; Kafka needs Java {MIN_JAVA} or newer "
            "(apt-get install openjdk-17-jre-headless)."
        )
    try:
        done = subprocess.run(  # noqa: S603 - java is a path we resolved
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PrerequisiteError(f"{java} -version could not run ({error}).") from None
    major = parse_java_major(done.stderr + done.stdout)
    if major is None or major < MIN_JAVA:
        found = "an unknown version" if major is None else f"Java {major}"
        raise PrerequisiteError(f"{java} is {found}; Kafka needs Java {MIN_JAVA} or newer.")
    return java


def running_pid(config: DevstackConfig) -> int | None:
    """Pid of this devstack's (first) broker, if it is running."""
    return node_pid(nodes(config)[0])


def running_pids(config: DevstackConfig) -> dict[int, int | None]:
    """Each node's pid, None for a node not running."""
    return {node.node_id: node_pid(node) for node in nodes(config)}


def node_pid(node: Node) -> int | None:
    """Pid of ``node``'s broker, if it is running."""
    marker = str(node.properties)
    pid = read_pid(node.pid_file)
    if pid is not None and pid_is_running(pid) and _is_our_broker(pid, marker):
        return pid
    # The pid file may be gone or stale (pid reused); the broker is recognised by its argv.
    strays = find_pids(marker)
    return strays[0] if strays else None


def _is_our_broker(pid: int, marker: str) -> bool:
    argv = process_cmdline(pid)
    return "kafka.Kafka" in argv and marker in argv


def check_ports(config: DevstackConfig, only: Iterable[int] | None = None) -> None:
    """Raise :class:`PrerequisiteError` if another program holds a port a broker needs (of the
    nodes ``only`` names, by default all)."""
    wanted = set(only) if only is not None else None
    for index, node in enumerate(nodes(config)):
        if wanted is not None and node.node_id not in wanted:
            continue
        for name, port in (
            ("DEVSTACK_KAFKA_PORT", node.port),
            ("DEVSTACK_KAFKA_CONTROLLER_PORT", node.controller_port),
        ):
            if not port_is_free(HOST, port):
                offset = f" (broker {node.node_id} uses it + {KAFKA_PORT_STEP * index})"
                raise PrerequisiteError(
                    f"port {port} on {HOST} is already taken by another program; stop it or set "
                    f"{name} to a free port{offset if index else ''}."
                )


@dataclass(frozen=True, slots=True)
class Launch:
    """A broker process this launcher has just started."""

    pid: int
    log_offset: int
    began: float
    node: Node


def _java_command(
    config: DevstackConfig, java: str, jar_dir: Path, main: str, node: Node
) -> list[str]:
    return [
        java,
        f"-Xmx{config.kafka_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={node.log4j_config}",
        f"-Dkafka.logs.dir={config.logs_dir}",
        "-cp",
        # Java expands the trailing * itself (no shell is involved).
        f"{jar_dir}/*",
        main,
    ]


def prepare_and_launch(
    config: DevstackConfig,
    java: str,
    report: PhaseReporter | None = None,
    only: Iterable[int] | None = None,
) -> list[Launch]:
    """Fetch the jars, write the configuration, format the storage and start the brokers (of
    the nodes ``only`` names, by default all).

    Returns without waiting for readiness, so the caller can start PostgreSQL meanwhile.
    """
    jar_dir = ensure_jars(config, report)
    config.kafka_dir.mkdir(parents=True, exist_ok=True)
    config.logs_dir.mkdir(parents=True, exist_ok=True)
    cluster = nodes(config)
    formatted = (cluster[0].data_dir / "meta.properties").is_file()
    if formatted and not config.kafka_credentials_file.is_file():
        raise DevstackError(
            f"the Kafka storage in {config.kafka_data_dir} was formatted before the broker had "
            "principals; `devstack clean` (or ./platform up, which starts fresh) makes a new one."
        )
    _check_broker_count(config, formatted=formatted)
    admin_password = access.load_or_create(config.kafka_credentials_file)[ADMIN]
    wanted = set(only) if only is not None else {node.node_id for node in cluster}
    launches = []
    for node in cluster:
        if node.node_id not in wanted:
            continue
        node.folder.mkdir(parents=True, exist_ok=True)
        node.properties.touch(mode=0o600)
        node.properties.chmod(0o600)
        node.properties.write_text(render_server_properties(config, admin_password, node))
        node.log4j_config.write_text(render_log4j2(config, node))
        _format(config, java, jar_dir, node, admin_password=admin_password, report=report)
        log_offset = node.log.stat().st_size if node.log.exists() else 0
        began = time.monotonic()
        pid = spawn_detached(
            [*_java_command(config, java, jar_dir, "kafka.Kafka", node), str(node.properties)],
            pid_file=node.pid_file,
            output=node.stdout_log,
            cwd=node.folder,
        )
        launches.append(Launch(pid=pid, log_offset=log_offset, began=began, node=node))
    config.kafka_brokers_file.write_text(f"{config.kafka_brokers}\n")
    return launches


def _check_broker_count(config: DevstackConfig, *, formatted: bool) -> None:
    """A storage formatted for one cluster size cannot serve another (its quorum is fixed)."""
    path = config.kafka_brokers_file
    before = int(path.read_text().strip()) if path.is_file() else 1
    if formatted and before != config.kafka_brokers:
        raise PrerequisiteError(
            f"this devstack's Kafka was formatted for {before} broker(s), not "
            f"{config.kafka_brokers}: `devstack clean` first (its topics and data go)."
        )


def _format(
    config: DevstackConfig,
    java: str,
    jar_dir: Path,
    node: Node,
    *,
    admin_password: str,
    report: PhaseReporter | None,
) -> None:
    phase = "kafka format" if node.node_id == NODE_ID else f"kafka format (node {node.node_id})"
    with timed(report, phase) as note:
        if (node.data_dir / "meta.properties").is_file():
            note.detail = "already formatted"
            return
        cluster_id = _cluster_id(config)
        run_tool(
            [
                *_java_command(config, java, jar_dir, "kafka.tools.StorageTool", node),
                "format",
                "-t",
                cluster_id,
                "-c",
                str(node.properties),
                "-g",
                # The admin exists before the broker starts: it creates everyone else.
                "--add-scram",
                f"{SASL_MECHANISM}=[name={ADMIN},password={admin_password}]",
            ],
            what="formatting the Kafka storage",
            log=config.logs_dir / "kafka-format.log",
            timeout_s=config.start_timeout_s,
            cwd=node.folder,
        )
        note.detail = f"cluster id {cluster_id}"


def _cluster_id(config: DevstackConfig) -> str:
    """The cluster id of this devstack, created on first use."""
    path = config.kafka_cluster_id_file
    if path.is_file():
        existing = path.read_text().strip()
        if is_cluster_id(existing):
            return existing
    cluster_id = new_cluster_id()
    path.write_text(cluster_id + "\n")
    return cluster_id


def _startup_failure(config: DevstackConfig, launch: Launch, reason: str) -> DevstackError:
    node = launch.node
    lines = tail(node.log, 400, start=launch.log_offset)
    errors = [line for line in lines if " ERROR " in line or " FATAL " in line]
    crash = [line for line in tail(node.stdout_log, 20) if line.strip()]
    hint = (errors or crash or [""])[-1].strip()
    detail = f": {hint}" if hint else ""
    which = "Kafka" if config.kafka_brokers == 1 else f"Kafka node {node.node_id}"
    return DevstackError(f"{which} {reason}{detail} (see {node.log} and {node.stdout_log}).")


def _wait_for_ready_line(config: DevstackConfig, launch: Launch, deadline: float) -> None:
    position = launch.log_offset
    carry = b""
    while True:
        try:
            with launch.node.log.open("rb") as handle:
                handle.seek(position)
                chunk = handle.read()
        except FileNotFoundError:
            chunk = b""
        position += len(chunk)
        # Keep a line's worth of the previous read: the marker may straddle two reads.
        window = carry + chunk
        if READY_LINE.encode() in window:
            return
        carry = window[-200:]
        if not pid_is_running(launch.pid):
            raise _startup_failure(config, launch, "exited during start-up")
        if time.monotonic() >= deadline:
            raise _startup_failure(
                config, launch, f"did not log '{READY_LINE}' within {config.start_timeout_s:.0f}s"
            )
        time.sleep(0.1)


async def _connect_admin(options: dict[str, Any], deadline: float) -> AIOKafkaAdminClient:
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(**options, request_timeout_ms=10_000)
        try:
            await admin.start()
            await admin.list_topics()
        except (KafkaError, OSError) as error:
            last_error = error
            await admin.close()
            await asyncio.sleep(0.2)
        else:
            return admin
    where = options["bootstrap_servers"]
    raise DevstackError(f"the Kafka admin client cannot connect to {where}: {last_error}.")


async def _ensure_topics(
    admin: AIOKafkaAdminClient,
    wanted: list[tuple[str, int]],
    deadline: float,
    replication_factor: int = 1,
) -> str:
    existing = set(await admin.list_topics())
    missing = [(name, partitions) for name, partitions in wanted if name not in existing]
    if missing:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name, partitions in missing],
            timeout_ms=30_000,
        )
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code not in {0, _TOPIC_ALREADY_EXISTS}:
                raise DevstackError(f"Kafka refused to create topic {name} (error code {code}).")
    notes = [f"{len(missing)} created, {len(wanted) - len(missing)} existed"]
    # Wait for leaders, so the first produce of a test does not race the topic's creation.
    names = [name for name, _ in wanted]
    declared = dict(wanted)
    while True:
        described = await admin.describe_topics(names)
        pending = [
            topic["topic"]
            for topic in described
            if topic["error_code"] != 0
            or not topic["partitions"]
            or any(partition["leader"] < 0 for partition in topic["partitions"])
        ]
        if not pending:
            break
        if time.monotonic() >= deadline:
            raise DevstackError(f"Kafka topics have no leader yet: {', '.join(pending)}.")
        await asyncio.sleep(0.1)
    for topic in described:
        actual = len(topic["partitions"])
        if actual != declared[topic["topic"]]:
            notes.append(
                f"{topic['topic']} has {actual} partitions, contracts declare "
                f"{declared[topic['topic']]}"
            )
    return "; ".join(notes)


async def ensure_topics(
    options: dict[str, Any], topics: Iterable[tuple[str, int]], *, timeout_s: float = 60
) -> str:
    """Create the missing ``(name, partitions)`` topics on any broker and wait for their leaders;
    a note of what was done (for a broker this launcher did not start, as the tests' may be).
    ``options`` are an admin's aiokafka client options (bootstrap servers and credentials)."""
    deadline = time.monotonic() + timeout_s
    admin = await _connect_admin(options, deadline)
    try:
        return await _ensure_topics(admin, list(topics), deadline)
    finally:
        await admin.close()


def wait_until_ready(
    config: DevstackConfig,
    launches: Iterable[Launch],
    topics: Iterable[tuple[str, int]],
    report: PhaseReporter | None = None,
) -> None:
    """Wait for the brokers, then create the topics that are missing.

    Ready means the ready line in the log (only checked for the brokers of ``launches``)
    and a working admin connection. A broker found already running is only checked by the
    admin connection: it may still be starting on behalf of another launcher.
    """
    launches = list(launches)
    began = min((launch.began for launch in launches), default=time.monotonic())
    deadline = began + config.start_timeout_s
    for launch in launches:
        _wait_for_ready_line(config, launch, deadline)
    wanted = list(topics)

    passwords = access.load_or_create(config.kafka_credentials_file)

    async def connect_and_create() -> None:
        admin = await _connect_admin(admin_options(config), deadline)
        try:
            if report is not None:
                pids = ", ".join(str(launch.pid) for launch in launches)
                detail = f"pid {pids}" if launches else "already running"
                report("kafka start", time.monotonic() - began, detail)
            with timed(report, "kafka principals") as note:
                note.detail = await asyncio.to_thread(
                    access.apply, config.kafka_bootstrap_servers, passwords
                )
            with timed(report, "kafka topics") as note:
                note.detail = await _ensure_topics(
                    admin, wanted, time.monotonic() + 60, replication_factor(config)
                )
        finally:
            await admin.close()

    run_async(connect_and_create)


def admin_options(config: DevstackConfig) -> dict[str, Any]:
    """aiokafka client options to reach this devstack's broker as the admin."""
    return client_options(
        config.kafka_bootstrap_servers,
        ADMIN,
        access.load_or_create(config.kafka_credentials_file)[ADMIN],
    )


def client_options(bootstrap_servers: str, username: str, password: str) -> dict[str, Any]:
    """aiokafka client options for a principal of the launcher's broker (SASL, no TLS)."""
    return {
        "bootstrap_servers": bootstrap_servers,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": SASL_MECHANISM,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
    }


def stop(config: DevstackConfig, only: Iterable[int] | None = None) -> bool:
    """Stop the brokers (of the nodes ``only`` names, by default all: SIGTERM, then SIGKILL
    after a timeout); False if none was running.

    The nodes are stopped together: one by one, the last would wait for a controller quorum
    already gone before it gave up its partitions, and be killed at the timeout.
    """
    wanted = set(only) if only is not None else None
    chosen = [n for n in nodes(config) if wanted is None or n.node_id in wanted]
    pids: set[int] = set()
    for node in chosen:
        marker = str(node.properties)
        pids |= set(find_pids(marker))
        pid = read_pid(node.pid_file)
        if pid is not None and pid_is_running(pid) and _is_our_broker(pid, marker):
            pids.add(pid)
    with ThreadPoolExecutor(max_workers=max(len(pids), 1)) as pool:
        for done in [
            pool.submit(terminate, pid, timeout_s=STOP_TIMEOUT_S, group=True)
            for pid in sorted(pids)
        ]:
            done.result()
    for node in chosen:
        node.pid_file.unlink(missing_ok=True)
    return bool(pids)
