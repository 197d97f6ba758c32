"""Amounts are read only in the published decimal form, and always written in it.

The schema promises ``^[0-9]{1,12}(\\.[0-9]{1,3})?$``: a JSON string of ASCII digits. Anything
Python's ``Decimal`` would also parse (exponents, signs, spaces, underscores, other scripts'
digits) is refused, and whatever Python code builds is written in that same fixed-point form.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts.base import Money, PositiveMoney

# 10.00 in full-width digits and 3 in Arabic-Indic: digits to Decimal(), not to the schema.
FULL_WIDTH_TEN = "\uff11\uff10.\uff10\uff10"
ARABIC_INDIC_THREE = "\u0663"

REFUSED_FORMS = [
    "1e3", "1E+3", "+10.00", " 10.00", "10.00 ", "10.00\n", ".5", "10.", "10_0", "1,00",
    "0x10", "Infinity", "NaN", "-0", "", FULL_WIDTH_TEN, ARABIC_INDIC_THREE, "1234567890123",
    "1.0000",
]  # fmt: skip


def _money_from_json(amount: object, *, currency: str = "EUR") -> Money:
    return Money.model_validate_json(json.dumps({"amount": amount, "currency": currency}))


@pytest.mark.parametrize("amount", REFUSED_FORMS)
def test_an_amount_not_in_the_published_form_is_refused_saying_what_is_expected(
    amount: str,
) -> None:
    for model in (Money, PositiveMoney):
        with pytest.raises(ValidationError, match="1 to 12 digits") as caught:
            model.model_validate_json(json.dumps({"amount": amount, "currency": "EUR"}))
        assert caught.value.errors()[0]["loc"] == ("amount",)


@pytest.mark.parametrize("amount", REFUSED_FORMS)
def test_python_code_passing_such_a_string_is_refused_too(amount: str) -> None:
    with pytest.raises(ValidationError, match="1 to 12 digits"):
        Money.model_validate({"amount": amount, "currency": "EUR"})


@pytest.mark.parametrize("amount", [10, 10.5, True, None, ["10"]])
def test_an_amount_that_is_not_a_json_string_is_refused(amount: object) -> None:
    with pytest.raises(ValidationError, match="as a string"):
        _money_from_json(amount)


def test_a_negative_amount_is_refused_by_the_bound_it_breaks() -> None:
    with pytest.raises(ValidationError, match="Input should be greater than or equal to 0"):
        _money_from_json("-1")
    with pytest.raises(ValidationError, match="Input should be greater than 0"):
        PositiveMoney.model_validate_json('{"amount": "-1", "currency": "EUR"}')


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("0", "EUR"), ("50.00", "EUR"), ("0.5", "EUR"), ("0050.00", "EUR"),
     ("999999999999.99", "EUR"), ("1000", "JPY"), ("12.345", "KWD")],
)  # fmt: skip
def test_an_amount_in_the_published_form_is_accepted(amount: str, currency: str) -> None:
    money = _money_from_json(amount, currency=currency)
    assert money.amount == Decimal(amount)


def test_a_decimal_from_python_code_is_still_accepted() -> None:
    assert Money(amount=Decimal("1E+3"), currency="EUR").amount == 1000
    assert PositiveMoney(amount=Decimal("50.00"), currency="EUR").amount == Decimal("50.00")


def test_more_than_twelve_integer_digits_are_refused_from_python_code_too() -> None:
    with pytest.raises(ValidationError, match="no more than 12 digits before the decimal point"):
        Money(amount=Decimal("1E+12"), currency="EUR")


@pytest.mark.parametrize(
    ("amount", "written"),
    [(Decimal("1E+3"), "1000"), (Decimal(2500), "2500"), (Decimal("2.5E+2"), "250"),
     (Decimal("1E+11"), "100000000000"), (Decimal("0E-2"), "0.00"),
     (Decimal("50.00") - Decimal("10.5"), "39.50"), (Decimal("-0.00"), "0.00"),
     (Decimal("999999999999.99"), "999999999999.99")],
)  # fmt: skip
def test_an_amount_is_always_written_in_fixed_point(amount: Decimal, written: str) -> None:
    text = Money(amount=amount, currency="EUR").model_dump_json()
    assert json.loads(text)["amount"] == written
    assert Money.model_validate_json(text).amount == amount


def test_python_code_still_reads_the_amount_as_a_decimal() -> None:
    dumped = Money(amount=Decimal("1E+3"), currency="EUR").model_dump()
    assert dumped["amount"] == Decimal(1000)
    assert isinstance(dumped["amount"], Decimal)
