"""The one kind of Kafka producer the platform uses, and its lifecycle.

Idempotent with ``acks=all``: a retried send never duplicates and an acknowledged one is on
every in-sync replica. aiokafka binds a producer to the loop it is created in, so these are
made inside the running loop, never at import time.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError


def utc_now() -> datetime:
    """The wall clock, in UTC (the default clock of every service)."""
    return datetime.now(UTC)


def idempotent_producer(
    bootstrap_servers: str, *, client_id: str, **options: Any
) -> AIOKafkaProducer:
    """A producer with idempotence on and ``acks=all`` (other aiokafka options pass through)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        **options,
    )


async def started(producer: AIOKafkaProducer) -> AIOKafkaProducer:
    """Start ``producer``; if it cannot start, release what it opened and raise."""
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


async def stop_quietly(producer: AIOKafkaProducer | None) -> None:
    """Stop ``producer`` (flushing what is in flight), ignoring a broker already gone."""
    if producer is not None:
        with contextlib.suppress(KafkaError, OSError):
            await producer.stop()
