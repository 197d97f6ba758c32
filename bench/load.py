"""A small HTTP/1.1 load generator on raw asyncio streams (keep-alive, no client library).

A client library's own overhead would share the 2 cores with the server under test; this one
writes pre-built request bytes and reads just enough of each answer to find its status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    def ok(self, status: int = 202) -> int:
        return self.statuses.get(status, 0)

    def rate(self, status: int = 202) -> float:
        return self.ok(status) / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def post_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: bench", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]  # fmt: skip
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> int:  # fmt: skip
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def single(port: int, request: bytes) -> int:
    """Send one request on a fresh connection; its status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await _exchange(reader, writer, request)
    finally:
        writer.close()


async def closed_loop(port: int, make_request: Callable[[int], bytes], connections: int,
                      seconds: float) -> LoadResult:  # fmt: skip
    """Each connection sends its next request as soon as the last one is answered."""
    result = LoadResult()
    stop_at = time.perf_counter() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                counter += 1
                started = time.perf_counter()
                status = await _exchange(reader, writer, make_request(counter))
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.sent += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.elapsed = time.perf_counter() - started
    return result


async def open_loop(port: int, make_request: Callable[[int], bytes], rate: float,
                    seconds: float, connections: int = 64) -> LoadResult:  # fmt: skip
    """Requests start on a fixed schedule whatever the answers' pace (no coordinated omission):
    latency is measured from when each request was due, not when a connection was free."""
    result = LoadResult()
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    begin = time.perf_counter()

    async def scheduler() -> None:
        for index in range(total):
            due = begin + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((index, due))
        for _ in range(connections):
            queue.put_nowait((-1, 0.0))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                index, due = await queue.get()
                if index < 0:
                    return
                status = await _exchange(reader, writer, make_request(index))
                result.latencies.append(time.perf_counter() - due)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.sent += 1
        finally:
            writer.close()

    await asyncio.gather(scheduler(), *(worker() for _ in range(connections)))
    result.elapsed = time.perf_counter() - begin
    return result
