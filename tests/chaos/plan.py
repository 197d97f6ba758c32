"""Which faults a chaos run injects, in which order: pure, so the schedule is tested alone.

One round holds at least twenty SIGKILLs (each service in turn), a graceful broker stop and a
broker SIGKILL, a PostgreSQL restart with a fast and one with an immediate shutdown, and poison
on every consumed topic at the start and at the end (after the broker's crash). The database
and broker faults fall between the kills, while the simulation is busy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final, Literal

FaultKind = Literal[
    "kill", "broker_stop", "broker_kill", "postgres_fast", "postgres_immediate", "poison"
]
SERVICES: Final = ("intake", "adjudication", "metrics")
"""The services on the data path: the ones a SIGKILL must not fool."""
KILLS_PER_ROUND: Final = 21
ROUND_SECONDS: Final = 210.0
"""About how long a round takes on a two-core machine: the simulation is paced to match."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One thing to break: ``target`` is a service, ``kafka``, ``postgres`` or ``topics``."""

    kind: FaultKind
    target: str


def rounds_for(minutes: float) -> int:
    """How many rounds fill ``minutes`` of chaos (at least one)."""
    return max(1, round(minutes * 60 / ROUND_SECONDS))


def plan(rounds: int, rng: random.Random) -> list[Fault]:
    """The faults of ``rounds`` rounds. Kills take the services in a shuffled rotation, so each
    is killed every third kill (it has run a while: its restart comes at once)."""
    faults: list[Fault] = []
    between: tuple[Fault, ...] = (
        Fault("postgres_fast", "postgres"),
        Fault("broker_stop", "kafka"),
        Fault("postgres_immediate", "postgres"),
        Fault("broker_kill", "kafka"),
    )
    for _ in range(rounds):
        order = list(SERVICES)
        rng.shuffle(order)
        kills = [Fault("kill", order[i % len(order)]) for i in range(KILLS_PER_ROUND)]
        faults.append(Fault("poison", "topics"))
        stride = len(kills) // (len(between) + 1)
        for index, fault in enumerate(between):
            faults += kills[index * stride : (index + 1) * stride]
            faults.append(fault)
        faults += kills[len(between) * stride :]
        faults.append(Fault("poison", "topics"))
    return faults
