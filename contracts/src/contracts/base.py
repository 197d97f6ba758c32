"""Building blocks shared by every contract: the frozen base model, identifiers, money, time, text.

What validation accepts is what the published JSON Schemas say, and what serialization writes
is accepted again:

- Money is a ``Decimal`` amount with an ISO 4217 currency whose minor unit bounds the precision
  (12.345 EUR is refused, 1000 JPY is fine, 1.5 JPY is not). On the wire the amount is a JSON
  string of ASCII digits, ``"50.00"``, never an exponent, a sign or another script's digits.
- Times are RFC 3339 date-times with an offset (a naive datetime fails validation wherever it
  appears), between :data:`EARLIEST_TIME` and :data:`LATEST_TIME`.
- Free text refuses control characters; carriers and tracking ids refuse even tabs and newlines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

SCHEMA_VERSION_1: Final = 1


class Contract(BaseModel):
    """Base of every payload: immutable, and unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"),
]
"""An opaque id (order, claim, seller, buyer...): 1-64 characters, no spaces."""

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")]
"""The id of a guarantee rule, dotted lower case (``decision.silent_seller_pays``)."""

LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
"""A BCP 47 language tag of the simple kind (``fr``, ``es-MX``)."""

Count = Annotated[int, Strict(), Field(ge=0)]
"""A number of things: a JSON integer, never a string or a float."""

# Control characters, as regex ranges that read the same in Python and in ECMA-262 (the
# dialect of JSON Schema's "pattern"): all are BMP code points, so UTF-16 code units and code
# points agree. A NUL is refused by PostgreSQL after intake has answered 202, and the others
# corrupt logs, terminals and CSV exports; TAB, LF and CR are how people write text.
_C0_BUT_TAB_LF_CR: Final = r"\u0000-\u0008\u000b\u000c\u000e-\u001f"
_C0: Final = r"\u0000-\u001f"
_DEL_AND_C1: Final = r"\u007f-\u009f"
# Lone surrogates (half of a UTF-16 pair) need no rule: pydantic's JSON parser refuses them
# and so does its length-constrained str from Python code. Nor could a pattern say it: an
# ECMA-262 engine without the "u" flag sees every emoji as two surrogates.


@dataclass(frozen=True, slots=True)
class NoControlCharacters:
    """Annotation for a ``str``: refuses control characters naming the first one and where it is,
    and publishes the same rule as the JSON Schema ``pattern``.

    Free text keeps TAB, LF and CR (``keep_tabs_and_line_breaks``); a code such as a carrier or
    a tracking id has no use for them.
    """

    keep_tabs_and_line_breaks: bool = False

    @property
    def _controls(self) -> str:
        return (_C0_BUT_TAB_LF_CR if self.keep_tabs_and_line_breaks else _C0) + _DEL_AND_C1

    @property
    def pattern(self) -> str:
        """The ECMA-262 pattern a valid string matches."""
        return f"^[^{self._controls}]*$"

    def check(self, value: str) -> str:
        found = re.search(f"[{self._controls}]", value)
        if found is not None:
            raise PydanticCustomError(
                "control_character",
                "control characters are not allowed (found {code_point} at character {position})",
                {"code_point": f"U+{ord(found.group()):04X}", "position": found.start() + 1},
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    NoControlCharacters(keep_tabs_and_line_breaks=True),
]
"""Free text written by a person (a description, a note, a message): 1-2000 characters."""

# The range of every Timestamp. Nothing the platform handles happened before 2000 or is due
# after 2100, and inside these bounds nothing downstream can overflow or jump decades: the
# scheduler adds deadlines (+72 h, +30 days) without reaching datetime.max, and metrics windows
# stay a few years wide. A typo like 9999-12-31 is refused here, naming the field.
EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME: Final = datetime(2100, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)

# RFC 3339 section 5.6 date-time: what a JSON Schema "date-time" means. Pydantic's own parser
# also takes a space for the T, a missing seconds field, "+0100" and a Unix epoch in a string.
_RFC_3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"  # full-date
    r"[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"  # partial-time, seconds required
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"  # time-offset, required
)
_TIME_EXPECTED: Final = (
    'expected an RFC 3339 date-time with a timezone offset, like "2026-03-10T08:00:00Z" '
    'or "2026-03-10T09:00:00+01:00"'
)


def _rfc_3339_text(value: object) -> object:
    """Let through a datetime from Python code, or a string in RFC 3339 form for pydantic to
    parse; refuse anything else (a JSON number would otherwise be read as a Unix epoch)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", _TIME_EXPECTED + ", as a string")
    if _RFC_3339.fullmatch(value) is None:
        raise PydanticCustomError("datetime_format", _TIME_EXPECTED)
    return value


def _in_bounds(value: datetime) -> datetime:
    """Within the platform's range, with an offset in whole minutes (one check, not two: it
    runs for every time of every message)."""
    if not EARLIEST_TIME <= value <= LATEST_TIME:
        raise PydanticCustomError(
            "datetime_range",
            "expected a time from {earliest} to {latest} (UTC)",
            {"earliest": f"{EARLIEST_TIME:%Y-%m-%d}", "latest": f"{LATEST_TIME:%Y-%m-%d}"},
        )
    # Python allows an offset with seconds; RFC 3339 (and so serialization) has only minutes,
    # so such a time would come back moved. (A timedelta keeps its seconds in 0..86399, so
    # this holds for negative offsets too.)
    offset = value.utcoffset()
    if offset and (offset.seconds % 60 or offset.microseconds):
        raise PydanticCustomError("datetime_offset", "expected an offset in whole minutes")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc_3339_text), AfterValidator(_in_bounds)]
"""A point in time with its offset, from :data:`EARLIEST_TIME` to :data:`LATEST_TIME`.

Naive datetimes, numbers and every form but RFC 3339 date-time are refused."""

# ISO 4217 codes the platform accepts, with their minor unit (digits after the point). A
# marketplace launching in a new currency adds it here, in one place.
CURRENCY_MINOR_UNITS: Final[dict[str, int]] = {
    "AED": 2, "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2,
    "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "INR": 2, "JPY": 0, "KRW": 0,
    "KWD": 3, "MXN": 2, "NOK": 2, "NZD": 2, "PLN": 2, "SAR": 2, "SEK": 2, "SGD": 2,
    "TRY": 2, "USD": 2, "ZAR": 2,
}  # fmt: skip


def _known_currency(code: str) -> str:
    if code not in CURRENCY_MINOR_UNITS:
        raise ValueError(
            f"unknown currency {code!r}: expected an ISO 4217 code the platform supports"
        )
    return code


CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_known_currency),
    WithJsonSchema({"type": "string", "enum": sorted(CURRENCY_MINOR_UNITS)}),
]

# Amounts travel as strings so no JSON parser turns them into binary floats: this is the one
# form read and written. Decimal() alone also reads "1e3", " +10", "10_0" and full-width
# digits, and str(Decimal) writes "1E+3": a consumer checking the published schema would
# refuse what such a producer sends.
AMOUNT_PATTERN: Final = r"^[0-9]{1,12}(\.[0-9]{1,3})?$"
# fullmatch, not search: Python's "$" also matches before a final newline.
_AMOUNT_FORM: Final = re.compile(AMOUNT_PATTERN)
_AMOUNT_EXPECTED: Final = (
    "expected a decimal amount as a string of 1 to 12 digits, optionally a point and 1 to 3 "
    'decimals, like "50.00"'
)


def _amount_text(value: object) -> object:
    """A Decimal from Python code as it is, a string only in the published form.

    A negative amount in that form goes on to the bound (``ge``/``gt``), so it is refused with
    the same sentence as in Python code ("Input should be greater than 0").
    """
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("amount_type", _AMOUNT_EXPECTED)
    if _AMOUNT_FORM.fullmatch(value) or (
        value.startswith("-") and _AMOUNT_FORM.fullmatch(value[1:]) and Decimal(value) != 0
    ):
        return Decimal(value)
    raise PydanticCustomError("amount_format", _AMOUNT_EXPECTED)


def _unsigned_zero(value: Decimal) -> Decimal:
    # -0.00 passes ge=0 and would be written "-0.00", outside the pattern.
    return value.copy_abs() if value.is_zero() else value


def _fixed_point(value: Decimal) -> str:
    # Never exponent form, whatever Python code computed: str(Decimal("100.00").normalize())
    # is "1E+2".
    return format(value, "f")


AmountText = Annotated[
    Decimal,
    BeforeValidator(_amount_text),
    AfterValidator(_unsigned_zero),
    PlainSerializer(_fixed_point, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["50.00"]}),
]
"""A Decimal read and written only in the published form; Money adds the bounds."""


RATIO_PATTERN: Final = r"^(0(\.[0-9]+)?|1(\.0+)?)$"
_RATIO_FORM: Final = re.compile(RATIO_PATTERN)


def _ratio_text(value: object) -> object:
    """A Decimal from Python code as it is, a string only as a plain fraction from 0 to 1."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and _RATIO_FORM.fullmatch(value):
        return Decimal(value)
    raise PydanticCustomError(
        "ratio_format", 'expected a fraction from 0 to 1 as a decimal string, like "0.0125"'
    )


Ratio = Annotated[
    Decimal,
    BeforeValidator(_ratio_text),
    Field(ge=0, le=1),
    PlainSerializer(_fixed_point, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": RATIO_PATTERN, "examples": ["0.0125"]}),
]
"""A rate or a target (defective orders / orders): exact, written without an exponent even
for a rate as small as one in a hundred million."""


class Money(Contract):
    """An amount in a currency. Never a float: ``Decimal`` in Python, a string in JSON."""

    # 15 digits of which at most 3 decimals: the pattern's 12 integer digits, for a Decimal from
    # Python code too.
    amount: Annotated[AmountText, Field(ge=0, allow_inf_nan=False, max_digits=15, decimal_places=3)]
    currency: CurrencyCode

    @model_validator(mode="after")
    def _precision_fits_currency(self) -> Money:
        exponent = self.amount.as_tuple().exponent
        digits = CURRENCY_MINOR_UNITS[self.currency]
        if isinstance(exponent, int) and -exponent > digits:
            raise ValueError(
                f"amount {self.amount} has more decimal places "
                f"than {self.currency} allows ({digits})"
            )
        return self


class PositiveMoney(Money):
    """Money that must be more than zero (an amount claimed or refunded)."""

    # The same field as Money's with gt instead of ge: zero and a negative amount are refused
    # with one sentence, on the amount itself.
    amount: Annotated[AmountText, Field(gt=0, allow_inf_nan=False, max_digits=15, decimal_places=3)]
