"""Building blocks shared by every contract: the frozen base model, identifiers, money and time.

Money is a ``Decimal`` amount with an ISO 4217 currency whose minor unit bounds the precision
(12.345 EUR is refused, 1000 JPY is fine, 1.5 JPY is not). Times are timezone-aware only: a
naive datetime fails validation wherever it appears.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

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

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


def _text_or_value(kind: str, accepted: tuple[type, ...]) -> BeforeValidator:
    """Refuse JSON numbers and booleans where the schema promises a string.

    Pydantic's lax mode would read ``0`` as the Unix epoch or as an amount; a contract that
    says "string" means it, so such input fails naming the field.
    """

    def check(value: object) -> object:
        if isinstance(value, (str, *accepted)):
            return value
        raise ValueError(f"expected {kind} as a string")

    return BeforeValidator(check)


Timestamp = Annotated[
    AwareDatetime, _text_or_value("an RFC 3339 date-time with offset", (datetime,))
]
"""A point in time with its offset; naive datetimes and numbers are refused."""

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

# Amounts travel as strings so no JSON parser turns them into binary floats. The schema says
# so; validation also takes a JSON number, for lenient producers.
AmountText = WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,3})?$", "examples": ["50.00"]}
)


class Money(Contract):
    """An amount in a currency. Never a float: ``Decimal`` in Python, a string in JSON."""

    amount: Annotated[
        Decimal,
        Field(ge=0, allow_inf_nan=False, max_digits=14),
        _text_or_value("a decimal amount", (Decimal,)),
        AmountText,
    ]
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
    amount: Annotated[
        Decimal,
        Field(gt=0, allow_inf_nan=False, max_digits=14),
        _text_or_value("a decimal amount", (Decimal,)),
        AmountText,
    ]
