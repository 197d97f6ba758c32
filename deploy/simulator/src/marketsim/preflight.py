"""Checks made before the simulator sends anything, so a wrong address, a bad token or a
platform that has already lived past the simulated span is told in one sentence instead of
being fed a quarter of orders it will misjudge.

The simulation replays the days before ``end``; a platform on event time that has seen later
events would fire every deadline of the replay at once, so an ``orders.v1`` holding facts after
the simulation's start is refused unless the caller insists.
"""

from __future__ import annotations

from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from contracts import codec
from contracts.topics import ORDERS
from servicekit.kafka import KafkaAccess


class PlatformNotReadyError(Exception):
    """The platform cannot take the simulation; the message says why and what to do."""


async def check_services(
    intake_url: str,
    metrics_url: str,
    token: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Intake and metrics answer ready, and metrics accepts the token as a staff reader."""
    async with httpx.AsyncClient(timeout=5, transport=transport) as http:
        for name, url in (("intake", intake_url), ("metrics", metrics_url)):
            try:
                answer = await http.get(f"{url.rstrip('/')}/health/ready")
            except httpx.TransportError:
                raise PlatformNotReadyError(
                    f"{name} does not answer at {url}: is the platform up?"
                ) from None
            if answer.status_code != 200:
                raise PlatformNotReadyError(f"{name} at {url} is not ready ({answer.status_code})")
        answer = await http.get(
            f"{metrics_url.rstrip('/')}/v1/sellers",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {token}"},
        )
        if answer.status_code in (401, 403):
            raise PlatformNotReadyError(
                f"the token was refused ({answer.status_code}): the simulator needs a service"
                " token (role service), which acts for buyers, sellers and reviewers"
            )


async def newest_order_fact(kafka: KafkaAccess) -> datetime | None:
    """The latest event time among the last message of each ``orders.v1`` partition."""
    consumer = AIOKafkaConsumer(
        **kafka.options(),
        enable_auto_commit=False,
        client_id="atoz-simulator-preflight",
        request_timeout_ms=10_000,
    )
    try:
        await consumer.start()
    except KafkaError:
        await consumer.stop()
        raise PlatformNotReadyError(
            f"Kafka does not answer at {kafka.bootstrap_servers} as "
            f"{kafka.username or 'an anonymous client'}: is the platform up, and is that "
            "principal's password right?"
        ) from None
    try:
        partitions = [TopicPartition(ORDERS.name, p) for p in range(ORDERS.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        newest: datetime | None = None
        for tp, end in ends.items():
            if end == 0:
                continue
            consumer.seek(tp, end - 1)
            records = (await consumer.getmany(tp, timeout_ms=5000)).get(tp, [])
            for record in records:
                try:
                    at = codec.decode(ORDERS, record.value).time
                except codec.ContractError:
                    continue  # a malformed message is the DLQ's business, not a clock
                newest = at if newest is None else max(newest, at)
        return newest
    finally:
        await consumer.stop()


async def check_clock(kafka: KafkaAccess, start: datetime) -> None:
    """Refuse a platform whose order facts already reach past the simulation's start."""
    newest = await newest_order_fact(kafka)
    if newest is not None and newest > start:
        raise PlatformNotReadyError(
            f"orders.v1 already holds facts up to {newest:%Y-%m-%d %H:%M} UTC, after the"
            f" simulation's start ({start:%Y-%m-%d %H:%M}): on event time the replay's deadlines"
            " would all fire at once. Use a fresh platform (./platform up wipes its data"
            " first), or --force to play it anyway."
        )
