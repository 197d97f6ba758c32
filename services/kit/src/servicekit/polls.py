"""What :class:`servicekit.consumer.BatchConsumer` knows of a poll batch beyond its records:
the offsets it commits, the rebalance listener that lets it finish before its partitions
move, and the hand-over by which a handler lets the next poll be fetched and decoded while
PostgreSQL writes its batch (``let_next_poll_in``)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError

log = structlog.get_logger("servicekit.consumer")  # its records, under its name


class FinishBatchBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base
    """Lets the batch in flight commit its offsets before partitions move to another member."""

    def __init__(
        self, batch_lock: asyncio.Lock, consumer_name: str, on_revoke: Callable[[], None]
    ) -> None:
        self._batch_lock = batch_lock
        self._consumer_name = consumer_name
        self._on_revoke = on_revoke

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        # Each batch commits its offsets at its end, so once it is done everything applied
        # is committed; a poll decoded but not begun is dropped (its owner reads it again).
        self._on_revoke()
        async with self._batch_lock:
            pass
        log.info(
            "consumer.partitions_revoked", consumer=self._consumer_name, partitions=_names(revoked)
        )

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info(
            "consumer.partitions_assigned",
            consumer=self._consumer_name,
            partitions=_names(assigned),
        )


def _names(partitions: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)


NEXT_POLL: contextvars.ContextVar[Callable[[], None]] = contextvars.ContextVar("next_poll")


def nothing() -> None:
    pass


def let_next_poll_in() -> None:
    """Called by a handler once what is left of its batch is mostly PostgreSQL's work (its
    writes): under load the next poll is then fetched and decoded meanwhile. Without the call
    it is when the batch's transaction has committed (no overlap)."""
    NEXT_POLL.get(nothing)()


def batch_offsets(records: Any) -> dict[TopicPartition, int]:
    """One past the last offset of each partition in ``records`` (a poll batch, or one)."""
    offsets: dict[TopicPartition, int] = {}
    for record in records if isinstance(records, tuple | list) else (records,):
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
    return offsets


POSITIONS_WAIT_SECONDS = 5.0
"""How long a caught-up commit waits for the start of a partition that has had no record yet
(the consumer looks it up at the partition's leader after the assignment). Long enough for a
healthy cluster; short enough that a leader away delays the commit of the others little."""


async def await_positions(consumer: AIOKafkaConsumer, within: float) -> None:
    """Wait, up to ``within`` seconds, until every assigned partition has a position, so that
    committing the positions covers the partitions without records too. A partition without
    one is committed by a later batch; a rebalance meanwhile ends the wait."""
    with contextlib.suppress(TimeoutError, IllegalStateError):
        async with asyncio.timeout(within):
            for partition in consumer.assignment():
                await consumer.position(partition)
