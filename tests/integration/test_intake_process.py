"""Intake as its own process (``python -m intake``): it serves, and on SIGTERM it finishes the
requests already in flight before it exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from intake.auth import hash_token
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_settings
from tests.unit.intake.conftest import filing

pytestmark = pytest.mark.integration

TOKEN = "process-test-token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def intake_process(kafka: KafkaAccess) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    grants = [{"sha256": hash_token(TOKEN), "role": "buyer", "subject": "buyer-42"}]
    settings = {
        f"INTAKE_{key.upper()}": str(value)
        for key, value in kafka_settings(kafka).items()
        if value is not None
    }
    env = {**os.environ, **settings,
           "INTAKE_HTTP_PORT": str(port), "INTAKE_TOKENS": json.dumps(grants),
           "INTAKE_LOG_FORMAT": "json"}  # fmt: skip
    process = subprocess.Popen(  # our own interpreter and module
        [sys.executable, "-m", "intake"], env=env, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
                probe.sendall(b"GET /health/ready HTTP/1.1\r\nHost: t\r\n\r\n")
                if b" 200 " in probe.recv(200):
                    break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("intake never became ready")
    yield process, port
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


async def test_on_sigterm_intake_finishes_the_request_in_flight_then_exits(
    intake_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = intake_process
    body = json.dumps(filing()).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /v1/claims HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    writer.write(head.encode() + body[:10])
    await writer.drain()
    await asyncio.sleep(0.3)  # the request is now in flight, its body half sent
    process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    writer.write(body[10:])
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(2000), timeout=15)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
    # uvicorn exits by re-raising the signal once it has shut down cleanly.
    assert process.wait(timeout=20) in (0, -signal.SIGTERM)
    # And no new connection is accepted once it stopped.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
