"""Benchmark: claims adjudicated per second end to end, against a database-free floor.

ours: the adjudication service's pipeline (exactly-once batch consumer, rules, claims and
history and outbox in PostgreSQL, offsets committed after, outbox relayed to Kafka): from the
moment it starts on a backlog of N ``claim.file`` commands (their orders' facts already
applied) until N ``claim.action_required`` events are on ``claims.events.v1``.

baseline: a plain aiokafka loop over the same N commands that makes the same pydantic calls
(decode the command, build ``claim.filed`` and ``claim.action_required``, encode them) and
produces the events (idempotent, acks=all) to a scratch topic, with no database.

Then p50/p99 decision latency (command produced -> decision event seen) at half of our rate.

    .venv/bin/python -m bench.adjudication_throughput [--claims 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from asgi_lifespan import LifespanManager

from adjudication.app import create_app
from adjudication.settings import AdjudicationSettings
from contracts import codec
from contracts.claims import ClaimActionRequired, ClaimDeadlines, ClaimFiled, ClaimState
from contracts.envelope import Payload, wrap
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_from_env, kafka_settings, skip_to_end
from tests.unit.adjudication.builders import (
    ESTIMATED_DELIVERY,
    filing,
    placed,
    shipped,
)

RESULTS = Path(__file__).parent / "results"
FILED = ESTIMATED_DELIVERY + timedelta(days=3)
LATENCY_SECONDS = 10
LATENCY_ORDERS = 5000


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


async def _produce(producer: AIOKafkaProducer, payloads: list[Payload], at: datetime) -> None:
    futures = []
    for payload in payloads:
        topic = CLAIMS_COMMANDS if payload.type.startswith("claim.") else ORDERS
        envelope = wrap(payload, source="/bench", subject=payload.order_id, time=at)  # type: ignore[attr-defined]
        futures.append(
            await producer.send(
                topic.name, codec.encode(envelope), key=codec.message_key(topic, envelope)
            )
        )
    await asyncio.gather(*futures)


def _order(index: int, run: str) -> tuple[list[Payload], Payload]:
    order_id = f"bench-{run}-{index}"
    # The buyer's contact travels in the filing, not as an order fact: a contact fact would
    # (rightly) arm the platform's automatic filing, which is not what is measured here.
    facts: list[Payload] = [
        p.model_copy(update={"order_id": order_id}) for p in (placed(), shipped())
    ]
    command = filing().model_copy(update={"order_id": order_id, "claim_id": f"clm-{run}-{index}"})
    return facts, command


async def _count_events(
    kafka: KafkaAccess, start: dict[TopicPartition, int], *, wanted: int, run: str, kind: str
) -> float:
    """Seconds until ``wanted`` events of ``kind`` for this run's claims have been read."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    seen = 0
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        while seen < wanted:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                for record in records:
                    if kind.encode() in record.value and run.encode() in record.value:
                        seen += 1
        return time.perf_counter()
    finally:
        await consumer.stop()


async def _ends(kafka: KafkaAccess, topic: str, partitions: int) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        return {p: await consumer.position(p) for p in parts}
    finally:
        await consumer.stop()


async def _ours(kafka: KafkaAccess, postgres: str, claims: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    database = f"bench_{run}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = postgres.rsplit("/", 1)[0] + "/" + database
    group = f"bench-adjudication-{run}"
    await skip_to_end(kafka, group, [ORDERS.name, CLAIMS_COMMANDS.name])
    # Event time: deadlines follow the input (72 h after filing is not reached here).
    settings = AdjudicationSettings(
        **kafka_settings(kafka),
        database_url=url,
        consumer_group=group,
        log_format="json",
        log_level="warning",
        database_pool_size=10,
        clock="event",
    )
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    orders = [_order(i, run) for i in range(claims)]
    # Orders for the latency phase, whose commands are paced instead of backlogged.
    paced = [_order(claims + i, run) for i in range(LATENCY_ORDERS)]
    try:
        # Facts first, applied by a first run of the service (not timed).
        await _produce(
            producer,
            [f for facts, _ in orders + paced for f in facts],
            FILED - timedelta(days=4),
        )
        async with LifespanManager(create_app(settings), startup_timeout=60):
            conn = await asyncpg.connect(url)
            while await conn.fetchval("SELECT count(*) FROM order_facts") < len(orders + paced):  # noqa: ASYNC110  # polls another process's progress
                await asyncio.sleep(0.2)
            await conn.close()
        # The backlog of commands, then the service again, timed until every decision is out.
        await _produce(producer, [command for _, command in orders], FILED)
        start = await _ends(kafka, CLAIMS_EVENTS.name, CLAIMS_EVENTS.partitions)
        began = time.perf_counter()
        counting = asyncio.create_task(
            _count_events(kafka, start, wanted=claims, run=run, kind="claim.action_required")
        )
        async with LifespanManager(create_app(settings), startup_timeout=60):
            finished = await counting
            elapsed = finished - began
            # Then commands at half that rate: time from producing each to its decision.
            latencies = await _paced_latencies(
                kafka, producer, [c for _, c in paced], rate=claims / elapsed / 2
            )
    finally:
        await producer.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    ordered = sorted(latencies)
    return {
        "claims": claims,
        "seconds": round(elapsed, 2),
        "claims_per_second": round(claims / elapsed, 1),
        "half_load_rate": round(claims / elapsed / 2, 1),
        "half_load_claims": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 1),
    }


async def _paced_latencies(
    kafka: KafkaAccess, producer: AIOKafkaProducer, commands: list[Payload], *, rate: float
) -> list[float]:
    """Produce ``commands`` at ``rate`` for up to LATENCY_SECONDS; seconds from each send to
    its ``claim.action_required`` on ``claims.events.v1``."""
    count = min(len(commands), int(rate * LATENCY_SECONDS))
    sent: dict[str, float] = {}
    start = await _ends(kafka, CLAIMS_EVENTS.name, CLAIMS_EVENTS.partitions)
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    consumer.assign(list(start))
    for partition, offset in start.items():
        consumer.seek(partition, offset)
    latencies: list[float] = []

    async def receive() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=500)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    if b"claim.action_required" not in record.value:
                        continue
                    claim_id = json.loads(record.value)["data"]["claim_id"]
                    if claim_id in sent:
                        latencies.append(now - sent[claim_id])

    receiving = asyncio.create_task(receive())
    began = time.perf_counter()
    for index, command in enumerate(commands[:count]):
        due = began + index / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        envelope = wrap(command, source="/bench", subject=command.order_id, time=FILED)  # type: ignore[attr-defined]
        sent[command.claim_id] = time.perf_counter()  # type: ignore[attr-defined]
        await producer.send(
            CLAIMS_COMMANDS.name,
            codec.encode(envelope),
            key=codec.message_key(CLAIMS_COMMANDS, envelope),
        )
    try:
        await asyncio.wait_for(receiving, timeout=60)
    finally:
        await consumer.stop()
    return latencies


async def _baseline(kafka: KafkaAccess, claims: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    scratch = f"bench.scratch.{run}"
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    await admin.create_topics([NewTopic(scratch, CLAIMS_EVENTS.partitions, 1)])
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    start = await _ends(kafka, CLAIMS_COMMANDS.name, CLAIMS_COMMANDS.partitions)
    await _produce(producer, [_order(i, run)[1] for i in range(claims)], FILED)
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    consumer.assign(list(start))
    for partition, offset in start.items():
        consumer.seek(partition, offset)
    done = 0
    began = time.perf_counter()
    try:
        while done < claims:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            futures = []
            for records in batch.values():
                for record in records:
                    envelope = codec.decode(CLAIMS_COMMANDS, record.value)
                    command = envelope.data
                    if run not in command.order_id:
                        continue
                    state = ClaimState(
                        claim_id=command.claim_id,
                        order_id=command.order_id,
                        seller_id="seller-acme",
                        buyer_id=command.buyer_id,
                        reason=command.reason,
                        amount=command.amount,
                        filed_by=command.filed_by,
                        filed_at=envelope.time,
                        status="filed",
                        counts_toward_odr=True,
                        version=1,
                    )
                    respond_by = envelope.time + timedelta(hours=72)
                    acting = state.model_copy(
                        update={
                            "status": "action_required",
                            "version": 2,
                            "deadlines": ClaimDeadlines(respond_by=respond_by),
                        }
                    )
                    events = [
                        ClaimFiled(
                            claim_id=state.claim_id,
                            order_id=state.order_id,
                            claim=state,
                            description=command.description,
                        ),
                        ClaimActionRequired(
                            claim_id=state.claim_id,
                            order_id=state.order_id,
                            claim=acting,
                            respond_by=respond_by,
                        ),
                    ]
                    for event in events:
                        out = wrap(
                            event, source="/bench", subject=state.claim_id, time=envelope.time
                        )
                        futures.append(
                            await producer.send(
                                scratch,
                                codec.encode(out),
                                key=codec.message_key(CLAIMS_EVENTS, out),
                            )
                        )
                    done += 1
            await asyncio.gather(*futures)
        elapsed = time.perf_counter() - began
    finally:
        await consumer.stop()
        await producer.stop()
        await admin.delete_topics([scratch])
        await admin.close()
    return {
        "claims": claims,
        "seconds": round(elapsed, 2),
        "claims_per_second": round(claims / elapsed, 1),
    }


async def _main(claims: int) -> dict[str, Any]:
    kafka = kafka_from_env()
    postgres = _env("PLATFORM_POSTGRES_URL", "postgresql://atoz:atoz@127.0.0.1:5433/postgres")
    baseline = await _baseline(kafka, claims)
    ours = await _ours(kafka, postgres, claims)
    return {"ours": ours, "baseline": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=5000)
    args = parser.parse_args()
    result = asyncio.run(_main(args.claims))
    ours, baseline = result["ours"]["claims_per_second"], result["baseline"]["claims_per_second"]
    report = {
        "name": "adjudication_throughput",
        "unit": "claims adjudicated per second (command in, decision out, state committed)",
        "ours": ours,
        "baseline": baseline,
        "ratio": round(ours / baseline, 3),
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} cores",
        "details": result,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "adjudication_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"ours {ours}/s, baseline {baseline}/s, ratio {ours / baseline:.3f}; at half load "
        f"p50 {result['ours']['p50_ms']} ms, p99 {result['ours']['p99_ms']} ms"
    )


if __name__ == "__main__":
    main()
