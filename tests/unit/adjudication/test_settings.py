"""Every number of the guarantee is a setting, read from ADJUDICATION_* variables."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from adjudication import lifecycle
from adjudication.policy import Policy
from adjudication.settings import AdjudicationSettings
from tests.unit.adjudication.builders import ESTIMATED_DELIVERY, filing, order_facts, placed


def test_defaults_are_amazons() -> None:
    assert AdjudicationSettings().policy() == Policy()


def test_the_numbers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJUDICATION_SELLER_RESPONSE_HOURS", "48")
    monkeypatch.setenv("ADJUDICATION_CLAIM_CAP", "1000")
    monkeypatch.setenv("ADJUDICATION_CONTACT_WINDOW_UNIT", "business_hours")
    monkeypatch.setenv("ADJUDICATION_CONTACT_FIRST_REQUIRED_FOR", '["damaged"]')
    monkeypatch.setenv(
        "ADJUDICATION_MARKETPLACES",
        '{"fr": {"timezone": "Europe/Paris", "holidays": ["2026-05-01"], "language": "fr"}}',
    )
    policy = AdjudicationSettings().policy()
    assert policy.seller_response_window == timedelta(hours=48)
    assert policy.claim_cap == Decimal(1000)
    assert policy.contact_window_unit == "business_hours"
    assert policy.contact_first_required_for == frozenset({"damaged"})
    assert policy.calendar_for("fr").holidays == frozenset({date(2026, 5, 1)})
    assert policy.language_for("fr") == "fr"
    assert policy.language_for("de") == "en"


def test_a_denial_speaks_the_marketplaces_language_when_the_buyer_gave_none() -> None:
    policy = Policy(languages={"fr": "fr"})
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
        policy=Policy(languages={"fr": "fr"}),
    )
    assert transition.events[-1].message.language == "es"  # type: ignore[attr-defined]
