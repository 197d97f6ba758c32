"""Every denial and rejection reason has a sentence in English, French and Spanish, with its
parameters filled in and its dates and money written the way a reader of that language expects."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from string import Formatter
from typing import get_args

import pytest

from adjudication.messages import (
    ALL_REASONS,
    LANGUAGES,
    PARAMETERS,
    SUPPORTED_LANGUAGES,
    TEMPLATES,
    MessageParameter,
    buyer_message,
    buyer_message_from,
    format_date,
    format_money,
)
from contracts.base import Money
from contracts.claims import BuyerMessage, DenialReason, RejectionReason

EUR_CAP = Money(amount=Decimal("2500"), currency="EUR")
MARCH_12 = date(2026, 3, 12)

# A value for every parameter any sentence takes.
SAMPLE: dict[str, MessageParameter] = {
    "contact_until": MARCH_12,
    "earliest_date": MARCH_12,
    "latest_date": MARCH_12,
    "order_total": Money(amount=Decimal("99.90"), currency="EUR"),
    "cap": EUR_CAP,
    "currency": "EUR",
    "appeal_until": MARCH_12,
    "deadline": MARCH_12,
    "refunded": Money(amount=Decimal("40.00"), currency="EUR"),
    "remaining": Money(amount=Decimal("59.90"), currency="EUR"),
}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name is not None}


def test_every_contract_reason_has_a_sentence_and_a_parameter_list() -> None:
    denials, rejections = set(get_args(DenialReason)), set(get_args(RejectionReason))
    assert not denials & rejections, "a value in both literals would be ambiguous"
    assert set(TEMPLATES) == denials | rejections == ALL_REASONS
    assert set(PARAMETERS) == set(TEMPLATES)


@pytest.mark.parametrize("reason", sorted(ALL_REASONS))
def test_every_reason_is_translated_into_every_language_with_its_listed_parameters(
    reason: str,
) -> None:
    translations = TEMPLATES[reason]  # type: ignore[index]
    assert set(translations) == set(SUPPORTED_LANGUAGES)
    for language, template in translations.items():
        assert template.strip(), language
        assert _fields(template) == PARAMETERS[reason], language  # type: ignore[index]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("reason", sorted(ALL_REASONS))
def test_every_sentence_renders_into_a_valid_buyer_message(reason: str, language: str) -> None:
    message = buyer_message_from(reason, language, SAMPLE)
    assert message == BuyerMessage.model_validate(message.model_dump())
    assert message.language == language
    assert "{" not in message.text
    assert "}" not in message.text
    assert message.text.endswith(".")
    assert message.text[0].isupper()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "You can file this claim from March 12, 2026."),
        ("fr", "Vous pourrez déposer cette réclamation à partir du 12 mars 2026."),
        ("es", "Podrá presentar esta reclamación a partir del 12 de marzo de 2026."),
    ],
)
def test_filed_too_early_tells_the_buyer_when_to_come_back(language: str, expected: str) -> None:
    message = buyer_message("filed_too_early", language, earliest_date=MARCH_12)
    assert message.text == expected


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "The amount claimed is more than the guarantee's limit of EUR 2,500.00 per claim."),
        ("fr", "Le montant réclamé dépasse le plafond de la garantie, fixé à 2 500,00 EUR par "
               "réclamation."),
        ("es", "El importe reclamado supera el límite de la garantía, de 2.500,00 EUR por "
               "reclamación."),
    ],
)  # fmt: skip
def test_amount_over_cap_names_the_cap_in_the_readers_number_format(
    language: str, text: str
) -> None:
    assert buyer_message("amount_over_cap", language, cap=EUR_CAP).text == text


@pytest.mark.parametrize(
    ("language", "default_language", "expected"),
    [
        pytest.param("fr-CA", "en", "fr", id="fr-CA falls back to fr"),
        pytest.param("es-MX", "en", "es", id="es-MX falls back to es"),
        pytest.param("fr_BE", "en", "fr", id="an underscore tag is understood"),
        pytest.param("FR", "en", "fr", id="upper case is understood"),
        pytest.param("de", "es", "es", id="an unsupported language falls back to the default"),
        pytest.param("de-AT", "fr", "fr", id="an unsupported regional tag too"),
        pytest.param(None, "es", "es", id="no language falls back to the default"),
        pytest.param("", "fr", "fr", id="an empty language falls back to the default"),
        pytest.param("de", "it", "en", id="an unsupported default falls back to English"),
        pytest.param(None, "en", "en", id="English is the default default"),
    ],
)
def test_the_language_falls_back_from_region_to_language_to_default_to_english(
    language: str | None, default_language: str, expected: str
) -> None:
    message = buyer_message("claim_not_found", language, default_language=default_language)
    assert message.language == expected
    assert message.text == TEMPLATES["claim_not_found"][expected]


def test_the_default_language_defaults_to_english() -> None:
    assert buyer_message("unknown_order", "de").language == "en"


@pytest.mark.parametrize(
    ("reason", "given", "missing"),
    [
        pytest.param("filed_too_early", {}, "earliest_date", id="the only parameter"),
        pytest.param("amount_over_cap", {"order_total": EUR_CAP}, "cap",
                     id="a parameter of another reason does not stand in"),
        pytest.param("deadline_passed", {"Deadline": MARCH_12}, "deadline",
                     id="names are case sensitive"),
    ],
)  # fmt: skip
def test_a_missing_parameter_is_named_in_the_error(
    reason: str, given: dict[str, MessageParameter], missing: str
) -> None:
    with pytest.raises(ValueError, match=rf"{reason}.*needs parameter\(s\) {missing}"):
        buyer_message_from(reason, "fr", given)


def test_parameters_a_sentence_does_not_use_are_ignored() -> None:
    message = buyer_message_from("claim_already_open", "en", SAMPLE)
    assert message.text == "A claim is already open for this order."


@pytest.mark.parametrize("reason", ["changed_my_mind", "", "FILED_TOO_EARLY"])
def test_an_unknown_reason_raises_key_error(reason: str) -> None:
    with pytest.raises(KeyError, match="unknown reason"):
        buyer_message(reason, "en")


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        pytest.param(MARCH_12, "en", "March 12, 2026", id="en"),
        pytest.param(MARCH_12, "fr", "12 mars 2026", id="fr"),
        pytest.param(MARCH_12, "es", "12 de marzo de 2026", id="es"),
        pytest.param(date(2026, 8, 1), "fr", "1er août 2026", id="fr writes the first as 1er"),
        pytest.param(date(2026, 2, 1), "es", "1 de febrero de 2026", id="es first of month"),
        pytest.param(date(2027, 12, 31), "en", "December 31, 2027", id="en December"),
        pytest.param(datetime(2026, 3, 12, 23, 59, tzinfo=UTC), "fr", "12 mars 2026",
                     id="a datetime is written by its date"),
    ],
)  # fmt: skip
def test_dates_are_written_for_humans_per_language(
    value: date, language: str, expected: str
) -> None:
    assert format_date(value, language) == expected
    assert buyer_message("deadline_passed", language, deadline=value).text.count(expected) == 1


@pytest.mark.parametrize(
    ("amount", "currency", "language", "expected"),
    [
        pytest.param("2500", "EUR", "en", "EUR 2,500.00", id="en"),
        pytest.param("2500", "EUR", "fr", "2 500,00 EUR", id="fr"),
        pytest.param("2500", "EUR", "es", "2.500,00 EUR", id="es"),
        pytest.param("99.9", "USD", "en", "USD 99.90", id="cents are padded"),
        pytest.param("1234567.5", "EUR", "fr", "1 234 567,50 EUR", id="millions are grouped"),
        pytest.param("150000", "JPY", "es", "150.000 JPY", id="yen have no decimals"),
        pytest.param("12.345", "KWD", "en", "KWD 12.345", id="dinars have three"),
        pytest.param("0.50", "GBP", "fr", "0,50 GBP", id="less than one"),
    ],
)  # fmt: skip
def test_money_is_written_per_language_with_the_currency_decimals(
    amount: str, currency: str, language: str, expected: str
) -> None:
    money = Money(amount=Decimal(amount), currency=currency)
    assert format_money(money, language) == expected
    assert (
        buyer_message("amount_over_order_total", language, order_total=money).text.count(expected)
        == 1
    )


def test_text_parameters_are_used_as_given() -> None:
    message = buyer_message("contact_seller_first", "en", contact_until="Tuesday 3 p.m.")
    assert "by Tuesday 3 p.m., you can file a claim" in message.text


def test_a_parameter_of_an_unsupported_type_is_refused() -> None:
    with pytest.raises(TypeError, match="'cap'"):
        buyer_message("amount_over_cap", "en", cap=2500)  # type: ignore[arg-type]


def test_a_language_without_its_table_entry_is_never_written_in_another_languages_form() -> None:
    # German is not in the table: no date "12 de marzo" nor "March 12" passed off as German.
    with pytest.raises(KeyError):
        format_date(date(2026, 3, 12), "de")
    with pytest.raises(KeyError):
        format_money(Money(amount=Decimal(10), currency="EUR"), "de")


def test_a_buyer_asking_for_a_language_not_supported_is_told_in_which_one_they_are_written_to() -> (
    None
):
    message = buyer_message("claim_not_found", "de-DE", default_language="fr")
    assert message.language == "fr"


def test_the_supported_languages_are_the_tables_entries() -> None:
    assert tuple(LANGUAGES) == SUPPORTED_LANGUAGES
    for written in LANGUAGES.values():
        assert len(written.months) == 12
