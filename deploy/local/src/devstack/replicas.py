"""How many processes of each service the launcher runs, and what each one is called.

``--replicas adjudication=2,metrics=2`` runs two of each: replica 1 keeps the service's name,
port and log (``adjudication``, 8002); replica *k* is ``adjudication-k``, listening on the
port plus 100 x (k - 1) (8102), with a log and pid file of its own. Replicas of a consuming
service share its database and consumer group (Kafka shares the partitions out); intake's are
stateless, reached on any of their ports (or through any HTTP balancer in front of them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from devstack.errors import PrerequisiteError

SERVICES: Final = ("intake", "adjudication", "metrics")
"""The services that may run as several replicas (the dashboard and Prometheus run once)."""
PORT_STEP: Final = 100
MAX_REPLICAS: Final = 8


@dataclass(frozen=True, slots=True)
class Instance:
    """One process of a service."""

    service: str
    replica: int
    port: int

    @property
    def name(self) -> str:
        return self.service if self.replica == 1 else f"{self.service}-{self.replica}"


def parse(text: str | None) -> dict[str, int]:
    """``"adjudication=2,metrics=3"`` as a mapping; a service not named runs once. Raises
    :class:`PrerequisiteError` (a bad setting, one sentence) on anything else."""
    found: dict[str, int] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        service, _, count = item.partition("=")
        service = service.strip()
        if service not in SERVICES:
            raise PrerequisiteError(f"--replicas: {service!r} is not one of {', '.join(SERVICES)}")
        if not count.strip().isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise PrerequisiteError(
                f"--replicas: {service}={count.strip()!r} is not a count from 1 to {MAX_REPLICAS}"
            )
        found[service] = int(count)
    return found


def instances(
    service: str, port: int, replicas: Mapping[str, int] | None = None
) -> Iterator[Instance]:
    """The processes of ``service`` (whose first listens on ``port``)."""
    for replica in range(1, (replicas or {}).get(service, 1) + 1):
        yield Instance(service, replica, port + PORT_STEP * (replica - 1))


def port_of(name: str, ports: Mapping[str, int]) -> int:
    """The port of process ``name`` (``adjudication-2``, say), from the services' ``ports``."""
    service, _, replica = name.rpartition("-")
    if service in SERVICES and replica.isdigit():
        return ports[service] + PORT_STEP * (int(replica) - 1)
    return ports[name]
