"""Benchmark: order facts absorbed by 1 and by 2 replicas of each consuming service, in one run.

For adjudication, then metrics, and for 1 then 2 replicas of it: a fresh database and consumer
group (placed at the end of its input topics), the facts of N new orders
(``bench.order_facts``'s mix) produced, then the replicas started together on that backlog as
the launcher starts them (``python -m <service>``, each its own process, port and log), as a
deployment scaled out to catch up would. The figure is records per second from the group's
first offset commit until its committed offsets reach the end (each commit follows its batch's
PostgreSQL transaction); the group's join and any rebalance while the replicas arrive count.

While it runs, the service's database sessions are sampled every 20 ms: the **lock-wait
share** is the share of samples of a session busy with a statement that found it waiting
for a lock (a row, a seller's stripe, an advisory lane), which is what replicas cost each
other.

    .venv/bin/python -m bench.scale [--orders 8000] [--sellers 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench import order_facts, report
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, Topic
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_from_env, kafka_settings, skip_to_end

INPUTS: dict[str, list[Topic]] = {
    "adjudication": [ORDERS, CLAIMS_COMMANDS],
    "metrics": [ORDERS, CLAIMS_EVENTS],
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(service: str, kafka: KafkaAccess, database_url: str, group: str) -> dict[str, str]:
    prefix = service.upper() + "_"
    settings: dict[str, Any] = {
        **kafka_settings(kafka),
        "database_url": database_url,
        "consumer_group": group,
        "log_format": "json",
        "log_level": "warning",
    }
    if service == "adjudication":
        settings["automatic_filing"] = "false"
    return {prefix + key.upper(): str(v) for key, v in settings.items() if v is not None}


class Replicas:
    """``count`` processes of ``service``, as the launcher runs them."""

    def __init__(self, service: str, count: int, env: dict[str, str], logs: Path) -> None:
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ports = [_free_port() for _ in range(count)]
        for replica, port in enumerate(self.ports, start=1):
            log = (logs / f"{service}-{replica}.log").open("ab")
            self.processes.append(
                subprocess.Popen(  # noqa: S603  # our own interpreter and module
                    [sys.executable, "-m", service],
                    env={**os.environ, **env, f"{service.upper()}_HTTP_PORT": str(port)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def check(self) -> None:
        """Raise if a replica has exited (its log says why)."""
        if any(process.poll() is not None for process in self.processes):
            raise RuntimeError(f"a replica exited: see {self.logs}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _sample_locks(database_url: str, stop: asyncio.Event) -> dict[str, int]:
    """Samples of the service's busy sessions, and of those waiting for a lock."""
    counts = {"busy": 0, "waiting_for_lock": 0}
    conn = await asyncpg.connect(database_url)
    try:
        while not stop.is_set():
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE state = 'active') AS busy,"
                " count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock') AS locked"
                " FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            counts["busy"] += int(row["busy"])
            counts["waiting_for_lock"] += int(row["locked"])
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return counts


async def _phase(
    kafka: KafkaAccess, postgres: str, service: str, *, count: int, orders: int, sellers: int,
    logs: Path, within: float,
) -> dict[str, Any]:  # fmt: skip
    run = uuid.uuid4().hex[:8]
    group, name = f"{service}-scale-{run}", f"bench_scale_{service[:3]}_{run}"
    topics = INPUTS[service]
    await skip_to_end(kafka, group, [topic.name for topic in topics])
    database_url = await order_facts._database(postgres, name)
    start = await order_facts._ends(kafka, topics)
    mix = await order_facts._produce(kafka, orders, sellers, prefix=f"sc{run}")
    end = await order_facts._ends(kafka, topics)
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_locks(database_url, stop))
    # All replicas start together on the backlog, as a scaled-out deployment catching up would.
    replicas = Replicas(service, count, _environment(service, kafka, database_url, group), logs)
    try:
        absorbed = await order_facts.committed_rate(
            kafka, group, start, end, alive=replicas.check, within=within
        )
    finally:
        stop.set()
        replicas.stop()
        locks = await sampler
        await order_facts._drop(postgres, name)
    share = locks["waiting_for_lock"] / locks["busy"] if locks["busy"] else 0.0
    return {
        **absorbed,
        "replicas": count,
        "records_produced": sum(mix.values()),
        "lock_wait_share": round(share, 3),
        "busy_session_samples": locks["busy"],
    }


async def main(orders: int, sellers: int, within: float) -> dict[str, Any]:
    kafka = kafka_from_env()
    postgres = order_facts._postgres_url()
    phases: dict[str, dict[str, Any]] = {}
    logs = Path(tempfile.mkdtemp(prefix="bench-scale-"))  # kept when a phase fails
    for service in INPUTS:
        for count in (1, 2):
            phases[f"{service}_x{count}"] = await _phase(
                kafka, postgres, service, count=count, orders=orders, sellers=sellers,
                logs=logs, within=within,
            )  # fmt: skip
    shutil.rmtree(logs)
    return {
        "name": "scale",
        "unit": "order-fact records absorbed per second (offsets committed after the state)",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} cores",
        "orders": orders,
        "sellers": sellers,
        **phases,
        **{
            f"ratio_{service}": round(
                phases[f"{service}_x2"]["per_second"] / phases[f"{service}_x1"]["per_second"], 3
            )
            for service in INPUTS
        },
    }


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=8000)
    parser.add_argument("--sellers", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a phase may take")
    report.add_arguments(parser)
    args = parser.parse_args(argv)
    result = asyncio.run(main(args.orders, args.sellers, args.timeout))
    path = report.write(result, args)
    json.dump(result, sys.stdout, indent=2)
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
