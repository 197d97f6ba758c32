"""Which partitions still hold records a group has not applied, asked of Kafka by any member."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from servicekit.kafka import KafkaAccess
from servicekit.progress import NotReadingError, unread_partitions
from tests.integration.servicekit.conftest import Topics, wait_until

pytestmark = pytest.mark.integration


async def _known(consumer: AIOKafkaConsumer, topic: str) -> bool:
    return bool(consumer.partitions_for_topic(topic))


async def test_a_partition_is_unread_until_the_group_commits_its_log_end(
    kafka: KafkaAccess, topics: Topics, producer: AIOKafkaProducer
) -> None:
    topic = await topics.new(partitions=3)
    for _ in range(3):
        await producer.send_and_wait(topic.name, b"x", partition=0)
    await producer.send_and_wait(topic.name, b"x", partition=1)
    group = f"test-progress-{uuid.uuid4().hex[:8]}"
    # The member asking reads partition 2 only; another member reads (and commits) 0 and 1.
    member = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    committer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await member.start()
    await committer.start()
    try:
        member.assign([TopicPartition(topic.name, 2)])
        await wait_until(
            lambda: _known(member, topic.name), within=10, what="metadata of the topic"
        )
        assert await unread_partitions(member, [topic.name]) == {
            (topic.name, 0),
            (topic.name, 1),
        }
        committer.assign([TopicPartition(topic.name, 0), TopicPartition(topic.name, 1)])
        await committer.commit(
            {
                TopicPartition(topic.name, 0): OffsetAndMetadata(2, ""),
                TopicPartition(topic.name, 1): OffsetAndMetadata(1, ""),
            }
        )
        # One record of partition 0 is still not applied; partition 2 never had any.
        assert await unread_partitions(member, [topic.name]) == {(topic.name, 0)}
        await committer.commit({TopicPartition(topic.name, 0): OffsetAndMetadata(3, "")})
        assert await unread_partitions(member, [topic.name]) == frozenset()
    finally:
        await committer.stop()
        await member.stop()


async def test_a_consumer_not_running_or_without_metadata_knows_nothing(
    kafka: KafkaAccess, topics: Topics
) -> None:
    with pytest.raises(NotReadingError):
        await unread_partitions(None, ["orders.v1"])
    consumer = AIOKafkaConsumer(**kafka.options(), group_id="test-progress-none")
    await consumer.start()
    try:
        with pytest.raises(NotReadingError):
            await unread_partitions(consumer, [f"test.never.{uuid.uuid4().hex[:8]}"])
    finally:
        await consumer.stop()
