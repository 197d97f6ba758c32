"""Who may do what on Kafka: one principal per party, and the least each needs.

The platform's Kafka runs with authentication (SASL/SCRAM) and an authorizer that allows nothing
that is not granted here: no anonymous client, no principal writing a topic it does not own. The
launcher (``deploy/local``), docker compose's initialisation and the tests all read this table.
Commands are trusted because of who wrote them: only intake's principal may write
``claims.commands.v1``, only order systems ``orders.v1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, SELLERS_HEALTH

ADMIN: Final = "admin"
"""The super user: creates topics, principals and ACLs; the operator tools (a rebuild) use it."""

SASL_MECHANISM: Final = "SCRAM-SHA-512"


@dataclass(frozen=True, slots=True)
class Principal:
    """A Kafka user and what it may do: topics it reads and writes, and the consumer groups
    (by name prefix) it may join. Nothing else is allowed."""

    name: str
    description: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    group_prefix: str | None = None


PRINCIPALS: Final[tuple[Principal, ...]] = (
    Principal(
        "intake",
        "the intake service: publishes the commands callers made",
        writes=(CLAIMS_COMMANDS.name,),
    ),
    Principal(
        "adjudication",
        "the adjudication service: reads facts and commands, publishes claim events",
        reads=(ORDERS.name, CLAIMS_COMMANDS.name),
        writes=(CLAIMS_EVENTS.name, ORDERS.dlq, CLAIMS_COMMANDS.dlq),
        group_prefix="adjudication",
    ),
    Principal(
        "metrics",
        "the metrics service: reads facts and claim events, publishes seller health",
        reads=(ORDERS.name, CLAIMS_EVENTS.name),
        writes=(SELLERS_HEALTH.name, ORDERS.dlq, CLAIMS_EVENTS.dlq),
        group_prefix="metrics",
    ),
    Principal(
        "order-systems",
        "the marketplace's order systems: publish order facts",
        writes=(ORDERS.name,),
    ),
    Principal(
        "downstream",
        "read-only consumers (payments, notifications, account health)",
        reads=(CLAIMS_EVENTS.name, SELLERS_HEALTH.name),
        group_prefix="downstream",
    ),
    Principal(
        "simulator",
        "the marketplace simulator: an order system that watches the claims it causes",
        reads=(ORDERS.name, CLAIMS_EVENTS.name, SELLERS_HEALTH.name),
        writes=(ORDERS.name,),
    ),
)
"""Every principal but the admin, in the order they are created."""

ALL_NAMES: Final = (ADMIN, *(principal.name for principal in PRINCIPALS))


def principal(name: str) -> Principal:
    """The principal called ``name``; ``KeyError`` for any other (the admin is not in the table:
    it may do everything)."""
    for found in PRINCIPALS:
        if found.name == name:
            return found
    raise KeyError(name)


def owners_of(topic: str) -> set[str]:
    """The principals that may write ``topic``."""
    return {p.name for p in PRINCIPALS if topic in p.writes}
