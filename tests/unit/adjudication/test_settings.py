"""Every number of the guarantee comes from the policy document the settings name
(ADJUDICATION_POLICY_FILE; Amazon's numbers in policies/default.toml by default)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from adjudication import lifecycle
from adjudication.policy import default_policy
from adjudication.settings import AdjudicationSettings
from contracts.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy
from tests.unit.adjudication.builders import ESTIMATED_DELIVERY, filing, order_facts, placed

DEFAULT_TEXT = DEFAULT_POLICY_FILE.read_text()


def _document(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    text = DEFAULT_TEXT
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "candidate.toml"
    path.write_text(text)
    return path


def test_by_default_the_service_follows_the_shipped_document_with_amazons_numbers() -> None:
    policy = AdjudicationSettings().policy()
    assert policy == default_policy()
    assert policy.seller_response_window == timedelta(hours=72)
    assert policy.claim_cap == Decimal(2500)
    assert policy.version == load_policy().version


def test_the_numbers_come_from_the_document_the_settings_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _document(
        tmp_path,
        ("seller_response_hours = 72", "seller_response_hours = 48"),
        ('claim_cap = "2500"', 'claim_cap = "1000"'),
        ('contact_window_unit = "business_days"', 'contact_window_unit = "business_hours"'),
        ("[reasons.not_received]\ncontact_first = true",
         "[reasons.not_received]\ncontact_first = false"),
        ("# [marketplaces.fr]\n# timezone", "[marketplaces.fr]\ntimezone"),
        ("# weekend = [5, 6]\n# holidays = [2026-05-01, 2026-07-14]\n# language",
         "weekend = [5, 6]\nholidays = [2026-05-01]\nlanguage"),
    )  # fmt: skip
    monkeypatch.setenv("ADJUDICATION_POLICY_FILE", str(path))
    policy = AdjudicationSettings().policy()
    assert policy.seller_response_window == timedelta(hours=48)
    assert policy.claim_cap == Decimal(1000)
    assert policy.contact_window_unit == "business_hours"
    assert "not_received" not in policy.contact_first_required_for
    assert "damaged" in policy.contact_first_required_for
    assert policy.calendar_for("fr").holidays == frozenset({date(2026, 5, 1)})
    assert policy.language_for("fr") == "fr"
    assert policy.language_for("de") == "en"
    assert policy.version is not None
    assert policy.version.digest != default_policy().version.digest  # type: ignore[union-attr]


def test_an_invalid_document_is_refused_with_the_field_named(tmp_path: Path) -> None:
    path = _document(tmp_path, ("seller_response_hours = 72", "seller_response_hours = 0"))
    with pytest.raises(PolicyError, match=r"guarantee\.seller_response_hours: .*greater than"):
        AdjudicationSettings(policy_file=path).policy()


def test_a_language_without_sentences_is_refused_at_load_not_replaced(tmp_path: Path) -> None:
    path = _document(tmp_path, ('supported = ["en", "fr", "es"]', 'supported = ["en", "de"]'))
    with pytest.raises(PolicyError, match=r"languages\.supported: no sentences in de"):
        AdjudicationSettings(policy_file=path).policy()


def test_a_denial_speaks_the_marketplaces_language_when_the_buyer_gave_none() -> None:
    policy = replace(default_policy(), languages={"fr": "fr"})
    transition = lifecycle.file_claim(
        filing(amount="100.01", language=None),
        facts=order_facts(),
        open_claim=None,
        now=ESTIMATED_DELIVERY + timedelta(days=3),
        policy=policy,
    )
    assert transition.events[-1].message.language == "fr"  # type: ignore[attr-defined]


def test_a_denial_speaks_the_language_the_buyer_gave_on_the_order() -> None:
    facts = order_facts(placed(buyer_language="es"), with_defaults=False)
    transition = lifecycle.file_claim(
        filing(amount="100.01", language=None),
        facts=facts,
        open_claim=None,
        now=ESTIMATED_DELIVERY + timedelta(days=3),
        policy=replace(default_policy(), languages={"fr": "fr"}),
    )
    assert transition.events[-1].message.language == "es"  # type: ignore[attr-defined]
