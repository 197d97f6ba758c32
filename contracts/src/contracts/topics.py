"""Every Kafka topic of the platform, named once.

Topic names, partition counts, what each message is keyed by, and the dead-letter topic that
goes with each live one. No other module spells a topic name: services, the local launcher,
docker compose's topic creation and the tests all read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

DLQ_SUFFIX: Final = ".dlq"

MessageKey = Literal["order_id", "seller_id"]


@dataclass(frozen=True, slots=True)
class Topic:
    """A live topic: its name, how many partitions it is created with, and its message key."""

    name: str
    partitions: int
    key: MessageKey
    producer: str

    @property
    def dlq(self) -> str:
        """The dead-letter topic a consumer of this topic sends undecodable messages to."""
        return self.name + DLQ_SUFFIX


ORDERS: Final = Topic("orders.v1", partitions=6, key="order_id", producer="order systems")
CLAIMS_COMMANDS: Final = Topic(
    "claims.commands.v1", partitions=6, key="order_id", producer="intake"
)
CLAIMS_EVENTS: Final = Topic(
    "claims.events.v1", partitions=6, key="order_id", producer="adjudication"
)
SELLERS_HEALTH: Final = Topic(
    "sellers.health.v1", partitions=3, key="seller_id", producer="metrics"
)

LIVE_TOPICS: Final[tuple[Topic, ...]] = (ORDERS, CLAIMS_COMMANDS, CLAIMS_EVENTS, SELLERS_HEALTH)

# A dead-letter topic is read by people and replay tools, not at volume: one partition keeps the
# order in which messages failed.
DLQ_PARTITIONS: Final = 1


def topics_to_create() -> list[tuple[str, int]]:
    """Every topic the platform needs, DLQs included, as (name, partitions) pairs."""
    pairs = [(topic.name, topic.partitions) for topic in LIVE_TOPICS]
    pairs += [(topic.dlq, DLQ_PARTITIONS) for topic in LIVE_TOPICS]
    return pairs


def by_name(name: str) -> Topic:
    """The live topic called ``name``; raises ``KeyError`` for anything else."""
    for topic in LIVE_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)
