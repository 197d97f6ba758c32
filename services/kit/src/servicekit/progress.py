"""How far a consumer group has got on every partition of its topics, from Kafka itself.

Whichever member of the group reads a partition, its committed offset is in the group
coordinator and its log end in the partition's leader: so any replica can tell which
partitions still hold records the group has not applied, its own or another's (one that died
and whose partitions wait for the session timeout before moving).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition


class NotReadingError(ConnectionError):
    """The consumer has not started (or has stopped): the group's progress is not known (an
    outage of the moment: retried)."""


async def unread_partitions(
    consumer: Any | None, topics: Iterable[str]
) -> frozenset[tuple[str, int]]:
    """The (topic, partition)s of ``topics`` whose group's committed offset is behind the log
    end: records there are not applied yet. ``consumer`` is the service's aiokafka consumer
    (it has the group and the topics' metadata); ``None`` raises :class:`NotReadingError`."""
    if consumer is None:
        raise NotReadingError("the consumer is not running: its group's progress is unknown")
    partitions = []
    for topic in topics:
        known = consumer.partitions_for_topic(topic)
        if not known:  # no metadata yet: which partitions exist is not known either
            raise NotReadingError(f"no metadata of {topic} yet: its progress is unknown")
        partitions += [TopicPartition(topic, partition) for partition in sorted(known)]
    # Log start too: records removed by retention before anyone read them are not unread.
    ends, starts = await asyncio.gather(
        consumer.end_offsets(partitions), consumer.beginning_offsets(partitions)
    )
    try:
        committed = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
    except AttributeError:
        # faststream hands the consumer over before its start() has ended, and aiokafka's
        # committed() then fails on the group coordinator it has not made yet.
        message = "the consumer is still starting: its group's progress is unknown"
        raise NotReadingError(message) from None

    return frozenset(
        (tp.topic, tp.partition)
        for tp, done in zip(partitions, committed, strict=True)
        if max(done if done is not None else 0, starts[tp]) < ends[tp]
    )
