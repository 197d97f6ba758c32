"""What if the seller had 48 hours instead of 72: exactly the claims whose seller answered
between 48 and 72 hours change, and the money moves with them; the same policy changes
nothing; a document the service would refuse is refused before anything is read."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contracts.claims import Actor, FileClaim, RefundResponse, RespondToClaim
from contracts.envelope import Envelope, Payload, wrap
from contracts.policy import DEFAULT_POLICY_FILE, PolicyDocument, load_policy, parse_policy
from tests.unit.adjudication.builders import (
    CONTACTED,
    ESTIMATED_DELIVERY,
    contacted,
    filing,
    placed,
    shipped,
)
from whatif.cli import app
from whatif.compare import Report, bucket_of, compare

FILED = ESTIMATED_DELIVERY + timedelta(days=3)
ANSWERED_AFTER = {0: 10, 1: 47, 2: 49, 3: 60, 4: 71, 5: 73, 6: None}
"""Claim index -> hours after filing the seller refunded (None: never)."""


def _document(**guarantee: Any) -> PolicyDocument:
    raw = json.loads(load_policy().model_dump_json())
    raw["guarantee"].update({"automatic_filing": False, **guarantee})
    raw["name"] = "candidate" if guarantee else "baseline"
    return parse_policy(json.dumps(raw))


def _history() -> list[Envelope[Any]]:
    steps: list[tuple[Payload, Any]] = []
    for index, hours in ANSWERED_AFTER.items():
        order, claim, seller = f"o-{index}", f"c-{index}", f"seller-{index % 3}"
        ids = {"order_id": order, "seller_id": seller}
        steps += [
            (placed(**ids), ESTIMATED_DELIVERY - timedelta(days=7)),
            (shipped(**ids), ESTIMATED_DELIVERY - timedelta(days=6)),
            (contacted().model_copy(update=ids), CONTACTED),
        ]
        filed: FileClaim = filing(order_id=order, claim_id=claim)
        steps.append((filed, FILED))
        if hours is not None:
            refund = RespondToClaim(
                claim_id=claim, order_id=order, actor=Actor(role="seller", subject=seller),
                response=RefundResponse(amount=filed.amount),
            )  # fmt: skip
            steps.append((refund, FILED + timedelta(hours=hours)))
    ordered = sorted(enumerate(steps), key=lambda step: (step[1][1], step[0]))
    return [wrap(payload, source="/test", subject="s", time=at, event_id=f"in-{n}")
            for n, (payload, at) in ordered]  # fmt: skip


def _report(candidate: PolicyDocument) -> Report:
    inputs = _history()
    return compare(inputs, _document(), candidate, until=FILED + timedelta(days=10))


def test_48_hours_instead_of_72_changes_exactly_the_claims_answered_between_48_and_72_hours() -> (
    None
):
    report = _report(_document(seller_response_hours=48))
    expected = {f"c-{i}" for i, hours in ANSWERED_AFTER.items() if hours and 48 <= hours < 72}
    assert {change.claim_id for change in report.changed} == expected
    for change in report.changed:
        assert change.baseline is not None
        assert change.candidate is not None
        assert change.baseline.resolution == "refunded_by_seller"
        assert (change.candidate.resolution, change.candidate.funded_by) == ("granted", "seller")
        assert change.candidate.rule == "decision.silent_seller_pays"
    [group] = report.groups
    assert (group.reason, group.claims) == ("not_received", len(expected))


def test_the_money_moves_from_refunds_to_grants_by_the_changed_claims_amounts() -> None:
    report = _report(_document(seller_response_hours=48))
    moved = sum((change.amount for change in report.changed), Decimal(0))
    by_funder = {row.funder: row for row in report.money}
    assert by_funder["refunded"].difference == -moved
    assert by_funder["seller"].difference == moved


def test_a_policy_identical_to_the_baseline_changes_nothing() -> None:
    report = _report(_document())
    assert report.changed == ()
    assert report.groups == ()
    assert all(row.difference == 0 for row in report.money)
    assert report.sellers == ()
    assert all(b.baseline == b.candidate for b in report.odr_distribution)
    assert report.claims_baseline == report.claims_candidate == len(ANSWERED_AFTER)


def test_the_same_history_gives_the_same_report_every_run() -> None:
    candidate = _document(seller_response_hours=48)
    assert _report(candidate).model_dump_json() == _report(candidate).model_dump_json()


def test_rates_fall_in_the_bucket_whose_range_holds_them() -> None:
    assert bucket_of(Decimal(0)) == "0%"
    assert bucket_of(Decimal("0.004")) == "under 0.5%"
    assert bucket_of(Decimal("0.01")) == "1% to 2%"  # the target itself is at risk
    assert bucket_of(Decimal("0.5")) == "5% or more"


def test_an_invalid_candidate_is_refused_with_its_field_named_before_anything_is_read(
    tmp_path: Path,
) -> None:
    text = DEFAULT_POLICY_FILE.read_text().replace(
        "seller_response_hours = 72", "seller_response_hours = -48"
    )
    (tmp_path / "bad.toml").write_text(text)
    result = CliRunner().invoke(app, ["--policy", str(tmp_path / "bad.toml")])
    assert result.exit_code == 2
    assert "guarantee.seller_response_hours" in result.output


@pytest.mark.parametrize("moment", ["2026-03-01", "yesterday"])
def test_a_time_range_must_be_an_aware_iso_time(moment: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--policy", str(DEFAULT_POLICY_FILE), "--from", moment])
    assert result.exit_code == 2
    assert "--from" in result.output
