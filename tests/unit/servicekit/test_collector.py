"""A served process collects garbage less often, and never scans what start-up made again."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from servicekit.collector import THRESHOLDS, tune_for_service


@pytest.fixture
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored")
def test_tuning_freezes_start_up_objects_and_raises_the_thresholds() -> None:
    made_at_start_up = [object() for _ in range(10)]
    tune_for_service()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() >= len(made_at_start_up)
