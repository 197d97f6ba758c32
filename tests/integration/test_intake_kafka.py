"""Intake through a real broker: each endpoint's command lands on claims.commands.v1, valid
against the contract and keyed by order id; with Kafka unreachable the API answers 503."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from contracts import codec
from contracts.topics import CLAIMS_COMMANDS
from intake.app import create_app
from servicekit.kafka import KafkaAccess
from tests.support.kafka import kafka_settings, tail
from tests.unit.intake.conftest import bearer, intake_settings
from tests.unit.intake.test_publishing import ENDPOINTS

pytestmark = pytest.mark.integration


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app, startup_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


@pytest.fixture
async def live_intake(kafka: KafkaAccess) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(intake_settings(**kafka_settings(kafka)))
    async for client in _client(app):
        yield client


async def test_every_endpoint_lands_its_command_on_the_topic_keyed_by_order_id(
    live_intake: httpx.AsyncClient, kafka: KafkaAccess
) -> None:
    assert (await live_intake.get("/health/ready")).status_code == 200
    async with tail(kafka, CLAIMS_COMMANDS.name) as commands:
        accepted: dict[str, dict[str, Any]] = {}
        for who, path, body, command_type in ENDPOINTS:
            response = await live_intake.post(path, json=body, headers=bearer(who))
            assert response.status_code == 202, response.text
            accepted[response.json()["command_id"]] = {"type": command_type, "body": body}
        records = await commands.collect(
            lambda record: codec.decode(CLAIMS_COMMANDS, record.value).id in accepted,
            count=len(accepted),
        )
    for record in records:
        envelope = codec.decode(CLAIMS_COMMANDS, record.value)
        expected = accepted[envelope.id]
        assert envelope.type == expected["type"]
        assert record.key == expected["body"]["order_id"].encode()
        assert envelope.data.order_id == expected["body"]["order_id"]


async def test_an_idempotent_retry_publishes_the_same_message_id(
    live_intake: httpx.AsyncClient, kafka: KafkaAccess
) -> None:
    _, path, body, _ = ENDPOINTS[0]
    headers = bearer("buyer") | {"Idempotency-Key": "integration-retry"}
    async with tail(kafka, CLAIMS_COMMANDS.name) as commands:
        first = (await live_intake.post(path, json=body, headers=headers)).json()
        second = (await live_intake.post(path, json=body, headers=headers)).json()
        records = await commands.collect(
            lambda record: codec.decode(CLAIMS_COMMANDS, record.value).id == first["command_id"],
            count=2,
        )
    assert first == second
    assert {codec.decode(CLAIMS_COMMANDS, r.value).data.claim_id for r in records} == {
        first["claim_id"]
    }


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_with_kafka_unreachable_the_api_answers_503_and_is_not_ready() -> None:
    settings = intake_settings(
        kafka_bootstrap_servers=f"127.0.0.1:{_closed_port()}", publish_timeout_seconds=1.0
    )
    async for client in _client(create_app(settings)):
        _, path, body, _ = ENDPOINTS[0]
        response = await client.post(path, json=body, headers=bearer("buyer"))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert (await client.get("/health/ready")).status_code == 503
        assert (await client.get("/health/live")).status_code == 200


async def test_with_kafka_down_the_503_says_the_command_was_not_recorded() -> None:
    settings = intake_settings(
        kafka_bootstrap_servers=f"127.0.0.1:{_closed_port()}", publish_timeout_seconds=1.0
    )
    async for client in _client(create_app(settings)):
        _, path, body, _ = ENDPOINTS[0]
        answer = await client.post(path, json=body, headers=bearer("buyer"))
    assert answer.status_code == 503
    assert answer.json()["maybe_recorded"] is False
    assert "not recorded" in answer.json()["message"]


async def test_with_a_slow_broker_the_503_says_the_command_may_still_be_recorded_and_it_is(
    kafka: KafkaAccess,
) -> None:
    # Kafka answers, just not within the (absurdly short) time intake may wait for its ack: the
    # producer still delivers what it queued, so the 503 must not say "lost".
    settings = intake_settings(**kafka_settings(kafka), publish_timeout_seconds=0.001)
    async with tail(kafka, CLAIMS_COMMANDS.name) as commands:
        async for client in _client(create_app(settings)):
            for _ in range(50):  # connected first: this is a slow broker, not a missing one
                if (await client.get("/health/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
            _, path, body, _ = ENDPOINTS[0]
            answer = await client.post(
                path, json=body, headers=bearer("buyer") | {"Idempotency-Key": "slow-1"}
            )
        told = answer.json()
        assert answer.status_code == 503, answer.text
        assert told["maybe_recorded"] is True
        assert "same Idempotency-Key is safe" in told["message"]
        (record,) = await commands.collect(
            lambda r: codec.decode(CLAIMS_COMMANDS, r.value).id == told["command_id"], count=1
        )
    assert codec.decode(CLAIMS_COMMANDS, record.value).data.claim_id == told["claim_id"]
