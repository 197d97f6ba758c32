"""Every contract message goes through a real broker and comes back valid, keyed as promised."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import codec
from contracts.envelope import Envelope
from contracts.examples import examples
from contracts.topics import by_name
from servicekit.kafka import KafkaAccess

pytestmark = pytest.mark.integration


async def test_every_contract_message_round_trips_through_the_real_broker(
    kafka: KafkaAccess,
) -> None:
    run = uuid.uuid4().hex
    # A fresh correlation id marks this run's messages among whatever the topics already hold.
    sent: dict[tuple[str, int, int], Envelope[Any]] = {}
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for topic_name, envelopes in examples().items():
            topic = by_name(topic_name)
            for envelope in envelopes:
                marked = envelope.model_copy(update={"correlationid": run})
                metadata = await producer.send_and_wait(
                    topic.name, codec.encode(marked), key=codec.message_key(topic, marked)
                )
                sent[(metadata.topic, metadata.partition, metadata.offset)] = marked
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = {TopicPartition(t, p) for (t, p, _) in sent}
        consumer.assign(list(partitions))
        for partition in partitions:
            first = min(o for (t, p, o) in sent if (t, p) == (partition.topic, partition.partition))
            consumer.seek(partition, first)
        received: dict[tuple[str, int, int], Any] = {}
        while len(received) < len(sent):
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"broker returned nothing; got {len(received)} of {len(sent)}"
            for records in batch.values():
                for record in records:
                    place = (record.topic, record.partition, record.offset)
                    if place in sent:
                        received[place] = record
    finally:
        await consumer.stop()

    for place, envelope in sent.items():
        record = received[place]
        topic = by_name(place[0])
        assert codec.decode(topic, record.value) == envelope
        assert record.key == codec.message_key(topic, envelope)


async def test_same_key_lands_on_the_same_partition(kafka: KafkaAccess) -> None:
    topic = by_name("orders.v1")
    envelope = examples()[topic.name][0]
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        partitions = {
            (
                await producer.send_and_wait(
                    topic.name, codec.encode(envelope), key=codec.message_key(topic, envelope)
                )
            ).partition
            for _ in range(5)
        }
    finally:
        await producer.stop()
    assert len(partitions) == 1
