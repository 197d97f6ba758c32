"""How a background loop reports on itself, and what the probes make of it.

Every loop of a service (the consumer, the outbox relay, a deadline scheduler, a day-boundary
refresh) records each pass: one that worked, or one that failed. From that:

* **ready** means every loop's last pass worked: a service whose relay cannot reach Kafka, or
  whose scheduler cannot reach PostgreSQL, is not ready, so a load balancer stops sending to it;
* **live** means every loop is still making passes, worked or failed: a loop that has made none
  for ``wedged_after`` is stuck beyond any retry, and only a restart (the orchestrator's, on a
  failed liveness probe) can help. A loop that keeps failing is alive: it is riding out an outage
  and will recover by itself, which a restart would not speed up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass
class LoopHealth:
    """One loop's passes: when the last one ran, and since when they fail (None: they work)."""

    name: str
    clock: Clock = time.monotonic
    last_pass: float = field(default=0.0)
    failing_since: float | None = None
    last_error: str | None = None

    def __post_init__(self) -> None:
        self.last_pass = self.clock()

    def worked(self) -> None:
        """A pass that did its job (or found nothing to do)."""
        self.last_pass = self.clock()
        self.failing_since = None
        self.last_error = None

    def failed(self, error: BaseException) -> None:
        """A pass that failed; the loop will try again."""
        now = self.clock()
        self.last_pass = now
        if self.failing_since is None:
            self.failing_since = now
        self.last_error = f"{type(error).__name__}: {error}"

    @property
    def healthy(self) -> bool:
        return self.failing_since is None

    def wedged(self, after: float) -> bool:
        """No pass at all for ``after`` seconds: stuck, not recovering."""
        return self.clock() - self.last_pass > after

    def report(self) -> dict[str, object]:
        """What the probes show of this loop."""
        found: dict[str, object] = {"healthy": self.healthy}
        if self.failing_since is not None:
            found["failing_for_seconds"] = round(self.clock() - self.failing_since, 1)
            found["error"] = self.last_error
        return found
