"""The event-time clock: how far event time has got, given what each input partition holds.

On event time, "now" (when deadlines fire) is not the wall clock but the time of the events
read. Each input partition has the newest event time read on it. A partition **holds the clock
back** at that time while it still has records nobody has read (the group's committed offset is
behind its log end), and for ``idle_seconds`` after it was last read, so a producer that writes
one topic a little behind another is waited for. Only a partition read to its log end and quiet
since stops holding it: a partition whose reader died keeps the clock where it was until its
new owner has read it. When no partition holds it, the clock is the newest time of all.

Pure: the handler side gathers the partitions' times (PostgreSQL) and which still have unread
records (Kafka), and this module decides.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

PartitionKey = tuple[str, int]
"""(topic, partition)."""


@dataclass(frozen=True, slots=True)
class PartitionTime:
    """The newest event time read on one input partition, and whether it was read lately."""

    topic: str
    partition: int
    event_time: datetime
    read_lately: bool
    """Read within the last ``idle_seconds`` of wall time."""

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)


def holds_back(partition: PartitionTime, unread: Collection[PartitionKey] | None) -> bool:
    """Whether ``partition`` keeps the clock at its time; ``unread`` None means Kafka's word on
    unread records is not known, so every partition is taken to have some."""
    return partition.read_lately or unread is None or partition.key in unread


def event_clock(
    partitions: Sequence[PartitionTime], unread: Collection[PartitionKey] | None
) -> datetime | None:
    """The event-time "now": the oldest time among partitions holding it back, else the newest
    of all; None before any event was read.

    A partition with unread records but no time yet (nothing of it read so far) could hold
    anything: the clock then stays at the oldest time known.
    """
    if not partitions:
        return None
    known = {partition.key for partition in partitions}
    if unread is not None and any(key not in known for key in unread):
        return min(partition.event_time for partition in partitions)
    holding = [p.event_time for p in partitions if holds_back(p, unread)]
    return min(holding) if holding else max(partition.event_time for partition in partitions)
