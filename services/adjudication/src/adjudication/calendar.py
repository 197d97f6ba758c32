"""Business days and business hours of a marketplace: pure arithmetic, no I/O, no wall clock.

The guarantee's contact window ("the seller has had 2 business days") and the return-refund
window count business time, which skips weekends and the marketplace's holidays. The rules:

* **Local calendar.** Whether a day is a business day is decided on the marketplace's local
  date (its IANA time zone), never on the UTC date. A business day runs from 00:00 to the next
  00:00 local time; every hour of it counts (no office hours).
* **Wall-clock hours.** Business time is measured on the local wall clock, so a business day
  always holds 24 business hours, even on a daylight-saving change day (which really lasts 23
  or 25 hours). That is what keeps the local hour across a DST change: 2 business days from
  Friday 15:00 end on Tuesday 15:00 local, whatever the clocks did on Sunday. As a consequence,
  ``add_business_hours(start, 24 * n)`` is always ``add_business_days(start, n)``.
* **Earliest instant.** Adding business time returns the *earliest* instant at which that much
  business time has elapsed since ``start``:

  - from a business day, the local time of day is kept: Friday 15:00 + 2 business days is
    Tuesday 15:00 (Saturday and Sunday skipped), or Wednesday 15:00 when Monday is a holiday;
  - from a weekend day or holiday, counting starts at 00:00 local of the next business day and
    the result is the *end* of the last business day counted, i.e. the midnight that follows
    it: Saturday 10:00 + 2 business days is Wednesday 00:00 local (all of Monday and Tuesday
    have elapsed), and Saturday + 5 business days is the next Saturday 00:00 (the end of
    Friday), not the Monday 00:00 after it;
  - likewise, a start at exactly 00:00 of a business day ends at a midnight: Friday 00:00 +
    1 business day is Saturday 00:00, the end of Friday. (Saturday 00:00 and Monday 00:00 are
    the same point in business time; the earlier one is returned.)
  - adding zero business time returns ``start`` itself.

* **Clock changes.** The target local wall time is converted to an instant with ``fold=0``: a
  wall time repeated when the clocks go back means its first occurrence, and a wall time that
  does not exist because the clocks went forward is read with the offset before the change,
  i.e. it moves forward by the length of the gap (02:30 becomes 03:30).
* **Aware in, UTC out.** ``start`` must carry its offset (a naive datetime raises
  ``ValueError``); results are aware datetimes in UTC.

Counting walks the calendar one day at a time, so it costs O(days), which is nothing for the
windows of a guarantee (days or weeks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MarketplaceCalendar",
    "add_business_days",
    "add_business_hours",
    "business_days_between",
]

_DAY: Final = timedelta(days=1)
_HOUR: Final = timedelta(hours=1)
_MIDNIGHT: Final = time()


@dataclass(frozen=True)
class MarketplaceCalendar:
    """Where and when a marketplace does business.

    ``timezone`` is an IANA name (``Europe/Paris``), ``holidays`` local dates that are not
    business days, ``weekend`` the weekdays that are not business days (Monday is 0, Sunday 6;
    Saturday and Sunday by default).
    """

    timezone: str = "UTC"
    holidays: frozenset[date] = frozenset()
    weekend: frozenset[int] = field(default=frozenset({5, 6}))

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {self.timezone!r}") from error
        # Settings often arrive as lists or sets: accept any iterable, keep frozensets.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "weekend", frozenset(self.weekend))
        for holiday in self.holidays:
            if isinstance(holiday, datetime) or not isinstance(holiday, date):
                raise TypeError(f"holidays must be dates, not {holiday!r}")
        if not all(isinstance(day, int) and 0 <= day <= 6 for day in self.weekend):
            raise ValueError(f"weekend days are 0 (Monday) to 6 (Sunday), got {self.weekend!r}")
        if len(self.weekend) == 7:
            raise ValueError("a calendar needs at least one business weekday")

    @property
    def zone(self) -> ZoneInfo:
        """The marketplace's time zone."""
        return ZoneInfo(self.timezone)

    def is_business_day(self, day: date) -> bool:
        """Whether the local date ``day`` is a business day (neither weekend nor holiday)."""
        return day.weekday() not in self.weekend and day not in self.holidays


def add_business_days(start: datetime, days: int, calendar: MarketplaceCalendar) -> datetime:
    """The earliest instant by which ``days`` whole business days have elapsed since ``start``.

    From a business day the local time of day is kept (Friday 15:00 + 2 is Tuesday 15:00
    local); from a weekend day or holiday counting starts at 00:00 of the next business day
    and ends at the midnight closing the last day counted (Saturday 10:00 + 2 is Wednesday
    00:00 local). See the module docstring for the exact rules.

    Raises ``ValueError`` when ``start`` is naive or ``days`` is negative. Returns UTC.
    """
    if days < 0:
        raise ValueError(f"days must be zero or more, got {days}")
    return _add_business_time(start, days * _DAY, calendar)


def add_business_hours(start: datetime, hours: int, calendar: MarketplaceCalendar) -> datetime:
    """The earliest instant by which ``hours`` business hours have elapsed since ``start``.

    Every local wall-clock hour of a business day counts and non-business days are skipped
    entirely, so Friday 20:00 + 8 business hours is Monday 04:00 local, and 24 business hours
    are always one business day.

    Raises ``ValueError`` when ``start`` is naive or ``hours`` is negative. Returns UTC.
    """
    if hours < 0:
        raise ValueError(f"hours must be zero or more, got {hours}")
    return _add_business_time(start, hours * _HOUR, calendar)


def business_days_between(start: datetime, end: datetime, calendar: MarketplaceCalendar) -> int:
    """How many whole business days elapsed from ``start`` to ``end``.

    Business time is counted as by :func:`add_business_days` (local wall clock, 24 hours per
    business day, non-business days not counted) and rounded down to whole days, so
    ``business_days_between(s, add_business_days(s, n, cal), cal) == n``. Negative when ``end``
    is before ``start``. Raises ``ValueError`` when either is naive.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end < start:
        return -business_days_between(end, start, calendar)
    return _business_time(start, end, calendar) // _DAY


# --- internals -----------------------------------------------------------------------------


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")


def _wall(moment: datetime, calendar: MarketplaceCalendar) -> datetime:
    """The local wall-clock reading of an aware instant, as a naive datetime."""
    return moment.astimezone(calendar.zone).replace(tzinfo=None)


def _instant(wall: datetime, calendar: MarketplaceCalendar) -> datetime:
    """The UTC instant of a local wall-clock time (``fold=0``: see the module docstring)."""
    return wall.replace(tzinfo=calendar.zone, fold=0).astimezone(UTC)


def _next_business_day(day: date, calendar: MarketplaceCalendar) -> date:
    day += _DAY
    while not calendar.is_business_day(day):
        day += _DAY
    return day


def _add_business_time(
    start: datetime, amount: timedelta, calendar: MarketplaceCalendar
) -> datetime:
    _require_aware(start, "start")
    if not amount:
        return start.astimezone(UTC)
    wall = _wall(start, calendar)
    day = wall.date()
    into_day = wall - datetime.combine(day, _MIDNIGHT)
    if not calendar.is_business_day(day):
        day, into_day = _next_business_day(day, calendar), timedelta(0)
    remaining = amount
    while True:
        left_today = _DAY - into_day
        if remaining <= left_today:  # "<=": end at the midnight closing the day, not later
            return _instant(datetime.combine(day, _MIDNIGHT) + into_day + remaining, calendar)
        remaining -= left_today
        day, into_day = _next_business_day(day, calendar), timedelta(0)


def _business_time(start: datetime, end: datetime, calendar: MarketplaceCalendar) -> timedelta:
    """Business wall-clock time between two instants, ``start <= end``."""
    start_wall, end_wall = _wall(start, calendar), _wall(end, calendar)
    total = timedelta(0)
    day = start_wall.date()
    while day <= end_wall.date():
        if calendar.is_business_day(day):
            opens = datetime.combine(day, _MIDNIGHT)
            closes = opens + _DAY
            total += max(timedelta(0), min(closes, end_wall) - max(opens, start_wall))
        day += _DAY
    return total
