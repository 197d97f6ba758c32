"""Reading what a test caused on a real topic, whatever the topic held before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import DLQ_PARTITIONS, DLQ_SUFFIX, by_name


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
async def tail(bootstrap_servers: str, topic: str) -> AsyncIterator[TopicTail]:
    """Open a :class:`TopicTail` on ``topic`` (no consumer group: nothing is committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
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


async def skip_to_end(bootstrap_servers: str, group_id: str, topics: list[str]) -> None:
    """Commit the current end of ``topics`` for ``group_id``, so a service consuming as that
    group starts with what a test sends next, not with everything the topics already hold."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(_partition_count(t))]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        positions = {partition: await consumer.position(partition) for partition in partitions}
        await consumer.commit(positions)
    finally:
        await consumer.stop()
