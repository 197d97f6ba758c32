"""Benchmark: ODR events applied per second with every touched seller's rate kept current.

* ours: ``metrics.handlers.apply_batch`` on real PostgreSQL, transactions of ``--batch`` events
  (the live consumer's unit), each batch also recomputing and storing the touched sellers'
  health and enqueueing their events;
* baseline: plain asyncpg replaying exactly the statements ours sent (recorded), with the same
  transaction boundaries: the floor of the SQL itself, with no Python domain work;
* one transaction per event: ours with batches of one (what batching saves).

Then p50/p99 latency of reading a seller's health through the read API, on a database seeded
with 1,000,000 orders across 10,000 sellers (daily counts and health rows).

    .venv/bin/python -m bench.metrics_throughput [--events 20000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from asgi_lifespan import LifespanManager

from bench import report
from contracts.envelope import Payload, wrap
from contracts.orders import FeedbackPosted
from metrics import handlers, odr, store
from metrics.app import create_app
from metrics.settings import MetricsSettings
from servicekit import postgres
from servicekit.auth import TokenGrant
from tests.support.clocks import WALL_CLOCK
from tests.support.kafka import kafka_from_env, kafka_settings
from tests.unit.adjudication.builders import placed

try:
    from servicekit.delivery import Delivered
except ImportError:  # the code before the move to faststream (83f346d), measured beside it
    from servicekit.consumer import Delivered  # type: ignore[attr-defined]

DAY = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SETTINGS = odr.default_settings()


class Recording:
    """An asyncpg connection that records the statements it runs (for the baseline)."""

    def __init__(self, conn: asyncpg.Connection, log: list[tuple[str, str, tuple[Any, ...]]]):
        self._conn, self._log = conn, log

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._conn, name)
        if name not in ("fetch", "fetchval", "fetchrow", "execute", "executemany"):
            return target

        async def recorded(query: str, *args: Any, **kwargs: Any) -> Any:
            self._log.append((name, query, args))
            return await target(query, *args, **kwargs)

        return recorded


def _deliveries(count: int, sellers: int) -> list[Delivered]:
    rng = random.Random(7)  # a reproducible workload, not a secret
    run = uuid.uuid4().hex[:6]
    found: list[Delivered] = []
    for index in range(count):
        seller = f"bench-{run}-s{rng.randrange(sellers)}"
        order = f"bench-{run}-o{index}"
        day = DAY - timedelta(days=rng.randrange(60))
        payload: Payload = placed(order_id=order, seller_id=seller, placed_at=day)
        if rng.random() < 0.02:
            payload = FeedbackPosted(
                order_id=order, seller_id=seller, feedback_id=f"f{index}", posted_at=day, rating=1
            )
        found.append(
            Delivered(
                "orders.v1", 0, index, None, wrap(payload, source="/b", subject="s", time=day), DAY
            )
        )
    return found


async def _fresh_pool(admin_url: str) -> tuple[asyncpg.Pool, str]:
    name = "bench_m_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    pool = await postgres.create_pool(admin_url.rsplit("/", 1)[0] + "/" + name, max_size=4)
    await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
    return pool, name


async def _drop(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def _ours(
    admin_url: str,
    events: list[Delivered],
    batch: int,
    record: list[list[tuple[str, str, tuple[Any, ...]]]] | None,
) -> float:
    pool, name = await _fresh_pool(admin_url)
    try:
        began = time.perf_counter()
        for start in range(0, len(events), batch):
            async with pool.acquire() as conn, conn.transaction():
                log: list[tuple[str, str, tuple[Any, ...]]] = []
                target: Any = Recording(conn, log) if record is not None else conn
                await handlers.apply_batch(
                    target,
                    events[start : start + batch],
                    settings=SETTINGS,
                    timekeeper=WALL_CLOCK,
                    as_of=DAY.date(),
                )
                if record is not None:
                    record.append(log)
        return len(events) / (time.perf_counter() - began)
    finally:
        await pool.close()
        await _drop(admin_url, name)


async def _replay(
    admin_url: str, transactions: list[list[tuple[str, str, tuple[Any, ...]]]], events: int
) -> float:
    pool, name = await _fresh_pool(admin_url)
    try:
        began = time.perf_counter()
        for statements in transactions:
            async with pool.acquire() as conn, conn.transaction():
                for method, query, args in statements:
                    await getattr(conn, method)(query, *args)
        return events / (time.perf_counter() - began)
    finally:
        await pool.close()
        await _drop(admin_url, name)


async def _read_latency(admin_url: str, orders: int, sellers: int, reads: int) -> dict[str, Any]:
    pool, name = await _fresh_pool(admin_url)
    try:
        per_seller = orders // sellers
        days_rows, health_rows = [], []
        for s in range(sellers):
            seller = f"seller-{s}"
            for d in range(60):
                count = per_seller // 60 + (1 if d < per_seller % 60 else 0)
                if count:
                    days_rows.append(
                        (
                            seller,
                            "seller_fulfilled",
                            DAY.date() - timedelta(days=d),
                            count,
                            int(s % 50 == 0),
                            0,
                            int(s % 50 == 0),
                            0,
                        )
                    )
            health = {"seller_id": seller, "status": "NORMAL", "combined": {"orders": per_seller}}
            health_rows.append((seller, DAY.date(), per_seller, 0, 0, "NORMAL", json.dumps(health)))
        async with pool.acquire() as conn:
            await conn.copy_records_to_table("seller_days", records=days_rows)
            await conn.executemany(
                "INSERT INTO seller_health (seller_id, as_of, orders, defective, rate, status,"
                " health) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
                health_rows,
            )
            await conn.execute("ANALYZE")
        token = "bench-reader"
        grant = TokenGrant(
            sha256=hashlib.sha256(token.encode()).hexdigest(), role="reviewer", subject="bench"
        )
        app = create_app(
            MetricsSettings(
                database_url=admin_url.rsplit("/", 1)[0] + "/" + name,
                **kafka_settings(kafka_from_env()),
                tokens=(grant,),
                log_format="json",
                log_level="warning",
            )
        )
        latencies = []
        rng = random.Random(3)  # reproducible choice of sellers
        async with (
            LifespanManager(app, startup_timeout=60),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://m"
            ) as client,
        ):
            for _ in range(reads):
                seller = f"seller-{rng.randrange(sellers)}"
                began = time.perf_counter()
                response = await client.get(
                    f"/v1/sellers/{seller}/health", headers={"Authorization": f"Bearer {token}"}
                )
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(response.text)
        latencies.sort()
        return {
            "orders": orders,
            "sellers": sellers,
            "reads": reads,
            "days_rows": len(days_rows),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        }
    finally:
        await pool.close()
        await _drop(admin_url, name)


async def _main(events: int, batch: int) -> dict[str, Any]:
    admin_url = os.environ.get(
        "PLATFORM_POSTGRES_URL", "postgresql://atoz:atoz@127.0.0.1:5433/postgres"
    )
    workload = _deliveries(events, sellers=200)
    recorded: list[list[tuple[str, str, tuple[Any, ...]]]] = []
    ours = await _ours(admin_url, workload, batch, recorded)
    baseline = await _replay(admin_url, recorded, events)
    single = await _ours(admin_url, workload[: max(events // 10, 500)], 1, None)
    reads = await _read_latency(admin_url, 1_000_000, 10_000, 2000)
    return {"ours": ours, "baseline": baseline, "one_transaction_per_event": single, "reads": reads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    report.add_arguments(parser)
    args = parser.parse_args()
    collector = report.collector_as_served()  # as the service is served; both sides share it
    result = asyncio.run(_main(args.events, args.batch))
    ours, baseline = round(result["ours"], 1), round(result["baseline"], 1)
    single = round(result["one_transaction_per_event"], 1)
    written = {
        "name": "metrics_throughput",
        "unit": "ODR events applied per second, rates kept current",
        "ours": ours,
        "baseline": baseline,
        "ratio": round(ours / baseline, 3),
        "one_transaction_per_event": single,
        "batching_gain": round(ours / single, 1),
        "batch": args.batch,
        "collector": collector,
        "events": args.events,
        "read_latency": result["reads"],
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} cores",
    }
    report.write(written, args)
    print(
        f"ours {ours}/s, plain asyncpg {baseline}/s (ratio {written['ratio']}), one transaction"
        f" per event {single}/s (batching x{written['batching_gain']}); health read p50 "
        f"{result['reads']['p50_ms']} ms, p99 {result['reads']['p99_ms']} ms"
    )


if __name__ == "__main__":
    main()
