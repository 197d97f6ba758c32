"""Timekeepers and policy files for tests that call the handlers directly or start a service,
not about time bounds themselves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from contracts.policy import DEFAULT_POLICY_FILE, load_policy
from servicekit.eventtime import TimeBounds, Timekeeper
from servicekit.kafka import utc_now

DEFAULT_BOUNDS: Final = TimeBounds.from_document(load_policy())
"""The shipped policy's time bounds."""
WALL_CLOCK: Final = Timekeeper("wall", DEFAULT_BOUNDS, utc_now)
"""The service's default: the rules on real time; only a time after the wall clock is refused."""


def policy_file(directory: Path, **numbers: float) -> Path:
    """The shipped policy document with ``numbers`` (keys of its tables, each said once there)
    changed, written in ``directory``."""
    text = DEFAULT_POLICY_FILE.read_text()
    for key, value in numbers.items():
        text, found = re.subn(rf"(?m)^{key} = \S+", f"{key} = {value}", text)
        assert found == 1, f"{key} is not a number of the policy document"
    path = directory / "policy.toml"
    path.write_text(text)
    load_policy(path)  # what the service will read must be valid
    return path
