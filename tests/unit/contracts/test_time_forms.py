"""Times are read only as RFC 3339 date-times with an offset, within the years 2000 to 2100.

Pydantic alone would also take a space for the 'T', a missing seconds field, an offset without
its colon, a Unix epoch in a string, and any year from 1 to 9999: a time consumers then add
deadlines to.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.base import EARLIEST_TIME, LATEST_TIME, Timestamp

TIMESTAMP: Final = TypeAdapter(Timestamp)

REFUSED_FORMS = [
    "2026-03-10 08:00:00Z",  # a space for the T
    "2026-03-10T08:00:00",  # no offset
    "2026-03-10T08:00Z",  # no seconds
    "2026-03-10",  # a date only
    "2026-03-10T08:00:00+0100",  # an offset without its colon
    "2026-03-10T08:00:00+01",  # an offset without minutes
    "2026-03-10T08:00:00.Z",  # a point with no fraction
    "2026-W11-2T08:00:00Z",  # a week date
    "20260310T080000Z",  # the basic (compact) form
    "1773129600",  # a Unix epoch in a string
    " 2026-03-10T08:00:00Z",
    "2026-03-10T08:00:00Z\n",
    "\uff12\uff10\uff12\uff16-03-10T08:00:00Z",  # 2026 in full-width digits
    "",
]


@pytest.mark.parametrize("text", REFUSED_FORMS)
def test_a_time_not_in_rfc_3339_form_is_refused_saying_what_is_expected(text: str) -> None:
    with pytest.raises(ValidationError, match="RFC 3339 date-time with a timezone offset"):
        TIMESTAMP.validate_json(json.dumps(text))
    with pytest.raises(ValidationError, match="RFC 3339 date-time with a timezone offset"):
        TIMESTAMP.validate_python(text)


@pytest.mark.parametrize(
    "text", ["2026-03-10T24:00:00Z", "2026-02-30T08:00:00Z", "2026-03-10T08:60:00Z"]
)
def test_a_time_in_the_right_form_that_does_not_exist_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="valid datetime"):
        TIMESTAMP.validate_json(json.dumps(text))


@pytest.mark.parametrize("value", ["1773129600", "1773129600.5", "true", "null"])
def test_a_time_that_is_not_a_json_string_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="as a string"):
        TIMESTAMP.validate_json(value)


@pytest.mark.parametrize(
    "text",
    [
        "1999-12-31T23:59:59Z",
        "2101-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2000-01-01T00:30:00+01:00",  # 1999 in UTC
        "2100-12-31T23:30:00-01:00",  # 2101 in UTC
    ],
)
def test_a_time_outside_the_years_2000_to_2100_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="from 2000-01-01 to 2100-12-31"):
        TIMESTAMP.validate_json(json.dumps(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-10T08:00:00Z", datetime(2026, 3, 10, 8, tzinfo=UTC)),
        ("2026-03-10t08:00:00z", datetime(2026, 3, 10, 8, tzinfo=UTC)),
        ("2026-03-10T09:00:00+01:00", datetime(2026, 3, 10, 8, tzinfo=UTC)),
        ("2026-03-10T02:30:00-05:30", datetime(2026, 3, 10, 8, tzinfo=UTC)),
        ("2026-03-10T08:00:00.25Z", datetime(2026, 3, 10, 8, 0, 0, 250_000, tzinfo=UTC)),
        ("2000-01-01T00:00:00Z", EARLIEST_TIME),
        ("2100-12-31T23:59:59.999999Z", LATEST_TIME),
    ],
)
def test_an_rfc_3339_time_within_range_is_accepted(text: str, expected: datetime) -> None:
    assert TIMESTAMP.validate_json(json.dumps(text)) == expected
    assert TIMESTAMP.validate_python(text) == expected


def test_the_range_is_the_years_2000_to_2100_in_utc() -> None:
    assert datetime(2000, 1, 1, tzinfo=UTC) == EARLIEST_TIME
    assert LATEST_TIME + timedelta(microseconds=1) == datetime(2101, 1, 1, tzinfo=UTC)


def test_a_datetime_from_python_code_is_accepted_when_aware_and_in_range() -> None:
    paris = timezone(timedelta(hours=1))
    when = datetime(2026, 3, 10, 9, tzinfo=paris)
    assert TIMESTAMP.validate_python(when) == when
    with pytest.raises(ValidationError, match="from 2000-01-01 to 2100-12-31"):
        TIMESTAMP.validate_python(datetime(9999, 12, 31, tzinfo=UTC))
    with pytest.raises(ValidationError, match="from 2000-01-01 to 2100-12-31"):
        TIMESTAMP.validate_python(datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC))
    with pytest.raises(ValidationError, match="timezone"):
        TIMESTAMP.validate_python(datetime(2026, 3, 10, 9))  # noqa: DTZ001  # naive on purpose


def test_an_offset_with_seconds_from_python_code_is_refused_as_rfc_3339_has_none() -> None:
    odd = timezone(timedelta(hours=1, seconds=30))
    with pytest.raises(ValidationError, match="offset in whole minutes"):
        TIMESTAMP.validate_python(datetime(2026, 3, 10, 9, tzinfo=odd))


def test_a_date_from_python_code_is_not_a_time() -> None:
    with pytest.raises(ValidationError, match="RFC 3339 date-time"):
        TIMESTAMP.validate_python(date(2026, 3, 10))


def test_the_schema_still_says_a_date_time_string() -> None:
    schema = TIMESTAMP.json_schema(mode="serialization")
    assert schema["type"] == "string"
    assert schema["format"] == "date-time"
