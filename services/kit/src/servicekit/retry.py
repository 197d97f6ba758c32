"""Retrying transient faults: a pure exponential backoff policy and one async helper.

A transient fault is one that goes away by itself: the database or the broker is restarting,
unreachable, or slow. Those are retried with a growing, capped delay and never turned into a
dead letter. Anything else is a bug or a bad message and is raised at once, for the caller to
decide (isolate the message, or stop).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import asyncpg
import structlog
from aiokafka.errors import KafkaError

log = structlog.get_logger(__name__)

T = TypeVar("T")

TRANSIENT_ERRORS: Final[tuple[type[BaseException], ...]] = (
    # Connection lost, refused or never established (asyncpg raises both families).
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # The server is shutting down, starting up, or was restarted under us.
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # Concurrency losers: the same transaction succeeds when simply run again.
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    OSError,
    TimeoutError,
    KafkaError,
)
"""Exception classes that mean "try the same thing again later"."""

# Statement timeouts and cancellations are OperatorInterventionError too, but a statement that
# timed out will time out again: that is a slow query to fix, not an outage to wait out.
_NOT_TRANSIENT: Final[tuple[type[BaseException], ...]] = (asyncpg.exceptions.QueryCanceledError,)

# 2 ** 64 already exceeds any cap; bounding the exponent keeps the arithmetic finite forever.
_MAX_EXPONENT: Final = 64


def is_transient(error: BaseException) -> bool:
    """True when ``error`` is an outage (database or broker) worth retrying, not a bad input."""
    return isinstance(error, TRANSIENT_ERRORS) and not isinstance(error, _NOT_TRANSIENT)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: ``initial * multiplier ** (attempt - 1)``, capped, minus some jitter.

    ``jitter`` is the fraction of the delay that may be taken off at random, so that many
    consumers that failed together do not all come back at the same instant.
    """

    initial_seconds: float = 0.2
    max_seconds: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.initial_seconds <= 0 or self.max_seconds < self.initial_seconds:
            raise ValueError("need 0 < initial_seconds <= max_seconds")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction between 0 and 1")

    def delay(self, attempt: int, *, random_fraction: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 for the first failure).

        ``random_fraction`` in [0, 1) makes the result deterministic (tests); by default it is
        drawn at random.
        """
        if attempt < 1:
            raise ValueError("attempts are counted from 1")
        exponent = min(attempt - 1, _MAX_EXPONENT)
        base = min(self.max_seconds, self.initial_seconds * self.multiplier**exponent)
        fraction = random.random() if random_fraction is None else random_fraction  # noqa: S311  # jitter, not security
        return base * (1 - self.jitter * fraction)


Sleep = Callable[[float], Awaitable[object]]


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    what: str,
    max_attempts: int | None = None,
    transient: Callable[[BaseException], bool] = is_transient,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """Run ``operation`` until it succeeds, sleeping per ``backoff`` after each transient fault.

    Non-transient exceptions propagate at once. With ``max_attempts`` unset it never gives up:
    an outage is waited out, never turned into lost or dead-lettered data. ``what`` names the
    operation in the warning logged at each retry.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except Exception as error:
            if not transient(error) or (max_attempts is not None and attempt >= max_attempts):
                raise
            delay = backoff.delay(attempt)
            log.warning(
                "retry.transient_fault",
                operation=what,
                attempt=attempt,
                retry_in=round(delay, 3),
                error=f"{type(error).__name__}: {error}",
            )
            await sleep(delay)
