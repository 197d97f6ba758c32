"""How far a time a caller states is believed: pure, I/O-free, one rule for every service.

Every message carries the moment its producer says it happened (the CloudEvents ``time``), and
intake's service tokens may state it (``X-Event-Time``). That time is a claim to bound:

* **On the wall clock** the rules use the service's own clock; a stated time is recorded as when
  the caller says it happened, never used as "now". At receipt (intake) it must lie within
  ``max_skew`` of the clock either way; a message consumed later may be old (a backlog), but
  never from the future beyond ``max_skew``.
* **On event time** (replays, simulations) a message's time *is* its "now", so it is bounded
  twice: never after the wall clock plus ``max_skew`` (a replay replays the past), and never
  more than ``max_step`` ahead of the newest event time the service has already accepted, so
  one message cannot carry the clock, and every deadline with it, months ahead.

Every time is also range-checked by the contracts (:data:`contracts.base.EARLIEST_TIME` to
:data:`contracts.base.LATEST_TIME`), so no arithmetic on it can overflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from contracts.policy import PolicyDocument

ClockMode = Literal["wall", "event"]

REASON_EVENT_TIME_OUT_OF_BOUNDS: Final = "event_time_out_of_bounds"
"""The reason a refused message carries (a rejected command, a dead letter)."""


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """How far a stated time may stray: from the wall clock, and ahead of the newest accepted.
    The numbers are the policy document's ``[time]`` table (:meth:`from_document`)."""

    max_skew: timedelta
    max_step: timedelta

    @classmethod
    def from_document(cls, document: PolicyDocument) -> TimeBounds:
        """The bounds ``document`` says."""
        return cls(
            max_skew=timedelta(seconds=document.time.max_clock_skew_seconds),
            max_step=timedelta(hours=document.time.event_clock_max_step_hours),
        )


def refusal_at_receipt(
    stated: datetime, *, wall: datetime, mode: ClockMode, bounds: TimeBounds
) -> str | None:
    """Why a time stated to an API right now is refused, in one sentence; None if believable.

    On the wall clock the caller is speaking now, so its time must be now, give or take the
    skew. On event time it may be any past moment, but never in the future.
    """
    if stated > wall + bounds.max_skew:
        return f"is after the service's clock by more than {_span(bounds.max_skew)}"
    if mode == "wall" and stated < wall - bounds.max_skew:
        return f"is before the service's clock by more than {_span(bounds.max_skew)}"
    return None


def refusal_on_consumption(
    stated: datetime,
    *,
    wall: datetime,
    newest: datetime | None,
    mode: ClockMode,
    bounds: TimeBounds,
) -> str | None:
    """Why a consumed message's time is refused, in one sentence; None if believable.

    ``newest`` is the newest event time the service has accepted so far (None before any).
    """
    if stated > wall + bounds.max_skew:
        return (
            f"event time {stated.isoformat()} is after the service's clock "
            f"({wall.isoformat()}) by more than {_span(bounds.max_skew)}"
        )
    if mode == "event" and newest is not None and stated > newest + bounds.max_step:
        return (
            f"event time {stated.isoformat()} is more than {_span(bounds.max_step)} ahead of "
            f"the newest event time accepted ({newest.isoformat()})"
        )
    return None


def decision_time(stated: datetime, *, wall: datetime, mode: ClockMode) -> datetime:
    """The "now" the rules see for a message: its own time on event time, the clock on wall."""
    return stated if mode == "event" else wall


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


@dataclass(frozen=True, slots=True)
class Timekeeper:
    """A service's clock mode, bounds and wall clock together: what its handlers ask."""

    mode: ClockMode
    bounds: TimeBounds
    wall: Callable[[], datetime]

    def refusal(self, stated: datetime, newest: datetime | None) -> str | None:
        """:func:`refusal_on_consumption` on the wall clock as it is now."""
        return refusal_on_consumption(
            stated, wall=self.wall(), newest=newest, mode=self.mode, bounds=self.bounds
        )

    def now_for(self, stated: datetime) -> datetime:
        """:func:`decision_time` on the wall clock as it is now."""
        return decision_time(stated, wall=self.wall(), mode=self.mode)
