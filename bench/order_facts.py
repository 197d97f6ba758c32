"""Benchmark: order facts absorbed per second, by adjudication and by metrics, against a plain
aiokafka consumer decoding the same records with the contracts (issue #14's volume path).

Order facts are the platform's volume: every order sends three to five, and both consuming
services must absorb all of them (a claim may come 90 days later). This produces N orders'
facts, the real mix (placed; shipped; delivered or, rarely, a failed delivery; some buyers
writing to the seller and some answers; feedback; a few refunds; and a claim for one order in
two hundred), in time order, to ``orders.v1`` and ``claims.commands.v1``, then times, one after
the other on the same records:

- **adjudication** (its ``create_app``, in-process, a fresh database and consumer group): from
  its group's first offset commit until its committed offsets reach the end of every partition
  (each commit follows the batch's PostgreSQL transaction: state committed);
- **metrics**, the same, on ``orders.v1`` and the claim events adjudication emitted;
- **baseline**: a plain aiokafka consumer (no group) reading the same partitions from the same
  offsets and decoding every record with ``contracts.codec.decode`` (pydantic), from its first
  record to the end; and the same reading with ``orjson.loads`` only, for scale.

Start-up and the first batch are left out of the services' figures (the clock starts at their
first commit), so a group join does not count as slowness.

    .venv/bin/python -m bench.order_facts [--orders 20000] [--sellers 500] [--timeout 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager

from adjudication.app import create_app as adjudication_app
from adjudication.settings import AdjudicationSettings
from bench import report
from contracts import codec
from contracts.base import PositiveMoney
from contracts.claims import Actor, FileClaim, SellerContact
from contracts.envelope import Payload, wrap
from contracts.orders import (
    BuyerContactedSeller,
    FeedbackPosted,
    OrderDeliveryFailed,
    OrderRefunded,
    SellerReplied,
)
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, Topic
from metrics.app import create_app as metrics_app
from metrics.settings import MetricsSettings
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_from_env, kafka_settings
from tests.unit.adjudication.builders import delivered, placed, shipped

RESULT = Path(__file__).parent / "results" / "order_facts.json"
Ends = dict[TopicPartition, int]


def _facts_of(
    index: int, seller: str, start: datetime, rng: random.Random, prefix: str = "of"
) -> list[Payload]:
    """One order's facts, as a marketplace sends them (the shares are rough but realistic)."""
    order_id, buyer = f"{prefix}-{index}", f"buyer-{index % 7919}"
    ids = {"order_id": order_id, "seller_id": seller}
    at = start + timedelta(minutes=index)
    facts: list[Payload] = [
        placed(
            **ids,
            buyer_id=buyer,
            placed_at=at,
            ship_by=at + timedelta(days=2),
            estimated_delivery_min=at + timedelta(days=3),
            estimated_delivery_max=at + timedelta(days=5),
        ),
        shipped(**ids, shipped_at=at + timedelta(days=1)),
    ]
    if rng.random() < 0.02:
        facts.append(
            OrderDeliveryFailed(
                order_id=order_id,
                seller_id=seller,
                shipment_id="shp-1",
                failed_at=at + timedelta(days=4),
                failure="lost",
                returning_to_seller=False,
            )
        )
    else:
        facts.append(delivered(**ids, delivered_at=at + timedelta(days=4)))
    if rng.random() < 0.05:
        contact = f"msg-{index}"
        facts.append(
            BuyerContactedSeller(
                order_id=order_id, seller_id=seller, contact_id=contact, buyer_id=buyer,
                contacted_at=at + timedelta(days=5),
                topic="not_as_described",
            )
        )  # fmt: skip
        if rng.random() < 0.8:
            facts.append(
                SellerReplied(
                    order_id=order_id,
                    seller_id=seller,
                    contact_id=contact,
                    replied_at=at + timedelta(days=5, hours=6),
                )
            )
    if rng.random() < 0.1:
        facts.append(
            FeedbackPosted(
                order_id=order_id,
                seller_id=seller, feedback_id=f"fb-{index}", posted_at=at + timedelta(days=6),
                rating=rng.choice((1, 2, 4, 5, 5, 5)),
            )
        )  # fmt: skip
    if rng.random() < 0.01:
        facts.append(
            OrderRefunded(
                order_id=order_id,
                seller_id=seller, refund_id=f"rf-{index}", refunded_at=at + timedelta(days=7),
                amount=PositiveMoney(amount=Decimal("100.00"), currency="EUR"),
                initiated_by="seller",
            )
        )  # fmt: skip
    if index % 200 == 0:
        contact = f"nr-{index}"
        facts.append(
            BuyerContactedSeller(
                order_id=order_id, seller_id=seller, contact_id=contact, buyer_id=buyer,
                contacted_at=at + timedelta(days=6),
                topic="not_received",
            )
        )  # fmt: skip
        facts.append(
            FileClaim(
                claim_id=f"clm-{order_id}", order_id=order_id,
                actor=Actor(role="buyer", subject=buyer), buyer_id=buyer,
                reason="not_received",
                amount=PositiveMoney(amount=Decimal("100.00"), currency="EUR"),
                description="Never arrived.", filed_by="buyer",
                contact=SellerContact(contact_id=contact, contacted_at=at + timedelta(days=6)),
            )
        )  # fmt: skip
    return facts


def _when(payload: Payload) -> datetime:
    for name in ("placed_at", "shipped_at", "delivered_at", "failed_at", "contacted_at",
                 "replied_at", "posted_at", "refunded_at"):  # fmt: skip
        value = getattr(payload, name, None)
        if isinstance(value, datetime):
            return value
    contact = getattr(payload, "contact", None)
    assert contact is not None  # noqa: S101  # a filing states its contact
    return contact.contacted_at + timedelta(hours=1)  # type: ignore[no-any-return]


async def _produce(
    kafka: KafkaAccess, orders: int, sellers: int, *, prefix: str = "of"
) -> dict[str, int]:
    """Produce ``orders`` orders' facts (order ids ``<prefix>-<n>``); the count of each type."""
    rng = random.Random(14)  # a benchmark's mix, not a secret
    start = datetime.now(UTC) - timedelta(days=45)
    stream = [
        fact
        for index in range(orders)
        for fact in _facts_of(index, f"of-seller-{index % sellers}", start, rng, prefix)
    ]
    stream.sort(key=_when)  # the order the world sends them in
    counts: dict[str, int] = {}
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all",
                                linger_ms=20, max_batch_size=262_144)  # fmt: skip
    await producer.start()
    try:
        pending = []
        for payload in stream:
            topic = CLAIMS_COMMANDS if payload.type.startswith("claim.") else ORDERS
            envelope = wrap(payload, source="/bench", subject=payload.order_id, time=_when(payload))  # type: ignore[attr-defined]
            value = codec.encode(envelope)
            key = codec.message_key(topic, envelope)
            pending.append(await producer.send(topic.name, value, key=key))
            counts[payload.type] = counts.get(payload.type, 0) + 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return counts


async def _ends(kafka: KafkaAccess, topics: list[Topic]) -> Ends:
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        return {p: await consumer.position(p) for p in parts}
    finally:
        await consumer.stop()


async def _commit_at(kafka: KafkaAccess, group: str, offsets: Ends) -> None:
    """Start ``group`` at ``offsets`` (a fresh group for each round, on the same records)."""
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()


async def _committed(admin: AIOKafkaAdminClient, group: str, parts: Ends) -> dict[Any, int]:
    offsets = await admin.list_consumer_group_offsets(group, partitions=list(parts))
    return {tp: (meta.offset if meta.offset >= 0 else 0) for tp, meta in offsets.items()}


async def _absorb(
    kafka: KafkaAccess, group: str, start: Ends, end: Ends, app: Any, *, within: float
) -> dict[str, float]:
    """Serve ``app`` until ``group`` has committed ``end``; records/s from its first commit."""
    stop = asyncio.Event()
    service = asyncio.create_task(_serve(app, stop))

    def alive() -> None:
        if service.done():
            service.result()  # raises what stopped it
            raise RuntimeError("the service stopped before absorbing the records")

    try:
        return await committed_rate(kafka, group, start, end, alive=alive, within=within)
    finally:
        stop.set()  # a graceful stop: the service's lifespan ends as in production
        await asyncio.gather(service, return_exceptions=True)


async def committed_rate(
    kafka: KafkaAccess,
    group: str,
    start: Ends,
    end: Ends,
    *,
    alive: Callable[[], None],
    within: float,
) -> dict[str, float]:
    """Wait until ``group`` has committed ``end`` (``alive`` raises if what consumes died);
    records/s from its first commit (a group's join is not counted as slowness)."""
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    total = sum(end[p] - start[p] for p in end)
    first: tuple[float, int] | None = None
    cpu = 0.0
    deadline = time.perf_counter() + within
    try:
        while True:
            alive()
            committed = await _committed(admin, group, end)
            done = sum(max(committed.get(p, 0) - start[p], 0) for p in end)
            now = time.perf_counter()
            if first is None and done > 0:
                first, cpu = (now, done), time.process_time()
            if done >= total and first is not None:
                seconds = now - first[0]
                # This process's CPU over the same span: how much of it Python was busy.
                busy = (time.process_time() - cpu) / seconds
                return {"records": total, "seconds": round(seconds, 2),
                        "per_second": round((total - first[1]) / seconds, 1),
                        "process_cpu_share": round(busy, 2)}  # fmt: skip
            if now > deadline:
                raise RuntimeError(f"{group}: {done} of {total} records after {within:.0f} s")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def _serve(app: Any, stop: asyncio.Event) -> None:
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=120):
        await stop.wait()


async def _plain(kafka: KafkaAccess, start: Ends, end: Ends, *, decode: bool) -> dict[str, float]:
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False,
                                max_partition_fetch_bytes=4 << 20)  # fmt: skip
    await consumer.start()
    try:
        consumer.assign(list(end))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        total, read, began = sum(end[p] - start[p] for p in end), 0, 0.0
        while read < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            began = began or time.perf_counter()
            for partition, records in batch.items():
                for record in records:
                    if decode:
                        codec.decode(partition.topic, record.value or b"")
                    else:
                        orjson.loads(record.value or b"")
                read += len(records)
        seconds = time.perf_counter() - began
        return {"records": total, "seconds": round(seconds, 2),
                "per_second": round(total / seconds, 1)}  # fmt: skip
    finally:
        await consumer.stop()


async def _database(postgres: str, name: str) -> str:
    admin = await asyncpg.connect(postgres)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return postgres.rsplit("/", 1)[0] + "/" + name


async def _drop(postgres: str, *names: str) -> None:
    admin = await asyncpg.connect(postgres)
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _round(
    kafka: KafkaAccess, postgres: str, common: dict[str, Any], ends: tuple[Ends, Ends],
    *, within: float,
) -> dict[str, Any]:  # fmt: skip
    """One round on the records between ``ends``: the decoding consumer, then adjudication and
    metrics, each with a fresh database and consumer group."""
    adjudication_in, adjudication_end = ends
    run = uuid.uuid4().hex[:8]
    groups = {"adjudication": f"adjudication-of-{run}", "metrics": f"metrics-of-{run}"}
    names = (f"bench_adj_{run}", f"bench_met_{run}")
    # Metrics reads the facts and the claim events this round's adjudication emits.
    events_start = await _ends(kafka, [CLAIMS_EVENTS])
    metrics_start = {p: o for p, o in adjudication_in.items() if p.topic == ORDERS.name}
    metrics_start |= events_start
    await _commit_at(kafka, groups["adjudication"], adjudication_in)
    await _commit_at(kafka, groups["metrics"], metrics_start)
    result: dict[str, Any] = {}
    try:
        # The consumer before and after the services, averaged: a round's drift counts
        # on both sides (one pass takes a second; the services take several).
        before = await _plain(kafka, *ends, decode=True)
        settings = AdjudicationSettings(
            **common, database_url=await _database(postgres, names[0]),
            consumer_group=groups["adjudication"],
        )  # fmt: skip
        # No automatic filings: the claims here are the ones produced.
        adjudication = adjudication_app(
            settings, policy=replace(settings.policy(), automatic_filing=False)
        )
        result["adjudication"] = await _absorb(
            kafka, groups["adjudication"], adjudication_in, adjudication_end,
            adjudication, within=within,
        )  # fmt: skip
        metrics_end = {p: o for p, o in adjudication_end.items() if p.topic == ORDERS.name}
        metrics_end |= await _ends(kafka, [CLAIMS_EVENTS])
        metrics = metrics_app(MetricsSettings(
            **common, database_url=await _database(postgres, names[1]),
            consumer_group=groups["metrics"],
        ))  # fmt: skip
        result["metrics"] = await _absorb(
            kafka, groups["metrics"], metrics_start, metrics_end, metrics, within=within
        )
        after = await _plain(kafka, *ends, decode=True)
    finally:
        await _drop(postgres, *names)
    seconds = (before["seconds"] + after["seconds"]) / 2
    result["baseline_pydantic"] = {"records": before["records"], "seconds": round(seconds, 2),
                                   "per_second": round(before["records"] / seconds, 1)}  # fmt: skip
    floor = result["baseline_pydantic"]["per_second"]
    result["ratio_adjudication"] = round(result["adjudication"]["per_second"] / floor, 3)
    result["ratio_metrics"] = round(result["metrics"]["per_second"] / floor, 3)
    return result


async def main(orders: int, sellers: int, within: float, rounds: int) -> dict[str, Any]:
    report.collector_as_served()  # as a served service does; the baseline shares it
    kafka = kafka_from_env()
    postgres = _postgres_url()
    before = await _ends(kafka, [ORDERS, CLAIMS_COMMANDS])
    began = time.perf_counter()
    mix = await _produce(kafka, orders, sellers)
    produced_in = time.perf_counter() - began
    ends = (before, await _ends(kafka, [ORDERS, CLAIMS_COMMANDS]))
    common: dict[str, Any] = {**kafka_settings(kafka), "log_format": "json",
                              "log_level": "warning"}  # fmt: skip
    # The VM's neighbours make single runs vary by a quarter: rounds alternate the consumer
    # and the services on the same records, and the medians are kept.
    runs = [await _round(kafka, postgres, common, ends, within=within) for _ in range(rounds)]
    results: dict[str, Any] = {
        side: _median_by(runs, side, "per_second")
        for side in ("adjudication", "metrics", "baseline_pydantic")
    }
    results["baseline_orjson"] = await _plain(kafka, *ends, decode=False)
    return {
        "name": "order_facts",
        "unit": "records/s",
        "date": datetime.now(UTC).date().isoformat(),
        "orders": orders,
        "sellers": sellers,
        "records": sum(mix.values()),
        "mix": dict(sorted(mix.items())),
        "produced_per_second": round(sum(mix.values()) / produced_in, 1),
        **results,
        "ratio_adjudication": statistics.median(r["ratio_adjudication"] for r in runs),
        "ratio_metrics": statistics.median(r["ratio_metrics"] for r in runs),
        "goal": 0.25,
        "rounds": [
            {k: r[k] if k.startswith("ratio") else r[k]["per_second"] for k in sorted(r)}
            for r in runs
        ],
    }


def _median_by(runs: list[dict[str, Any]], side: str, figure: str) -> dict[str, Any]:
    """The run of ``side`` whose ``figure`` is the median (the lower of the middle two)."""
    ordered = sorted((r[side] for r in runs), key=lambda one: one[figure])
    return dict(ordered[(len(ordered) - 1) // 2])


def _postgres_url() -> str:
    import os  # noqa: PLC0415  # only here: the URL is the one setting read from the environment

    return os.environ.get("PLATFORM_POSTGRES_URL", "postgresql://atoz:atoz@127.0.0.1:5433/postgres")


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--sellers", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a phase may take")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs; medians kept")
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    result = asyncio.run(main(args.orders, args.sellers, args.timeout, args.rounds))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
