"""The event-time clock waits for every partition with unread records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adjudication.eventclock import PartitionTime, event_clock

T = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
COMMANDS = ("claims.commands.v1", 0)
ORDERS = ("orders.v1", 3)


def _at(key: tuple[str, int], when: datetime, *, read_lately: bool = False) -> PartitionTime:
    return PartitionTime(key[0], key[1], when, read_lately)


def test_there_is_no_time_before_any_event_was_read() -> None:
    assert event_clock([], set()) is None
    assert event_clock([], None) is None


def test_a_partition_being_read_holds_the_clock_at_its_time() -> None:
    partitions = [_at(COMMANDS, T, read_lately=True), _at(ORDERS, T + timedelta(days=3))]
    assert event_clock(partitions, set()) == T


def test_a_partition_with_unread_records_holds_the_clock_however_long_it_has_been_quiet() -> None:
    # Its reader died: nothing was read from it for an hour, but records wait there.
    partitions = [_at(COMMANDS, T), _at(ORDERS, T + timedelta(days=3), read_lately=True)]
    assert event_clock(partitions, {COMMANDS}) == T


def test_partitions_read_to_their_end_and_quiet_let_the_clock_reach_the_newest_time() -> None:
    partitions = [_at(COMMANDS, T), _at(ORDERS, T + timedelta(days=3))]
    assert event_clock(partitions, set()) == T + timedelta(days=3)


def test_the_oldest_of_the_holding_partitions_sets_the_clock() -> None:
    partitions = [
        _at(COMMANDS, T + timedelta(days=1)),
        _at(ORDERS, T + timedelta(days=2)),
        _at(("orders.v1", 0), T + timedelta(days=5)),
    ]
    assert event_clock(partitions, {COMMANDS, ORDERS}) == T + timedelta(days=1)


def test_unread_records_on_a_partition_never_read_keep_the_clock_at_the_oldest_time() -> None:
    partitions = [_at(COMMANDS, T), _at(ORDERS, T + timedelta(days=3))]
    assert event_clock(partitions, {("orders.v1", 5)}) == T


def test_without_kafkas_word_every_partition_holds_the_clock() -> None:
    partitions = [_at(COMMANDS, T), _at(ORDERS, T + timedelta(days=3))]
    assert event_clock(partitions, None) == T
