"""The chaos plan breaks every part the suite promises, kills each service in turn, and puts
the database and broker faults between kills, with poison first and last."""

from __future__ import annotations

import itertools
import random

from tests.chaos.plan import KILLS_PER_ROUND, SERVICES, plan, rounds_for


def test_one_round_holds_twenty_kills_two_broker_and_two_database_faults_and_poison() -> None:
    faults = plan(1, random.Random(1))
    kinds = [fault.kind for fault in faults]
    assert kinds.count("kill") == KILLS_PER_ROUND >= 20
    for kind in ("broker_stop", "broker_kill", "postgres_fast", "postgres_immediate"):
        assert kinds.count(kind) == 1, kind
    assert kinds[0] == kinds[-1] == "poison"
    assert kinds.count("poison") == 2


def test_each_service_is_killed_every_third_kill_so_it_has_run_a_while() -> None:
    kills = [fault.target for fault in plan(1, random.Random(5)) if fault.kind == "kill"]
    assert set(kills[:3]) == set(SERVICES)
    assert all(kills[i] == kills[i + 3] for i in range(len(kills) - 3))


def test_the_database_and_broker_faults_fall_between_kills_not_together() -> None:
    kinds = [fault.kind for fault in plan(1, random.Random(2))]
    others = [i for i, kind in enumerate(kinds) if kind not in {"kill", "poison"}]
    assert all(later - earlier > 1 for earlier, later in itertools.pairwise(others))


def test_a_longer_run_repeats_the_round_and_the_seed_fixes_the_order() -> None:
    assert rounds_for(3.5) == 1
    assert rounds_for(0.5) == 1
    assert rounds_for(35) == 10
    assert len(plan(3, random.Random(9))) == 3 * len(plan(1, random.Random(9)))
    assert plan(2, random.Random(4)) == plan(2, random.Random(4))
