"""Business days skip weekends and holidays on the marketplace's local calendar, keep the local
hour across a DST change, and answer in UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from adjudication.calendar import (
    MarketplaceCalendar,
    add_business_days,
    add_business_hours,
    business_days_between,
)

PARIS_ZONE = ZoneInfo("Europe/Paris")
PARIS = MarketplaceCalendar(timezone="Europe/Paris")
MONDAY_16_MARCH = date(2026, 3, 16)
PARIS_MONDAY_HOLIDAY = MarketplaceCalendar(
    timezone="Europe/Paris", holidays=frozenset({MONDAY_16_MARCH})
)
EVERY_DAY_IN_PARIS = MarketplaceCalendar(timezone="Europe/Paris", weekend=frozenset())


def paris(day: str, clock: str = "00:00") -> datetime:
    """An instant given on the Paris wall clock, e.g. ``paris("2026-03-13", "15:00")``."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=PARIS_ZONE)


# 2026-03-13 is a Friday; the clocks go forward on Sunday 2026-03-29 and back on 2026-10-25.
ADD_BUSINESS_DAYS = [
    pytest.param(PARIS, paris("2026-03-13", "15:00"), 2, paris("2026-03-17", "15:00"),
                 id="two business days from Friday afternoon skip the weekend to Tuesday"),
    pytest.param(PARIS_MONDAY_HOLIDAY, paris("2026-03-13", "15:00"), 2,
                 paris("2026-03-18", "15:00"),
                 id="a Monday holiday pushes two business days from Friday to Wednesday"),
    pytest.param(PARIS, paris("2026-03-14", "10:00"), 2, paris("2026-03-18"),
                 id="from Saturday counting starts on Monday and ends at Wednesday midnight"),
    pytest.param(PARIS_MONDAY_HOLIDAY, paris("2026-03-16", "10:00"), 2, paris("2026-03-19"),
                 id="from a holiday counting starts the next business day"),
    pytest.param(PARIS_MONDAY_HOLIDAY, paris("2026-03-14", "10:00"), 2, paris("2026-03-19"),
                 id="from a weekend before a holiday counting starts on Tuesday"),
    pytest.param(PARIS, paris("2026-03-14", "10:00"), 5, paris("2026-03-21"),
                 id="five days from Saturday end at the close of Friday, not on Monday"),
    pytest.param(PARIS, paris("2026-03-13"), 1, paris("2026-03-14"),
                 id="one day from Friday midnight ends at the close of Friday"),
    pytest.param(PARIS, paris("2026-03-11", "09:30"), 10, paris("2026-03-25", "09:30"),
                 id="ten business days are two calendar weeks"),
    pytest.param(PARIS, paris("2026-03-14", "10:00"), 0, paris("2026-03-14", "10:00"),
                 id="zero days is the start itself even on a weekend"),
    pytest.param(PARIS, paris("2026-03-27", "15:00"), 2, paris("2026-03-31", "15:00"),
                 id="the local hour is kept when the clocks go forward on Sunday"),
    pytest.param(PARIS, paris("2026-10-23", "15:00"), 2, paris("2026-10-27", "15:00"),
                 id="the local hour is kept when the clocks go back on Sunday"),
    pytest.param(PARIS, datetime(2026, 3, 13, 23, 30, tzinfo=UTC), 2, paris("2026-03-18"),
                 id="Friday 23:30 UTC is already Saturday in Paris"),
    pytest.param(MarketplaceCalendar(), datetime(2026, 3, 13, 23, 30, tzinfo=UTC), 2,
                 datetime(2026, 3, 17, 23, 30, tzinfo=UTC),
                 id="the same instant is still Friday on a UTC marketplace"),
    pytest.param(MarketplaceCalendar(timezone="Asia/Riyadh", weekend=frozenset({4, 5})),
                 datetime(2026, 3, 12, 15, tzinfo=ZoneInfo("Asia/Riyadh")), 2,
                 datetime(2026, 3, 16, 15, tzinfo=ZoneInfo("Asia/Riyadh")),
                 id="a Friday and Saturday weekend skips from Thursday to Monday"),
]  # fmt: skip


@pytest.mark.parametrize(("calendar", "start", "days", "expected"), ADD_BUSINESS_DAYS)
def test_adding_business_days_lands_on_the_expected_local_time(
    calendar: MarketplaceCalendar, start: datetime, days: int, expected: datetime
) -> None:
    result = add_business_days(start, days, calendar)
    assert result == expected
    assert result.tzinfo is UTC


def test_across_spring_forward_the_utc_hour_moves_and_the_local_hour_stays() -> None:
    result = add_business_days(paris("2026-03-27", "15:00"), 2, PARIS)
    assert paris("2026-03-27", "15:00").astimezone(UTC).hour == 14  # CET, UTC+1
    assert result == datetime(2026, 3, 31, 13, tzinfo=UTC)  # CEST, UTC+2
    assert result.astimezone(PARIS_ZONE).hour == 15


def test_across_fall_back_the_utc_hour_moves_and_the_local_hour_stays() -> None:
    result = add_business_days(paris("2026-10-23", "15:00"), 2, PARIS)
    assert result == datetime(2026, 10, 27, 14, tzinfo=UTC)  # CET again, UTC+1
    assert result.astimezone(PARIS_ZONE).hour == 15


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(paris("2026-03-28", "02:30"), datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
                     id="a wall time skipped by the clocks moves forward by the gap"),
        pytest.param(paris("2026-10-24", "02:30"), datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                     id="a wall time lived twice means its first occurrence"),
    ],
)  # fmt: skip
def test_a_deadline_on_a_clock_change_night_is_a_well_defined_instant(
    start: datetime, expected: datetime
) -> None:
    assert add_business_days(start, 1, EVERY_DAY_IN_PARIS) == expected


def test_a_start_given_in_another_offset_counts_on_the_marketplace_calendar() -> None:
    tokyo_saturday_morning = datetime(2026, 3, 14, 1, tzinfo=timezone(timedelta(hours=9)))
    # That is Friday 17:00 in Paris.
    assert add_business_days(tokyo_saturday_morning, 1, PARIS) == paris("2026-03-16", "17:00")


ADD_BUSINESS_HOURS = [
    pytest.param(PARIS, paris("2026-03-13", "20:00"), 8, paris("2026-03-16", "04:00"),
                 id="business hours from Friday evening skip the whole weekend"),
    pytest.param(PARIS, paris("2026-03-13", "20:00"), 4, paris("2026-03-14"),
                 id="the last hours of Friday end at its close"),
    pytest.param(PARIS, paris("2026-03-14", "10:00"), 5, paris("2026-03-16", "05:00"),
                 id="from Saturday business hours start at Monday midnight"),
    pytest.param(PARIS_MONDAY_HOLIDAY, paris("2026-03-13", "20:00"), 8,
                 paris("2026-03-17", "04:00"), id="a holiday holds no business hours"),
    pytest.param(PARIS, paris("2026-03-16", "09:00"), 0, paris("2026-03-16", "09:00"),
                 id="zero hours is the start itself"),
    pytest.param(EVERY_DAY_IN_PARIS, paris("2026-03-28", "12:00"), 24,
                 paris("2026-03-29", "12:00"),
                 id="a spring-forward business day still holds 24 wall-clock hours"),
]  # fmt: skip


@pytest.mark.parametrize(("calendar", "start", "hours", "expected"), ADD_BUSINESS_HOURS)
def test_adding_business_hours_lands_on_the_expected_local_time(
    calendar: MarketplaceCalendar, start: datetime, hours: int, expected: datetime
) -> None:
    result = add_business_hours(start, hours, calendar)
    assert result == expected
    assert result.tzinfo is UTC


STARTS = [
    paris("2026-03-13", "15:00"),  # Friday afternoon
    paris("2026-03-14", "10:00"),  # Saturday
    paris("2026-03-16"),  # Monday midnight (a holiday on one calendar)
    paris("2026-03-27", "23:59"),  # Friday before the clocks go forward
    paris("2026-10-23", "08:15"),  # Friday before the clocks go back
]


@pytest.mark.parametrize("calendar", [PARIS, PARIS_MONDAY_HOLIDAY, EVERY_DAY_IN_PARIS])
@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("days", [0, 1, 2, 3, 7, 30])
def test_twenty_four_business_hours_are_one_business_day_and_count_back_to_it(
    calendar: MarketplaceCalendar, start: datetime, days: int
) -> None:
    deadline = add_business_days(start, days, calendar)
    assert add_business_hours(start, 24 * days, calendar) == deadline
    assert business_days_between(start, deadline, calendar) == days
    assert business_days_between(start, deadline - timedelta(microseconds=1), calendar) == max(
        days - 1, 0
    )


BUSINESS_DAYS_BETWEEN = [
    pytest.param(PARIS, paris("2026-03-13", "15:00"), paris("2026-03-17", "15:00"), 2,
                 id="Friday afternoon to Tuesday afternoon is two business days"),
    pytest.param(PARIS, paris("2026-03-13", "15:00"), paris("2026-03-17", "14:59"), 1,
                 id="a minute short of two days is one whole day"),
    pytest.param(PARIS_MONDAY_HOLIDAY, paris("2026-03-13", "15:00"),
                 paris("2026-03-17", "15:00"), 1, id="a holiday is not counted"),
    pytest.param(PARIS, paris("2026-03-14", "10:00"), paris("2026-03-15", "22:00"), 0,
                 id="a weekend holds no business days"),
    pytest.param(PARIS, paris("2026-03-14", "10:00"), paris("2026-03-18"), 2,
                 id="Saturday to Wednesday midnight is Monday and Tuesday"),
    pytest.param(PARIS, paris("2026-03-16", "09:00"), paris("2026-03-23", "09:00"), 5,
                 id="a calendar week is five business days"),
    pytest.param(PARIS, paris("2026-03-17", "15:00"), paris("2026-03-13", "15:00"), -2,
                 id="an end before the start counts backwards"),
    pytest.param(PARIS, paris("2026-03-27", "15:00"), paris("2026-03-31", "15:00"), 2,
                 id="a DST change week counts on the local clock"),
]  # fmt: skip


@pytest.mark.parametrize(("calendar", "start", "end", "expected"), BUSINESS_DAYS_BETWEEN)
def test_business_days_between_counts_whole_business_days(
    calendar: MarketplaceCalendar, start: datetime, end: datetime, expected: int
) -> None:
    assert business_days_between(start, end, calendar) == expected


NAIVE = datetime(2026, 3, 13, 15)  # noqa: DTZ001 - the point of the test
AWARE = paris("2026-03-13", "15:00")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: add_business_days(NAIVE, 2, PARIS), id="add_business_days"),
        pytest.param(lambda: add_business_hours(NAIVE, 2, PARIS), id="add_business_hours"),
        pytest.param(lambda: business_days_between(NAIVE, AWARE, PARIS), id="between start"),
        pytest.param(lambda: business_days_between(AWARE, NAIVE, PARIS), id="between end"),
    ],
)
def test_a_naive_datetime_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: add_business_days(AWARE, -1, PARIS), id="days"),
        pytest.param(lambda: add_business_hours(AWARE, -1, PARIS), id="hours"),
    ],
)
def test_negative_business_time_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="zero or more"):
        call()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2026, 3, 13), True, id="a Friday is a business day"),
        pytest.param(date(2026, 3, 14), False, id="a Saturday is not"),
        pytest.param(date(2026, 3, 15), False, id="a Sunday is not"),
        pytest.param(MONDAY_16_MARCH, False, id="a holiday is not"),
        pytest.param(date(2026, 3, 17), True, id="the Tuesday after it is"),
    ],
)
def test_a_business_day_is_neither_weekend_nor_holiday(day: date, expected: bool) -> None:
    assert PARIS_MONDAY_HOLIDAY.is_business_day(day) is expected


def test_holidays_and_weekend_given_as_lists_are_kept_as_frozensets() -> None:
    calendar = MarketplaceCalendar(
        holidays=[MONDAY_16_MARCH],  # type: ignore[arg-type]
        weekend=[5, 6],  # type: ignore[arg-type]
    )
    assert calendar.holidays == frozenset({MONDAY_16_MARCH})
    assert calendar.weekend == frozenset({5, 6})
    assert hash(calendar)


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        pytest.param({"timezone": "Europe/Atlantis"}, ValueError, "unknown time zone",
                     id="an unknown time zone"),
        pytest.param({"weekend": frozenset(range(7))}, ValueError, "at least one business",
                     id="a week without business days"),
        pytest.param({"weekend": frozenset({7})}, ValueError, "0 \\(Monday\\) to 6",
                     id="a weekday out of range"),
        pytest.param({"holidays": frozenset({datetime(2026, 1, 1, tzinfo=UTC)})}, TypeError,
                     "must be dates", id="a datetime as a holiday"),
    ],
)  # fmt: skip
def test_a_calendar_that_cannot_work_is_refused(
    settings: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        MarketplaceCalendar(**settings)  # type: ignore[arg-type]
