"""A loop's passes: ready while they work, alive while they come, failing or not."""

from __future__ import annotations

from servicekit.loophealth import LoopHealth


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_loop_is_healthy_until_a_pass_fails_and_again_once_one_works() -> None:
    clock = _Clock()
    health = LoopHealth("relay", clock=clock)
    assert health.report() == {"healthy": True}
    health.failed(OSError("connection refused"))
    clock.now += 3
    assert health.report() == {
        "healthy": False,
        "failing_for_seconds": 3.0,
        "error": "OSError: connection refused",
    }
    health.worked()
    assert health.report() == {"healthy": True}


def test_a_failing_loop_is_not_wedged_but_a_silent_one_is() -> None:
    clock = _Clock()
    health = LoopHealth("scheduler", clock=clock)
    for _ in range(10):
        clock.now += 30
        health.failed(OSError("the database is down"))
    assert not health.wedged(after=60)  # failing, but still trying: a restart would not help
    clock.now += 61
    assert health.wedged(after=60)  # no pass at all: stuck
