"""A batch is applied in time order across topics, each partition's own order kept."""

from __future__ import annotations

from datetime import datetime, timedelta

from adjudication.handlers import in_time_order
from contracts.envelope import Payload, wrap
from servicekit.delivery import Delivered
from tests.unit.adjudication.builders import CONTACTED, FILED, T0, contacted, filing, placed


def _delivered(
    payload: Payload, topic: str, offset: int, at: datetime, received: datetime
) -> Delivered:
    envelope = wrap(payload, source="/t", subject="s", time=at)
    return Delivered(topic, 0, offset, None, envelope, received)


def test_a_buyers_message_is_applied_before_the_claim_that_came_later_in_the_same_batch() -> None:
    claim = _delivered(filing(), "claims.commands.v1", 7, FILED, FILED)
    order = _delivered(placed(), "orders.v1", 3, T0, T0)
    message = _delivered(contacted(), "orders.v1", 4, CONTACTED, CONTACTED)
    # Partition order puts the commands first; time order puts them where they happened.
    ordered = in_time_order([claim, order, message], "event")
    assert [d.offset for d in ordered] == [3, 4, 7]


def test_a_partitions_own_order_is_kept_even_when_its_times_go_back() -> None:
    first = _delivered(placed(), "orders.v1", 1, T0 + timedelta(days=2), T0)
    second = _delivered(contacted(), "orders.v1", 2, T0, T0)
    assert [d.offset for d in in_time_order([first, second], "event")] == [1, 2]


def test_on_the_wall_clock_a_stated_time_does_not_move_a_message_ahead() -> None:
    # A command stating last week, received after the facts: applied after them.
    backdated = _delivered(filing(), "claims.commands.v1", 9, T0 - timedelta(days=7), FILED)
    fact = _delivered(placed(), "orders.v1", 3, T0, T0)
    assert [d.offset for d in in_time_order([backdated, fact], "wall")] == [3, 9]
    assert [d.offset for d in in_time_order([backdated, fact], "event")] == [9, 3]
