"""Benchmark: accepted claim filings per second through intake, against a bare floor.

Both servers run in their own process on the same HTTP stack and publish to the same real Kafka
with the same producer settings, and answer only after Kafka acknowledged. The figure is the
ratio ours / bare. Then each is driven at half its own sustained rate to read p50/p99 latency.

    .venv/bin/python -m bench.intake_filings [--seconds 15] [--connections 32]

Uses PLATFORM_KAFKA_BOOTSTRAP_SERVERS when set, else starts the local launcher's Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.intake_servers import BENCH_TOKEN
from bench.load import LoadResult, closed_loop, open_loop, post_request, single
from contracts.access import ADMIN
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_from_env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _kafka() -> KafkaAccess:
    if os.environ.get("PLATFORM_KAFKA_BOOTSTRAP_SERVERS"):
        return kafka_from_env()
    from devstack import api  # noqa: PLC0415  # only when no Kafka was given

    endpoints = api.start(api.load_config(), postgres=False)
    return KafkaAccess(endpoints.kafka_bootstrap_servers, ADMIN, endpoints.kafka_passwords[ADMIN])


def _requests(count: int = 2000) -> list[bytes]:
    built = []
    for index in range(count):
        body = {
            "order_id": f"bench-order-{index % 1000:04d}",
            "reason": "not_received",
            "amount": {"amount": "49.90", "currency": "EUR"},
            "description": "The parcel never arrived.",
            "contact": {"contacted_at": "2026-03-10T08:00:00+01:00"},
        }
        headers = {"Authorization": f"Bearer {BENCH_TOKEN}"}
        built.append(post_request("/v1/claims", json.dumps(body).encode(), headers))
    return built


async def _wait_until_serving(port: int, request: bytes, within: float = 60.0) -> None:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        try:
            if await single(port, request) == 202:
                return
        except (OSError, asyncio.IncompleteReadError):
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError(f"server on {port} never accepted a filing")


async def _measure(
    kind: str, kafka: KafkaAccess, seconds: float, connections: int
) -> dict[str, Any]:
    port = _free_port()
    command = [sys.executable, "-m", "bench.intake_servers", kind, "--port", str(port)]
    env = os.environ | {
        "PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "PLATFORM_KAFKA_USERNAME": kafka.username or "",
        "PLATFORM_KAFKA_PASSWORD": kafka.password or "",
    }
    # A long-lived child of our own making, stopped below; its arguments are not user input.
    server = subprocess.Popen(  # noqa: S603, ASYNC220
        command, cwd=Path(__file__).parent.parent, stderr=subprocess.DEVNULL, env=env
    )
    requests = _requests()

    def pick(index: int) -> bytes:
        return requests[index % len(requests)]

    try:
        await _wait_until_serving(port, requests[0])
        await closed_loop(port, pick, connections, seconds=3)  # warm-up
        cpu_before = _cpu_seconds(server.pid)
        sustained = await closed_loop(port, pick, connections, seconds)
        cpu_after = _cpu_seconds(server.pid)
        half = sustained.rate() / 2
        paced = await open_loop(port, pick, rate=half, seconds=seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    summary = _summary(kind, sustained, paced, half)
    if cpu_before is not None and cpu_after is not None:
        cpu = cpu_after - cpu_before
        # The server's own CPU time a request under the sustained load: a busy neighbour slows
        # the wall clock (the rate) far more than it changes this.
        summary["cpu_ms_per_request"] = round(
            cpu / max(sum(sustained.statuses.values()), 1) * 1000, 3
        )
    return summary


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of process ``pid`` so far (Linux), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary(kind: str, sustained: LoadResult, paced: LoadResult, half: float) -> dict[str, Any]:
    return {
        "kind": kind,
        "accepted_per_second": round(sustained.rate(), 1),
        "statuses": sustained.statuses,
        "half_load_rate": round(half, 1),
        "half_load_statuses": paced.statuses,
        "p50_ms": round(paced.percentile(0.50) * 1000, 2),
        "p99_ms": round(paced.percentile(0.99) * 1000, 2),
        "p50_ms_at_full_load": round(sustained.percentile(0.50) * 1000, 2),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda run: run["accepted_per_second"])
    return {**ordered[len(ordered) // 2], "all_rounds_per_second":
            [run["accepted_per_second"] for run in runs]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs; medians kept")
    report.add_arguments(parser)
    args = parser.parse_args()
    kafka = _kafka()
    # This machine's neighbours come and go: alternate the two servers over several rounds and
    # keep each one's median, so a noisy minute does not land on one side only.
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "ours": []}
    for _ in range(args.rounds):
        for kind in ("bare", "ours"):
            runs[kind].append(asyncio.run(_measure(kind, kafka, args.seconds, args.connections)))
    bare, ours = _median_run(runs["bare"]), _median_run(runs["ours"])
    for row, kind in ((bare, "bare"), (ours, "ours")):
        row["all_rounds_cpu_ms_per_request"] = [r.get("cpu_ms_per_request") for r in runs[kind]]
    ratio = ours["accepted_per_second"] / bare["accepted_per_second"]
    written = {
        "name": "intake_filings",
        "unit": "accepted filings per second (HTTP in, Kafka acks=all)",
        "ours": ours["accepted_per_second"],
        "baseline": bare["accepted_per_second"],
        "ratio": round(ratio, 3),
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} cores",
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "details": {"ours": ours, "baseline": bare},
    }
    report.write(written, args)
    for row in (bare, ours):
        print(
            f"{row['kind']:>5}: {row['accepted_per_second']:8.1f}/s sustained (median of "
            f"{row['all_rounds_per_second']}); at {row['half_load_rate']:.0f}/s "
            f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms"
        )
    print(f"ratio ours/bare: {ratio:.3f}")


if __name__ == "__main__":
    main()
