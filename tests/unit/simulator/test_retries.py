"""The simulator rides out a restart: what it retries, how long it waits, when it gives up."""

from __future__ import annotations

import random

import pytest

from marketsim.retries import RetryPolicy

POLICY = RetryPolicy(budget=60, first=0.2, longest=5)


@pytest.mark.parametrize(
    ("status", "retried"),
    [(None, True), (429, True), (500, True), (502, True), (503, True), (504, True),
     (400, False), (401, False), (403, False), (404, False), (422, False)],
)  # fmt: skip
def test_only_what_may_succeed_later_is_retried(status: int | None, retried: bool) -> None:
    assert POLICY.worth_retrying(status) is retried


def test_the_backoff_doubles_with_full_jitter_and_stops_growing_at_its_cap() -> None:
    rng = random.Random(7)
    waits = [[POLICY.wait(attempt, None, rng) for _ in range(200)] for attempt in range(8)]
    assert all(0 <= w <= min(5, 0.2 * 2**a) for a, ws in enumerate(waits) for w in ws)
    assert max(waits[7]) > 4  # at the cap
    assert len({round(w, 3) for w in waits[3]}) > 100  # jittered: no thundering herd


def test_a_retry_after_is_waited_at_least_within_reason() -> None:
    rng = random.Random(1)
    assert POLICY.wait(0, "5", rng) >= 5
    assert POLICY.wait(0, "3600", rng) == 10  # never more than twice the cap
    assert POLICY.wait(0, "Wed, 21 Oct 2026 07:28:00 GMT", rng) <= 0.2  # a date: the backoff
