"""The metric's numbers come from the policy document's [odr] table (METRICS_POLICY_FILE)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from contracts.policy import DEFAULT_POLICY_FILE, PolicyError
from metrics import odr
from metrics.settings import MetricsSettings


def test_by_default_the_metric_is_amazons_60_days_and_one_percent() -> None:
    settings = MetricsSettings().odr()
    assert settings == odr.default_settings()
    assert (settings.window_days, settings.target) == (60, Decimal("0.01"))


def test_the_metric_follows_the_document_the_settings_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = DEFAULT_POLICY_FILE.read_text()
    text = text.replace("window_days = 60", "window_days = 90")
    text = text.replace('# deactivation_line = "0.02"', 'deactivation_line = "0.02"')
    (tmp_path / "candidate.toml").write_text(text)
    monkeypatch.setenv("METRICS_POLICY_FILE", str(tmp_path / "candidate.toml"))
    settings = MetricsSettings().odr()
    assert settings.window_days == 90
    assert settings.deactivation_line == Decimal("0.02")


def test_a_target_that_is_not_a_fraction_is_refused_with_its_field_named(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_FILE.read_text().replace('target = "0.01"', 'target = "1%"')
    (tmp_path / "candidate.toml").write_text(text)
    with pytest.raises(PolicyError, match=r"odr\.target: expected a fraction"):
        MetricsSettings(policy_file=tmp_path / "candidate.toml").odr()
