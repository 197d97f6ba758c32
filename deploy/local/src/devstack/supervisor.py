"""The platform's three services as supervised processes (``python -m devstack.supervisor``).

The supervisor reads ``<home>/services.json`` (names, commands, environment, log and pid
files), starts each service, restarts one that crashes (within half a second after a crash of a
service that had been running, with a pause growing to five seconds while one keeps crashing on
start: see :func:`restart_pause`), and on SIGTERM or SIGINT stops them all gracefully: SIGTERM,
then SIGKILL after the grace period. It is started detached by :func:`devstack.services.start`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRACE_SECONDS = 25.0
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 5.0
"""A service that cannot start is not hammered, nor left down for long: clients retry for a
minute, so a restart must come well within it."""
RAN_SECONDS = 10.0
"""A service that ran this long before it exited had been running: it gets back at once."""


def restart_pause(crashes_in_a_row: int, ran_for: float) -> float:
    """Seconds to wait before starting a service again: at once (half a second) after a crash of
    one that had been running, doubling up to :data:`MAX_PAUSE_SECONDS` while it keeps crashing
    right after it starts."""
    if ran_for >= RAN_SECONDS:
        return FIRST_PAUSE_SECONDS
    growing: float = FIRST_PAUSE_SECONDS * 2.0 ** max(crashes_in_a_row - 1, 0)
    return min(growing, MAX_PAUSE_SECONDS)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    pid_file: Path | None = None
    """Holds the running process's pid, so an operator (or the chaos suite) can find it."""
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603  # argv comes from our own spec file
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
            )
        self.started_at = time.monotonic()
        if self.pid_file is not None:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{self.process.pid}\n")
        _say(f"started {self.name} (pid {self.process.pid})")


def _say(message: str) -> None:
    sys.stdout.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + message + "\n")
    sys.stdout.flush()


def run(spec_file: Path) -> int:
    """Supervise the services of ``spec_file`` until told to stop."""
    spec: list[dict[str, Any]] = json.loads(spec_file.read_text())
    children = [
        Child(
            s["name"],
            s["argv"],
            s["env"],
            Path(s["log"]),
            Path(s["pid_file"]) if s.get("pid_file") else None,
        )
        for s in spec
    ]
    stopping = False

    def stop(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True
        _say(f"stopping on {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.start()
    while not stopping:
        time.sleep(0.5)
        for child in children:
            process = child.process
            if process is not None and process.poll() is not None and not stopping:
                # A crash: back at once, pausing longer only while it crashes right on start.
                ran_for = time.monotonic() - child.started_at
                child.restarts = child.restarts + 1 if ran_for < RAN_SECONDS else 1
                pause = restart_pause(child.restarts, ran_for)
                _say(f"{child.name} exited with {process.returncode}; restarting in {pause:.1f} s")
                child.process = None
                child.next_start = time.monotonic() + pause
            if child.process is None and not stopping and time.monotonic() >= child.next_start:
                child.start()
    for child in children:
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
        if child.pid_file is not None:
            child.pid_file.unlink(missing_ok=True)
        _say(f"{child.name} stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(Path(sys.argv[1])))
