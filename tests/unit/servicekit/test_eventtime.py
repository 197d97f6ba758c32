"""How far a stated time is believed: at receipt, on consumption, on each clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servicekit.eventtime import (
    ClockMode,
    TimeBounds,
    decision_time,
    refusal_at_receipt,
    refusal_on_consumption,
)

WALL = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BOUNDS = TimeBounds(max_skew=timedelta(minutes=5), max_step=timedelta(days=7))


def _consumed(stated: datetime, mode: ClockMode, newest: datetime | None = None) -> str | None:
    return refusal_on_consumption(stated, wall=WALL, newest=newest, mode=mode, bounds=BOUNDS)


@pytest.mark.parametrize(
    ("mode", "offset", "refused"),
    [
        ("wall", timedelta(minutes=-5), False),
        ("wall", timedelta(minutes=5), False),
        ("wall", timedelta(minutes=-6), True),
        ("wall", timedelta(minutes=6), True),
        ("event", timedelta(days=-400), False),
        ("event", timedelta(minutes=6), True),
    ],
)
def test_at_receipt_the_wall_clock_wants_now_and_event_time_wants_the_past(
    mode: ClockMode, offset: timedelta, refused: bool
) -> None:
    found = refusal_at_receipt(WALL + offset, wall=WALL, mode=mode, bounds=BOUNDS)
    assert (found is not None) == refused


def test_a_consumed_message_may_be_old_but_never_from_the_future() -> None:
    assert _consumed(WALL - timedelta(days=2), "wall") is None  # a backlog
    sentence = _consumed(WALL + timedelta(minutes=6), "wall")
    assert sentence is not None
    assert "by more than 5 minutes" in sentence


def test_on_event_time_no_message_steps_further_ahead_of_the_newest_than_the_bound() -> None:
    newest = WALL - timedelta(days=60)
    assert _consumed(newest + timedelta(days=7), "event", newest) is None
    sentence = _consumed(newest + timedelta(days=7, seconds=1), "event", newest)
    assert sentence is not None
    assert "more than 7 days ahead" in sentence


def test_the_step_bound_is_for_event_time_only() -> None:
    assert _consumed(WALL, "wall", newest=WALL - timedelta(days=60)) is None


def test_the_rules_see_the_stated_time_on_event_time_and_the_clock_on_the_wall() -> None:
    stated = WALL - timedelta(days=3)
    assert decision_time(stated, wall=WALL, mode="event") == stated
    assert decision_time(stated, wall=WALL, mode="wall") == WALL
