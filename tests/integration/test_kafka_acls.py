"""Kafka allows each principal exactly what contracts/access.py grants it, and no anonymous
client at all: produce, consume and consumer groups probed for every principal and topic."""

from __future__ import annotations

import asyncio
import uuid
from itertools import product

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from contracts.access import PRINCIPALS
from contracts.topics import ORDERS, topics_to_create
from servicekit.kafka import KafkaAccess
from tests.support.infrastructure import Infrastructure

pytestmark = pytest.mark.integration

TOPICS = [name for name, _ in topics_to_create()]
PROBE = b"acl-probe"


async def _can_write(kafka: KafkaAccess, topic: str) -> bool:
    producer = AIOKafkaProducer(**kafka.options(), request_timeout_ms=5000)
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, PROBE, partition=0), 15)
    except TopicAuthorizationFailedError:
        return False
    finally:
        await producer.stop()
    return True


async def _can_read(kafka: KafkaAccess, topic: str) -> bool:
    """Whether the probe the admin wrote on partition 0 reaches this principal. aiokafka logs
    a refused fetch rather than raising it, so a refusal is a read that brings nothing."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        for _ in range(6):
            try:
                found = await consumer.getmany(partition, timeout_ms=500)
            except TopicAuthorizationFailedError:
                return False
            if found.get(partition):
                return True
        return False
    finally:
        await consumer.stop()


async def _can_join(kafka: KafkaAccess, group: str, topic: str) -> bool:
    consumer = AIOKafkaConsumer(topic, **kafka.options(), group_id=group, enable_auto_commit=False)
    try:
        await consumer.start()
        await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
        await consumer.commit()
    except (GroupAuthorizationFailedError, TopicAuthorizationFailedError):
        return False
    finally:
        await consumer.stop()
    return True


async def _connects(kafka: KafkaAccess) -> bool:
    producer = AIOKafkaProducer(**kafka.options(), request_timeout_ms=3000)
    try:
        await asyncio.wait_for(producer.start(), 15)
        await asyncio.wait_for(producer.send_and_wait(ORDERS.name, PROBE), 15)
    except (KafkaConnectionError, KafkaError, TimeoutError):
        return False
    finally:
        await producer.stop()
    return True


async def test_an_anonymous_client_is_refused(kafka: KafkaAccess) -> None:
    assert not await _connects(KafkaAccess(kafka.bootstrap_servers, security_protocol="PLAINTEXT"))


async def test_a_wrong_password_is_refused(infrastructure: Infrastructure) -> None:
    owner = infrastructure.kafka_as("order-systems")
    assert await _connects(owner)  # the probe is fair: with the password, it gets through
    assert not await _connects(owner.as_user("order-systems", "not-the-password"))


async def test_each_principal_writes_exactly_the_topics_it_owns(
    infrastructure: Infrastructure, kafka: KafkaAccess
) -> None:
    pairs = list(product(PRINCIPALS, TOPICS))
    allowed = await asyncio.gather(
        *(_can_write(infrastructure.kafka_as(p.name), topic) for p, topic in pairs)
    )
    found = {(p.name, topic) for (p, topic), ok in zip(pairs, allowed, strict=True) if ok}
    assert found == {(p.name, topic) for p in PRINCIPALS for topic in p.writes}


async def test_each_principal_reads_exactly_the_topics_it_is_granted(
    infrastructure: Infrastructure, kafka: KafkaAccess
) -> None:
    for topic in TOPICS:  # something to read on every partition 0, written by the admin
        assert await _can_write(kafka, topic)
    pairs = list(product(PRINCIPALS, TOPICS))
    allowed = await asyncio.gather(
        *(_can_read(infrastructure.kafka_as(p.name), topic) for p, topic in pairs)
    )
    found = {(p.name, topic) for (p, topic), ok in zip(pairs, allowed, strict=True) if ok}
    assert found == {(p.name, topic) for p in PRINCIPALS for topic in p.reads}


async def test_each_consumer_group_is_its_principals_alone(
    infrastructure: Infrastructure, kafka: KafkaAccess
) -> None:
    prefixes = sorted({p.group_prefix for p in PRINCIPALS if p.group_prefix})
    run = uuid.uuid4().hex[:8]
    # Each principal tries every party's groups, on a topic it may read (or, reading none, on
    # the first topic: the group is asked for before any fetch).
    pairs = list(product(PRINCIPALS, prefixes))
    allowed = await asyncio.gather(
        *(
            _can_join(
                infrastructure.kafka_as(p.name),
                f"{prefix}-acl-{run}",
                p.reads[0] if p.reads else TOPICS[0],
            )
            for p, prefix in pairs
        )
    )
    found = {(p.name, prefix) for (p, prefix), ok in zip(pairs, allowed, strict=True) if ok}
    assert found == {(p.name, p.group_prefix) for p in PRINCIPALS if p.group_prefix}
