"""Benchmark: claims adjudicated per second end to end, against a database-free floor.

ours: the adjudication service's pipeline (exactly-once batch consumer, rules, claims and
history and outbox in PostgreSQL, offsets committed after, outbox relayed to Kafka): from the
moment it starts on a backlog of N ``claim.file`` commands (their orders' facts already
applied) until N ``claim.action_required`` events are on ``claims.events.v1``.

baseline: a plain aiokafka loop over the same N commands that makes the same pydantic calls
(decode the command, build ``claim.filed`` and ``claim.action_required``, encode them) and
produces the events (idempotent, acks=all) to a scratch topic, with no database.

Then p50/p99 decision latency (command produced -> decision event seen) at half of our rate.

Every wait has a deadline (``--timeout`` seconds a phase): a run that cannot finish says what
it saw instead of waiting forever (a claim denied, say, never gets ``claim.action_required``).

    .venv/bin/python -m bench.adjudication_throughput [--claims 5000] [--timeout 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from asgi_lifespan import LifespanManager

from adjudication.app import create_app
from adjudication.settings import AdjudicationSettings
from bench import report
from contracts import codec
from contracts.claims import (
    ClaimActionRequired,
    ClaimDeadlines,
    ClaimFiled,
    ClaimState,
    SellerContact,
)
from contracts.envelope import Payload, wrap
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_from_env, kafka_settings, replication_factor, skip_to_end
from tests.unit.adjudication.builders import (
    CONTACTED,
    ESTIMATED_DELIVERY,
    contacted,
    filing,
    placed,
    shipped,
)

FILED = ESTIMATED_DELIVERY + timedelta(days=3)
LATENCY_SECONDS = 10
LATENCY_ORDERS = 5000
TIMEOUT = 120.0
"""Seconds any one phase may take before the run fails (``--timeout``)."""


class BenchStuckError(Exception):
    """A phase did not finish within its deadline; the message says what was seen."""


def _deadline(seconds: float) -> float:
    return time.perf_counter() + seconds


def _check(deadline: float, what: str) -> None:
    if time.perf_counter() > deadline:
        raise BenchStuckError(what)


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
    """An order's facts and its buyer's filing, admissible as the policy stands: the buyer's
    message to the seller is an order fact (``buyer.contacted_seller``), since a contact the
    buyer only states in the filing no longer counts (c823b0e: every claim was then denied,
    ``contact_seller_first``, and this benchmark waited for decisions that never came). The
    platform's automatic filing, which such a fact arms, is off in the service run here."""
    order_id = f"bench-{run}-{index}"
    contact_id = f"msg-{index}"
    facts: list[Payload] = [
        p.model_copy(update={"order_id": order_id})
        for p in (placed(), shipped(), contacted(contact_id=contact_id))
    ]
    command = filing(
        contact=SellerContact(contact_id=contact_id, contacted_at=CONTACTED)
    ).model_copy(update={"order_id": order_id, "claim_id": f"clm-{run}-{index}"})
    return facts, command


async def _count_decisions(
    kafka: KafkaAccess, start: dict[TopicPartition, int], *, wanted: int, run: str, within: float
) -> tuple[float, float]:
    """The moments the first and the ``wanted``-th ``claim.action_required`` event for this
    run's claims were read. A denial fails the run at once: it will never be admitted."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    seen = 0
    first = 0.0
    deadline = _deadline(within)
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        while seen < wanted:
            _check(deadline, f"{seen} of {wanted} claim.action_required after {within:.0f} s")
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                for record in records:
                    if run.encode() not in record.value:
                        continue
                    if b"claim.action_required" in record.value:
                        seen += 1
                        first = first or time.perf_counter()
                    elif b'"claim.denied"' in record.value:
                        data = json.loads(record.value)["data"]
                        raise BenchStuckError(
                            f"{data['claim_id']} denied ({data['reason']}): the benchmark's "
                            "orders do not meet the policy any more"
                        )
        return first, time.perf_counter()
    finally:
        await consumer.stop()


async def _claims_by_status(url: str) -> str:
    """What the benchmark's database holds, for a failure's message."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT status, resolution, count(*) AS n FROM claims GROUP BY 1, 2 ORDER BY 3 DESC"
        )
        facts = await conn.fetchval("SELECT count(*) FROM order_facts")
    finally:
        await conn.close()
    found = ", ".join(f"{r['n']} {r['status']}/{r['resolution'] or '-'}" for r in rows)
    return f"database: {facts} orders, claims {found or 'none'}"


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


async def _ours(kafka: KafkaAccess, postgres: str, claims: int, within: float) -> dict[str, Any]:
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
    # The platform's automatic filing, which the buyers' messages arm, is off in this run.
    policy = replace(settings.policy(), automatic_filing=False)
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    orders = [_order(i, run) for i in range(claims)]
    # Orders for the latency phase, whose commands are paced instead of backlogged.
    paced = [_order(claims + i, run) for i in range(LATENCY_ORDERS)]
    try:
        # Facts first (stated when the buyer wrote), applied by a first run of the service
        # (not timed).
        await _produce(producer, [f for facts, _ in orders + paced for f in facts], CONTACTED)
        async with LifespanManager(create_app(settings, policy=policy), startup_timeout=60):
            conn = await asyncpg.connect(url)
            deadline = _deadline(within)
            try:
                wanted = len(orders + paced)
                while (n := await conn.fetchval("SELECT count(*) FROM order_facts")) < wanted:
                    _check(deadline, f"{n} of {wanted} orders' facts applied")
                    await asyncio.sleep(0.2)
            finally:
                await conn.close()
        # The backlog of commands, then the service again, timed until every decision is out.
        await _produce(producer, [command for _, command in orders], FILED)
        start = await _ends(kafka, CLAIMS_EVENTS.name, CLAIMS_EVENTS.partitions)
        began, cpu_began = time.perf_counter(), time.process_time()
        counting = asyncio.create_task(
            _count_decisions(kafka, start, wanted=claims, run=run, within=within)
        )
        try:
            async with LifespanManager(create_app(settings, policy=policy), startup_timeout=60):
                first, finished = await counting
                elapsed = finished - began
                cpu = time.process_time() - cpu_began
                # Then commands at half that rate: time from producing each to its decision.
                latencies = await _paced_latencies(
                    kafka, producer, [c for _, c in paced], rate=claims / elapsed / 2
                )
        except BenchStuckError as stuck:
            raise BenchStuckError(f"{stuck}; {await _claims_by_status(url)}") from None
        finally:
            counting.cancel()
    finally:
        await producer.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    ordered = sorted(latencies)
    return {
        "claims": claims,
        "seconds": round(elapsed, 2),
        "claims_per_second": round(claims / elapsed, 1),
        # This process's CPU time a claim (the service, and the reader counting decisions): a
        # busy neighbour slows the wall clock more than it changes this.
        "cpu_ms_per_claim": round(cpu / claims * 1000, 3),
        # Start-up (lifespan, group join, first poll batch's transaction, relay) apart from the
        # rate once decisions flow: a fixed cost weighs on a short backlog.
        "first_decision_seconds": round(first - began, 2),
        "claims_per_second_after_first": round((claims - 1) / max(finished - first, 1e-6), 1),
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
    except TimeoutError:
        raise BenchStuckError(
            f"latency phase: {len(latencies)} of {count} decisions 60 s after the last command"
        ) from None
    finally:
        receiving.cancel()
        await consumer.stop()
    return latencies


async def _baseline(kafka: KafkaAccess, claims: int, within: float) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    scratch = f"bench.scratch.{run}"
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    replicas = await replication_factor(admin)
    await admin.create_topics([NewTopic(scratch, CLAIMS_EVENTS.partitions, replicas)])
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
    began, cpu_began = time.perf_counter(), time.process_time()
    deadline = _deadline(within)
    try:
        while done < claims:
            _check(deadline, f"baseline: {done} of {claims} commands handled")
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
        cpu = time.process_time() - cpu_began
    finally:
        await consumer.stop()
        await producer.stop()
        await admin.delete_topics([scratch])
        await admin.close()
    return {
        "claims": claims,
        "seconds": round(elapsed, 2),
        "claims_per_second": round(claims / elapsed, 1),
        "cpu_ms_per_claim": round(cpu / claims * 1000, 3),
    }


async def _main(claims: int, within: float) -> dict[str, Any]:
    kafka = kafka_from_env()
    postgres = _env("PLATFORM_POSTGRES_URL", "postgresql://atoz:atoz@127.0.0.1:5433/postgres")
    baseline = await _baseline(kafka, claims, within)
    ours = await _ours(kafka, postgres, claims, within)
    return {"ours": ours, "baseline": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per phase")
    report.add_arguments(parser)
    args = parser.parse_args()
    # Both sides share the process: the collector is set once, as the service is served.
    collector = report.collector_as_served()
    try:
        result = asyncio.run(_main(args.claims, args.timeout))
    except BenchStuckError as stuck:
        sys.exit(f"adjudication_throughput did not finish: {stuck}")
    ours, baseline = result["ours"]["claims_per_second"], result["baseline"]["claims_per_second"]
    written = {
        "name": "adjudication_throughput",
        "unit": "claims adjudicated per second (command in, decision out, state committed)",
        "ours": ours,
        "baseline": baseline,
        "ratio": round(ours / baseline, 3),
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} cores",
        "collector": collector,
        "details": result,
    }
    report.write(written, args)
    print(
        f"ours {ours}/s, baseline {baseline}/s, ratio {ours / baseline:.3f}; at half load "
        f"p50 {result['ours']['p50_ms']} ms, p99 {result['ours']['p99_ms']} ms"
    )


if __name__ == "__main__":
    main()
