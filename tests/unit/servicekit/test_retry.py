"""The backoff policy and the retry helper, without any server."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from servicekit.retry import Backoff, is_transient, retry_transient


def test_delays_grow_exponentially_from_the_initial_delay_up_to_the_cap() -> None:
    policy = Backoff(initial_seconds=0.1, max_seconds=1.0, multiplier=2.0, jitter=0.0)
    assert [policy.delay(attempt) for attempt in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_jitter_only_ever_shortens_a_delay_by_at_most_its_fraction() -> None:
    policy = Backoff(initial_seconds=1.0, max_seconds=1.0, jitter=0.25)
    assert policy.delay(1, random_fraction=0.0) == 1.0
    assert policy.delay(1, random_fraction=0.999) == pytest.approx(0.75, abs=1e-3)
    assert all(0.75 <= policy.delay(1) <= 1.0 for _ in range(200))


def test_a_very_late_attempt_still_gets_the_capped_delay_instead_of_overflowing() -> None:
    policy = Backoff(initial_seconds=0.1, max_seconds=5.0, jitter=0.0)
    assert policy.delay(100_000) == 5.0


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"initial_seconds": 0.0}, "initial_seconds"),
        ({"initial_seconds": 2.0, "max_seconds": 1.0}, "max_seconds"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"jitter": 1.5}, "jitter"),
    ],
)
def test_a_backoff_that_makes_no_sense_is_refused(
    settings: dict[str, float], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        Backoff(**settings)


def test_attempts_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        Backoff().delay(0)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("gone"),
        asyncpg.exceptions.CannotConnectNowError("starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.SerializationError("could not serialize"),
        asyncpg.InterfaceError("connection is closed"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        KafkaConnectionError("broker down"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_outages_and_lost_races_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad amount"),
        KeyError("order_id"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError("no such table"),
        asyncpg.exceptions.QueryCanceledError("statement timeout"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_bugs_and_bad_data_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


class _Flaky:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


async def test_transient_faults_are_retried_with_the_policys_delays_until_success() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    operation = _Flaky([OSError("down"), TimeoutError(), OSError("still down")])
    policy = Backoff(initial_seconds=0.1, max_seconds=10.0, jitter=0.0)
    result = await retry_transient(operation, backoff=policy, what="test", sleep=sleep)
    assert result == "done"
    assert operation.calls == 4
    assert slept == [0.1, 0.2, 0.4]


async def test_a_non_transient_error_is_raised_at_once_without_retrying() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("must not wait")

    operation = _Flaky([ValueError("bad input")])
    with pytest.raises(ValueError, match="bad input"):
        await retry_transient(operation, backoff=Backoff(), what="test", sleep=sleep)
    assert operation.calls == 1


async def test_with_a_limit_the_last_transient_fault_is_raised() -> None:
    async def sleep(seconds: float) -> None:
        pass

    operation = _Flaky([OSError("1"), OSError("2"), OSError("3")])
    with pytest.raises(OSError, match="2"):
        await retry_transient(
            operation, backoff=Backoff(), what="test", max_attempts=2, sleep=sleep
        )
    assert operation.calls == 2


async def test_the_caller_decides_what_is_transient() -> None:
    async def sleep(seconds: float) -> None:
        pass

    def lost_commits_are_final(error: BaseException) -> bool:
        return is_transient(error) and not isinstance(error, CommitFailedError)

    operation = _Flaky([CommitFailedError("rebalanced")])
    with pytest.raises(CommitFailedError):
        await retry_transient(
            operation,
            backoff=Backoff(),
            what="commit",
            transient=lost_commits_are_final,
            sleep=sleep,
        )
