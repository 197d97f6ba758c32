"""How far each service believes a stated time is the policy document's [time] table, named by
its ``<SVC>_POLICY_FILE``: one place for the five minutes and the seven days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adjudication.settings import AdjudicationSettings
from contracts.policy import DEFAULT_POLICY_FILE, PolicyError
from intake.settings import IntakeSettings
from metrics.settings import MetricsSettings
from servicekit.eventtime import refusal_at_receipt
from tests.support.clocks import policy_file

WALL = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_by_default_a_stated_time_is_believed_five_minutes_ahead_and_a_week_ahead_on_event_time() -> (  # noqa: E501  # the sentence is the test
    None
):
    bounds = IntakeSettings().time_bounds()
    assert (bounds.max_skew, bounds.max_step) == (timedelta(minutes=5), timedelta(days=7))


@pytest.mark.parametrize(
    ("settings", "prefix"),
    [
        (IntakeSettings, "INTAKE"),
        (AdjudicationSettings, "ADJUDICATION"),
        (MetricsSettings, "METRICS"),
    ],
)
def test_every_service_takes_its_bounds_from_the_document_its_settings_name(
    settings: type[IntakeSettings | AdjudicationSettings | MetricsSettings],
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = policy_file(tmp_path, max_clock_skew_seconds=30, event_clock_max_step_hours=2)
    monkeypatch.setenv(f"{prefix}_POLICY_FILE", str(path))
    bounds = settings().time_bounds()
    assert (bounds.max_skew, bounds.max_step) == (timedelta(seconds=30), timedelta(hours=2))


def test_a_tighter_skew_in_the_document_refuses_a_time_the_default_believes(tmp_path: Path) -> None:
    stated = WALL + timedelta(minutes=2)
    default = IntakeSettings().time_bounds()
    tight = IntakeSettings(policy_file=policy_file(tmp_path, max_clock_skew_seconds=60))
    assert refusal_at_receipt(stated, wall=WALL, mode="wall", bounds=default) is None
    refusal = refusal_at_receipt(stated, wall=WALL, mode="wall", bounds=tight.time_bounds())
    assert refusal == "is after the service's clock by more than 1 minute"


def test_a_document_without_time_bounds_is_refused_with_the_table_named(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_FILE.read_text()
    head, _, rest = text.partition("[time]")
    path = tmp_path / "policy.toml"
    path.write_text(head + rest.partition("\n\n")[2])
    with pytest.raises(PolicyError, match=r"time: Field required"):
        IntakeSettings(policy_file=path).time_bounds()


def test_a_skew_of_zero_is_refused_with_its_field_named(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_FILE.read_text().replace(
        "max_clock_skew_seconds = 300", "max_clock_skew_seconds = 0"
    )
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=r"time\.max_clock_skew_seconds: Input should be greater"):
        IntakeSettings(policy_file=path).time_bounds()
