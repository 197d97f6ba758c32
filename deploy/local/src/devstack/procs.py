"""Process, port, lock and timing helpers shared by the Kafka and PostgreSQL launchers."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from devstack.errors import DevstackError

T = TypeVar("T")

PhaseReporter = Callable[[str, float, str], None]
"""Called as ``report(phase, seconds, detail)`` when a start-up phase has finished."""

# Forks inside a fresh, single-threaded interpreter (forking the caller, which may be a threaded
# pytest process, is unsafe): the server is re-parented away from the caller, leads its own
# session and process group, and its pid file is complete by the time this helper exits.
_DETACH_SNIPPET = """
import os, sys
pid = os.fork()
if pid:
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(pid))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    os._exit(0)
os.setsid()
os.execvp(sys.argv[2], sys.argv[2:])
"""


@dataclass(slots=True)
class PhaseNote:
    """What a timed phase wants to add to its timing line (e.g. "cached")."""

    detail: str = ""


@contextlib.contextmanager
def timed(report: PhaseReporter | None, phase: str) -> Iterator[PhaseNote]:
    """Time the body and hand the duration to ``report`` if it finishes without raising."""
    note = PhaseNote()
    began = time.monotonic()
    yield note
    if report is not None:
        report(phase, time.monotonic() - began, note.detail)


def _proc_state(pid: int) -> str | None:
    """The one-letter state from /proc (``Z`` for a zombie), or None when it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may itself contain spaces or parentheses.
    return stat.rpartition(")")[2].split()[0]


def pid_is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process; zombies count as dead.

    Zombies matter here: in containers the init process often does not reap orphans, so a
    stopped server lingers as a zombie that ``kill(pid, 0)`` still reports as present.
    """
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists but belongs to someone else
    return _proc_state(pid) not in {"Z", "X"}


def process_cmdline(pid: int) -> list[str]:
    """The argument vector of ``pid`` (empty when it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def read_pid(path: Path, *, line: int = 0) -> int | None:
    """The pid on ``line`` of ``path``, or None if the file is missing or malformed."""
    try:
        lines = path.read_text().splitlines()
        return int(lines[line].strip())
    except (OSError, ValueError, IndexError):
        return None


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Without SO_REUSEADDR a recently closed server's TIME_WAIT sockets look like a user.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in {errno.EADDRINUSE, errno.EACCES}:
                return False
            raise
    return True


def port_accepts(host: str, port: int, *, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def spawn_detached(
    argv: Sequence[str],
    *,
    pid_file: Path,
    output: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> int:
    """Start ``argv`` in its own session, detached from this process, and return its pid.

    It survives the caller's exit and terminal hang-ups; stdout and stderr are appended to
    ``output``; its pid is written to ``pid_file``.
    """
    pid_file.unlink(missing_ok=True)
    with output.open("ab") as out:
        subprocess.run(  # noqa: S603 - argv is built by the launcher, not from user text
            [sys.executable, "-c", _DETACH_SNIPPET, str(pid_file), *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            check=True,
            timeout=30,
        )
    pid = read_pid(pid_file)
    if pid is None:
        raise DevstackError(f"could not start {argv[0]}: no pid was written to {pid_file}.")
    return pid


def send_signal(pid: int, sig: signal.Signals, *, group: bool) -> None:
    """Send ``sig`` to ``pid`` (or the group it leads); a vanished process is not an error."""
    with contextlib.suppress(ProcessLookupError):
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def wait_for_exit(pid: int, *, timeout_s: float) -> bool:
    """Wait until ``pid`` has exited; False if it is still running after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while pid_is_running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(
    pid: int,
    *,
    timeout_s: float,
    first: signal.Signals = signal.SIGTERM,
    escalation: Sequence[signal.Signals] = (signal.SIGKILL,),
    group: bool = False,
) -> None:
    """Send ``first``, wait, then each ``escalation`` signal in turn until ``pid`` has exited."""
    send_signal(pid, first, group=group)
    if wait_for_exit(pid, timeout_s=timeout_s):
        return
    for sig in escalation:
        send_signal(pid, sig, group=group)
        if wait_for_exit(pid, timeout_s=10):
            return
    raise DevstackError(f"process {pid} is still running after {first.name} and SIGKILL.")


@contextlib.contextmanager
def file_lock(path: Path, *, timeout_s: float, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the body."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DevstackError(
                        f"another devstack command has held {what} ({path}) for "
                        f"{timeout_s:.0f}s; try again when it has finished."
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop.

    The test harness may call the synchronous API from an async fixture, where
    ``asyncio.run`` is refused; the coroutine then gets its own loop in a worker thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="devstack") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def tail(path: Path, lines: int, *, start: int = 0) -> list[str]:
    """The last ``lines`` lines of ``path`` from byte ``start`` on (empty if it is missing)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            # Reading the last 256 KiB is plenty for a few hundred log lines.
            handle.seek(max(start, size - 262_144))
            data = handle.read()
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()[-lines:] if lines > 0 else []


def run_tool(
    argv: Sequence[str],
    *,
    what: str,
    log: Path,
    timeout_s: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a short-lived tool, append its output to ``log`` and return that output.

    Raises :class:`DevstackError` naming ``what`` and the log when it fails or times out.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    began = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        done = subprocess.run(  # noqa: S603 - argv is built by the launcher, not from user text
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        output = _text(expired.stdout) + _text(expired.stderr)
        _append(log, began, argv, output, "timed out")
        raise DevstackError(f"{what} timed out after {timeout_s:.0f}s; see {log}.") from None
    output = done.stdout + done.stderr
    _append(log, began, argv, output, f"exit {done.returncode}")
    if done.returncode != 0:
        last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
        hint = f": {last.strip()}" if last else ""
        raise DevstackError(f"{what} failed (exit {done.returncode}){hint} (full output in {log}).")
    return output


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode(errors="replace")


def _append(log: Path, began: str, argv: Sequence[str], output: str, outcome: str) -> None:
    with log.open("a") as handle:
        handle.write(f"--- {began} {' '.join(argv)}\n{output}--- {outcome}\n")


def find_pids(argument: str) -> list[int]:
    """Live processes one of whose arguments is exactly ``argument`` (e.g. a config path).

    A server is found this way even when its pid file was lost, so ``stop`` leaves nothing
    behind.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if pid != os.getpid() and argument in process_cmdline(pid) and pid_is_running(pid):
                found.append(pid)
    return sorted(found)
