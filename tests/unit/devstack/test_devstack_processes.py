"""Port-taken detection, detached processes, pid handling and the jar cache marker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.config import load_config
from devstack.errors import PrerequisiteError
from devstack.jars import BROKER_JAR, MARKER, jars_complete, pom_digest
from devstack.kafka import check_ports
from devstack.postgres import check_port
from devstack.procs import (
    find_pids,
    pid_is_running,
    port_accepts,
    port_is_free,
    read_pid,
    run_async,
    spawn_detached,
    terminate,
)


@pytest.fixture
def listener() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_listened_port_is_taken(listener: int) -> None:
    assert not port_is_free("127.0.0.1", listener)
    assert port_accepts("127.0.0.1", listener)


def test_a_port_held_on_all_interfaces_is_taken_on_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("0.0.0.0", 0))  # noqa: S104 - that is the point of the test
        server.listen()
        port = server.getsockname()[1]

        assert not port_is_free("127.0.0.1", port)


def test_an_unused_port_is_free() -> None:
    port = free_port()

    assert port_is_free("127.0.0.1", port)
    assert not port_accepts("127.0.0.1", port)


def test_a_closed_connection_in_time_wait_does_not_hold_the_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        # The server side closing first leaves its end in TIME_WAIT.
        accepted.close()
        client.close()

    assert port_is_free("127.0.0.1", port)


def test_a_taken_kafka_port_is_a_prerequisite_error(tmp_path: Path, listener: int) -> None:
    config = load_config(
        {
            "DEVSTACK_HOME": str(tmp_path),
            "DEVSTACK_KAFKA_PORT": str(listener),
            "DEVSTACK_KAFKA_CONTROLLER_PORT": str(free_port()),
        }
    )

    with pytest.raises(PrerequisiteError, match=f"port {listener} .*DEVSTACK_KAFKA_PORT"):
        check_ports(config)


def test_a_taken_postgres_port_is_a_prerequisite_error(tmp_path: Path, listener: int) -> None:
    config = load_config({"DEVSTACK_HOME": str(tmp_path), "DEVSTACK_POSTGRES_PORT": str(listener)})

    with pytest.raises(PrerequisiteError, match="DEVSTACK_POSTGRES_PORT"):
        check_port(config)


def test_read_pid_tolerates_missing_and_malformed_files(tmp_path: Path) -> None:
    pid_file = tmp_path / "x.pid"
    assert read_pid(pid_file) is None
    pid_file.write_text("garbage\n")
    assert read_pid(pid_file) is None
    pid_file.write_text("1234\n/data\n")
    assert read_pid(pid_file) == 1234


def test_a_zombie_is_not_running() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while pid_is_running(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert not pid_is_running(child.pid)
    child.wait(timeout=5)


def test_a_detached_process_leads_its_own_session_and_can_be_terminated(tmp_path: Path) -> None:
    marker = str(tmp_path / "marker")
    pid = spawn_detached(
        [sys.executable, "-c", "import time, sys; time.sleep(60)", marker],
        pid_file=tmp_path / "sleeper.pid",
        output=tmp_path / "sleeper.log",
        cwd=tmp_path,
    )
    try:
        assert pid_is_running(pid)
        assert read_pid(tmp_path / "sleeper.pid") == pid
        assert os.getsid(pid) == pid
        assert os.getsid(pid) != os.getsid(0)
        assert find_pids(marker) == [pid]
    finally:
        terminate(pid, timeout_s=10, group=True)

    assert not pid_is_running(pid)
    assert find_pids(marker) == []


def test_terminate_escalates_when_the_signal_is_ignored(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    pid = spawn_detached(
        [sys.executable, "-c", code],
        pid_file=tmp_path / "stubborn.pid",
        output=tmp_path / "stubborn.log",
        cwd=tmp_path,
    )
    time.sleep(0.5)  # let it install the handler

    began = time.monotonic()
    terminate(pid, timeout_s=0.5, first=signal.SIGTERM)

    assert not pid_is_running(pid)
    assert time.monotonic() - began < 5


async def test_run_async_works_inside_a_running_loop() -> None:
    async def answer() -> int:
        return 42

    assert run_async(answer) == 42


def test_the_jar_cache_is_complete_only_with_the_marker_of_the_same_pom(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    jars = tmp_path / "4.1.1"
    jars.mkdir()
    (jars / BROKER_JAR).write_bytes(b"")

    assert not jars_complete(jars, pom)
    (jars / MARKER).write_text(pom_digest(pom) + "\n")
    assert jars_complete(jars, pom)
    pom.write_text("<project><!-- changed --></project>")
    assert not jars_complete(jars, pom)
