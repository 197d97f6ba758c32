"""Reading what a test caused on a real topic, whatever the topic held before."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts import codec
from contracts.claims import ClaimEvent
from contracts.codec import ContractError
from contracts.orders import OrderFact
from contracts.topics import CLAIMS_EVENTS, DLQ_PARTITIONS, DLQ_SUFFIX, ORDERS, by_name
from servicekit.kafka import KafkaAccess


async def replication_factor(admin: AIOKafkaAdminClient) -> int:
    """Replicas for a test's own topic: one per broker, up to three, as the launcher makes the
    contracts' topics (on three brokers, two replicas must be in sync: a topic of one takes no
    write with ``acks=all``)."""
    described = await admin.describe_cluster()
    return min(len(described["brokers"]), 3)


def kafka_settings(kafka: KafkaAccess) -> dict[str, Any]:
    """A service's Kafka settings for ``kafka`` (its address and principal)."""
    return {
        "kafka_bootstrap_servers": kafka.bootstrap_servers,
        "kafka_username": kafka.username,
        "kafka_password": kafka.password,
        "kafka_security_protocol": kafka.security_protocol,
    }


class TopicTail:
    """A consumer positioned at the end of every partition of a topic when it was opened."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer

    async def collect(
        self, wanted: Callable[[Any], bool], count: int, within: float = 20.0
    ) -> list[Any]:
        """The first ``count`` records (after the tail was opened) that ``wanted`` accepts."""
        found: list[Any] = []
        deadline = asyncio.get_running_loop().time() + within
        while len(found) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"saw {len(found)} of {count} wanted records")
            batch = await self._consumer.getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
            for records in batch.values():
                found.extend(record for record in records if wanted(record))
        return found[:count]


def _partition_count(topic: str) -> int:
    name = topic.removesuffix(DLQ_SUFFIX)
    return DLQ_PARTITIONS if name != topic else by_name(name).partitions


@asynccontextmanager
async def tail(kafka: KafkaAccess, topic: str) -> AsyncIterator[TopicTail]:
    """Open a :class:`TopicTail` on ``topic`` (no consumer group: nothing is committed)."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        # Topics are created from the contracts, so their partition ids are known up front.
        partitions = [TopicPartition(topic, p) for p in range(_partition_count(topic))]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)  # resolve the end offsets now, not lazily
        yield TopicTail(consumer)
    finally:
        await consumer.stop()


async def skip_to_end(kafka: KafkaAccess, group_id: str, topics: list[str]) -> None:
    """Commit the current end of ``topics`` for ``group_id``, so a service consuming as that
    group starts with what a test sends next, not with everything the topics already hold."""
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(_partition_count(t))]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        positions = {partition: await consumer.position(partition) for partition in partitions}
        await consumer.commit(positions)
    finally:
        await consumer.stop()


async def from_offset_zero(kafka: KafkaAccess, *topics: str) -> dict[str, list[ConsumerRecord]]:
    """Every record ``topics`` hold now (DLQs too), from offset zero, by topic; each
    partition's records in offset order."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(_partition_count(t))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[str, list[ConsumerRecord]] = {topic: [] for topic in topics}
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                found[tp.topic] += [r for r in records if r.offset < ends[tp]]
        return found
    finally:
        await consumer.stop()


async def facts_and_claim_events(
    kafka: KafkaAccess, *, skip_undecodable: bool = False
) -> list[OrderFact | ClaimEvent]:
    """Every order fact and claim event on the topics, from offset zero. A record that breaks
    the contract raises, unless ``skip_undecodable`` (a run that injected poison on purpose)."""
    found: list[OrderFact | ClaimEvent] = []
    for name, records in (await from_offset_zero(kafka, ORDERS.name, CLAIMS_EVENTS.name)).items():
        for record in records:
            try:
                data = codec.decode(name, record.value).data
            except ContractError:
                if skip_undecodable:
                    continue
                raise
            if isinstance(data, OrderFact | ClaimEvent):
                found.append(data)
    return found


def kafka_from_env(default: str = "127.0.0.1:9092") -> KafkaAccess:
    """The broker named by ``PLATFORM_KAFKA_*`` (as ``devstack env`` prints them): for the
    benchmarks, run by hand against a platform someone started."""
    return KafkaAccess(
        os.environ.get("PLATFORM_KAFKA_BOOTSTRAP_SERVERS", default),
        os.environ.get("PLATFORM_KAFKA_USERNAME") or None,
        os.environ.get("PLATFORM_KAFKA_PASSWORD") or None,
    )
