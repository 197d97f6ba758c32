"""Timekeepers for tests that call the handlers directly, not about time bounds themselves."""

from __future__ import annotations

from typing import Final

from servicekit.eventtime import TimeBounds, Timekeeper
from servicekit.kafka import utc_now

WALL_CLOCK: Final = Timekeeper("wall", TimeBounds(), utc_now)
"""The service's default: the rules on real time; only a time after the wall clock is refused."""
