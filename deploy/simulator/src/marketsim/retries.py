"""How the simulator retries a call on intake: pure, so the rule is tested without a network.

A client of the platform rides out a restart instead of giving up: it retries what may succeed
later (no answer at all, 429, 5xx) with exponential backoff and full jitter, waits at least what
``Retry-After`` asks, and gives up only after ``budget`` seconds, long enough to outlast a
service's restart. What it then abandons is reported as abandoned, never as the platform's
wrong outcome. A 4xx other than 429 is the request's own fault: retrying cannot help.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff from ``first`` doubling up to ``longest``, for at most ``budget`` seconds."""

    budget: float = 60.0
    first: float = 0.2
    longest: float = 5.0

    def worth_retrying(self, status: int | None) -> bool:
        """None: no answer at all (connection refused, reset, timed out)."""
        return status is None or status in RETRYABLE_STATUSES

    def wait(self, attempt: int, retry_after: str | None, rng: random.Random) -> float:
        """Seconds before attempt ``attempt + 1`` (``attempt`` counts from 0): full jitter
        over the backoff, and never less than a ``Retry-After`` the service gave."""
        backoff = rng.uniform(0, min(self.longest, self.first * 2**attempt))
        asked = _seconds(retry_after)
        return max(backoff, min(asked, self.longest * 2)) if asked is not None else backoff


def _seconds(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        value = float(header)
    except ValueError:
        return None  # an HTTP date, or nonsense: the backoff stands
    return value if value >= 0 else None
