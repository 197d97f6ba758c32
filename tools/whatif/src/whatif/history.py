"""The recorded history: ``orders.v1`` and ``claims.commands.v1`` read from offset zero up to
their ends at start, decoded with the contracts, in event-time order, with what each live
service dead-lettered (a time it refused, a handler error: it never applied them, so neither does
its replay). Read only: no consumer group, no commit, nothing written anywhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from adjudication import app as adjudication_app
from contracts import codec
from contracts.envelope import Envelope
from contracts.topics import ORDERS, Topic
from metrics import app as metrics_app
from metrics.rebuild import RebuildError, dead_lettered
from servicekit.kafka import KafkaAccess
from whatif.compare import Service

TOPICS: tuple[Topic, ...] = adjudication_app.INPUTS
"""What a replay reads: adjudication's inputs (metrics' others are adjudication's outputs)."""
POLL = 5000


@dataclass(frozen=True, slots=True)
class History:
    """What was read: the inputs in event-time order, and what could not be used."""

    inputs: list[Envelope[Any]]
    facts: int
    commands: int
    undecodable: int
    outside: int
    """Valid records whose time is outside the range asked for."""
    refused: Mapping[Service, frozenset[int]] = field(default_factory=dict)
    """Per live service, the indices into ``inputs`` of what it dead-lettered."""


SERVICE_TOPICS: dict[Service, tuple[Topic, ...]] = {
    "adjudication": TOPICS,
    "metrics": tuple(topic for topic in metrics_app.INPUTS if topic in TOPICS),
}
"""What each replayed service consumes of the inputs (metrics also reads the claim events,
which its replay takes from adjudication's)."""
Source = tuple[str, int, int]
"""Where a record was: (topic, partition, offset)."""


Raw = list[tuple[str, int, int, bytes | None]]
"""Records as read: (topic, partition, offset, value)."""


def in_range(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Whether ``at`` is within [since, until] (an open end when None)."""
    return (since is None or at >= since) and (until is None or at <= until)


def ordered(
    records: Raw,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    dead_letters: Mapping[Service, set[Source]] | None = None,
) -> History:
    """Decode ``(topic, partition, offset, value)`` records and put them in event-time order
    (ties in topic, partition and offset order, so every run gives the same order), marking
    what each service dead-lettered (``dead_letters``, by source)."""
    kept: list[tuple[datetime, str, int, int, Envelope[Any]]] = []
    undecodable = outside = facts = commands = 0
    for topic, partition, offset, value in records:
        try:
            envelope = codec.decode(topic, value or b"")
        except ValueError:
            undecodable += 1  # the live services sent it to the DLQ: it decided nothing
            continue
        if not in_range(envelope.time, since, until):
            outside += 1
            continue
        kept.append((envelope.time, topic, partition, offset, envelope))
        if topic == ORDERS.name:
            facts += 1
        else:
            commands += 1
    kept.sort(key=lambda item: item[:4])
    refused = {
        # An empty DLQ (the usual case) needs no pass over a million inputs.
        service: frozenset(
            index for index, item in enumerate(kept) if (item[1], item[2], item[3]) in sources
        )
        if sources
        else frozenset()
        for service, sources in (dead_letters or {}).items()
    }
    return History([item[4] for item in kept], facts, commands, undecodable, outside, refused)


async def read(
    kafka: KafkaAccess, *, on_progress: Callable[[int, int], None] = lambda done, total: None
) -> Raw:
    """Every record of the input topics up to their ends now (decode them with
    :func:`ordered`, once the consumer is closed)."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False, group_id=None,
                                max_partition_fetch_bytes=4 << 20)  # fmt: skip
    await consumer.start()
    try:
        partitions = [TopicPartition(t.name, p) for t in TOPICS for p in range(t.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        total = sum(ends[p] - starts[p] for p in partitions)
        records: Raw = []
        left = {p for p in partitions if ends[p] > starts[p]}
        while left:
            batch = await consumer.getmany(*left, timeout_ms=1000, max_records=POLL)
            for tp, found in batch.items():
                for record in found:
                    if record.offset < ends[tp]:
                        records.append((tp.topic, tp.partition, record.offset, record.value))
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:  # past any gap or marker too
                    left.discard(tp)
            on_progress(len(records), total)
        return records
    finally:
        await consumer.stop()


async def read_dead_letters(
    kafka: KafkaAccess, groups: Mapping[Service, str]
) -> dict[Service, set[Source]] | None:
    """Where every input each service's consumer group (``groups``) dead-lettered came from;
    None when this principal may not read the DLQs (the Kafka admin may)."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        return {
            service: await dead_lettered(consumer, group, SERVICE_TOPICS[service])
            for service, group in groups.items()
        }
    except RebuildError:
        return None
    finally:
        await consumer.stop()
