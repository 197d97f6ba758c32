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

from contracts import codec
from contracts.claims import Actor, FileClaim, RefundResponse, RespondToClaim
from contracts.envelope import Envelope, Payload, wrap
from contracts.orders import OrderFact
from contracts.policy import DEFAULT_POLICY_FILE, PolicyDocument, load_policy, parse_policy
from contracts.topics import CLAIMS_COMMANDS, ORDERS
from tests.unit.adjudication.builders import (
    CONTACTED,
    ESTIMATED_DELIVERY,
    contacted,
    filing,
    placed,
    shipped,
)
from whatif import history
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


def _records(inputs: list[Envelope[Any]]) -> history.Raw:
    """The inputs as the topics hold them, newest first (ordered() must sort them back)."""
    raw: history.Raw = []
    for offset, envelope in enumerate(inputs):
        topic = ORDERS if isinstance(envelope.data, OrderFact) else CLAIMS_COMMANDS
        raw.append((topic.name, 0, offset, codec.encode(envelope)))
    return raw[::-1]


def test_what_adjudication_dead_lettered_is_left_out_of_its_replay_alone() -> None:
    inputs = _history()
    refund = next(
        offset
        for offset, e in enumerate(inputs)
        if isinstance(e.data, RespondToClaim) and e.data.claim_id == "c-0"
    )
    records = _records(inputs)
    found = history.ordered(
        records,
        dead_letters={"adjudication": {(CLAIMS_COMMANDS.name, 0, refund)}, "metrics": set()},
    )
    assert [e.id for e in found.inputs] == [e.id for e in inputs]
    assert found.refused == {"adjudication": frozenset({refund}), "metrics": frozenset()}
    until = FILED + timedelta(days=10)
    kept = compare(found.inputs, _document(), _document(), until=until)
    skipped = compare(found.inputs, _document(), _document(), until=until, refused=found.refused)
    assert kept.skipped == {}
    assert skipped.skipped == {"adjudication": 1, "metrics": 0}

    def refunded(report: Report) -> Decimal:
        return sum((m.baseline for m in report.money if m.funder == "refunded"), Decimal(0))

    # The seller's refund never reached the live service: its claim went to silence instead.
    amount = next(
        e.data.amount.amount
        for e in inputs
        if isinstance(e.data, FileClaim) and e.data.claim_id == "c-0"
    )
    assert refunded(kept) - refunded(skipped) == amount
