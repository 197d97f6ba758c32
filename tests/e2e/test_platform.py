"""The whole platform as ``./platform up`` runs it: the three services as supervised processes
on a real Kafka and PostgreSQL, driven through intake's HTTP API and order facts on Kafka, and
watched by the launcher's Prometheus."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts import codec
from contracts.envelope import Payload, wrap
from contracts.orders import BuyerContactedSeller, SellerReplied
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS
from devstack import services
from devstack.api import Endpoints
from devstack.config import load_config
from servicekit.kafka import KafkaAccess
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import skip_to_end
from tests.unit.adjudication.builders import delivered, placed, shipped

pytestmark = pytest.mark.e2e
# Prometheus too gets a port of its own: a ./platform up on 9090 may be running beside.
PORTS = {
    "intake": 18001,
    "adjudication": 18002,
    "metrics": 18003,
    "dashboard": 18000,
    "prometheus": 18090,
}
BURST_SECONDS = 7.0
"""How long the burst of order facts lasts: longer than the 5 s between two samples of a
service's lag gauge, so one falls inside it however fast the services absorb it (here some
4000 facts a second are sent and adjudication applies over 2000: a fixed few thousand could be
absorbed between two samples)."""


@pytest.fixture
async def service_databases(postgres_url: str, kafka: KafkaAccess) -> None:
    """The services' own databases, which the launcher makes but another server may lack; and
    their consumer groups moved to the topics' ends, so they start with what this test sends
    rather than behind every fact earlier tests left (reading that backlog, a service could
    see this test's claim before its order's facts: Kafka orders a partition, not two)."""
    await skip_to_end(kafka, "adjudication", [ORDERS.name, CLAIMS_COMMANDS.name])
    await skip_to_end(kafka, "metrics", [ORDERS.name, CLAIMS_EVENTS.name])
    admin = await asyncpg.connect(postgres_url)
    try:
        existing = {row["datname"] for row in await admin.fetch("SELECT datname FROM pg_database")}
        for name in ("adjudication", "metrics"):
            if name not in existing:
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


@pytest.fixture
def platform(
    service_databases: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kafka: KafkaAccess,
    infrastructure: Infrastructure,
) -> Iterator[dict[str, Any]]:
    for name, port in PORTS.items():
        monkeypatch.setenv(f"DEVSTACK_{name.upper()}_PORT", str(port))
    config = load_config({"DEVSTACK_HOME": str(tmp_path / "home")})
    # Each service as its own principal, as ./platform up runs them.
    endpoints = Endpoints(
        kafka.bootstrap_servers,
        infrastructure.postgres_url,
        kafka_passwords=infrastructure.kafka_passwords,
    )
    services.start(config, endpoints, timeout_s=120)
    try:
        yield {"tokens": services.tokens(config), "logs": config.logs_dir}
    finally:
        services.stop(config)


async def _wait(read: Any, done: Any, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await read()
        if done(last):
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"gave up waiting; last answer: {last}")


async def test_a_claim_goes_from_intake_through_adjudication_to_the_sellers_odr(
    platform: dict[str, Any], kafka: KafkaAccess
) -> None:
    tokens = platform["tokens"]
    buyer, seller = tokens["buyer"], tokens["seller"]
    now = datetime.now(UTC)
    order_id = f"e2e-{uuid.uuid4().hex[:10]}"
    ids = {"order_id": order_id, "seller_id": seller["subject"]}
    facts: list[tuple[Payload, datetime]] = [
        (
            placed(
                **ids,
                buyer_id=buyer["subject"],
                placed_at=now - timedelta(days=10),
                ship_by=now - timedelta(days=9),
                estimated_delivery_min=now - timedelta(days=6),
                estimated_delivery_max=now - timedelta(days=5),
            ),
            now - timedelta(days=10),
        ),
        (shipped().model_copy(update=ids), now - timedelta(days=9)),
        # The buyer wrote to the seller (a fact, as contact-first requires) six days ago, which
        # spans two business days whatever today is, and the seller answered without settling
        # it: no automatic filing races the buyer's claim.
        (
            BuyerContactedSeller(
                **ids,
                contact_id="msg-1",
                buyer_id=buyer["subject"],
                contacted_at=now - timedelta(days=6),
                topic="not_received",
            ),
            now - timedelta(days=6),
        ),
        (
            SellerReplied(
                **ids, contact_id="msg-1", replied_at=now - timedelta(days=6), resolved=False
            ),
            now - timedelta(days=6),
        ),
    ]
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for payload, at in facts:
            envelope = wrap(payload, source="/e2e", subject=order_id, time=at)
            await producer.send_and_wait(
                ORDERS.name, codec.encode(envelope), key=codec.message_key(ORDERS, envelope)
            )
    finally:
        await producer.stop()

    def as_(who: dict[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {who['token']}"}

    intake = f"http://127.0.0.1:{PORTS['intake']}"
    async with httpx.AsyncClient(timeout=10) as http:
        filed = await http.post(
            f"{intake}/v1/claims",
            headers=as_(buyer),
            json={
                "order_id": order_id,
                "reason": "not_received",
                "amount": {"amount": "50.00", "currency": "EUR"},
                "description": "It never came.",
            },
        )
        assert filed.status_code == 202, filed.text
        claim_url = filed.json()["links"]["claim"].replace(":8002", f":{PORTS['adjudication']}")

        async def claim() -> dict[str, Any]:
            answer = await http.get(claim_url, headers=as_(buyer))
            return answer.json() if answer.status_code == 200 else {"status": answer.status_code}

        admitted = await _wait(claim, lambda c: c.get("status") == "action_required")
        assert "accept" in admitted["actions"]["seller"]
        accepted = await http.post(
            f"{intake}/v1/claims/{admitted['claim_id']}/response",
            headers=as_(seller),
            json={"order_id": order_id, "response": {"action": "accept"}},
        )
        assert accepted.status_code == 202, accepted.text
        closed = await _wait(claim, lambda c: c.get("status") == "closed")
        assert (closed["resolution"], closed["funded_by"]) == ("granted", "seller")

        metrics = f"http://127.0.0.1:{PORTS['metrics']}"

        async def health_now() -> dict[str, Any]:
            answer = await http.get(
                f"{metrics}/v1/sellers/{seller['subject']}/health", headers=as_(seller)
            )
            found: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
            return found

        health = await _wait(health_now, lambda h: h.get("combined", {}).get("claims", 0) >= 1)
    assert health["combined"]["defective_orders"] >= 1
    assert health["seller_id"] == seller["subject"]
    assert json.loads((platform["logs"] / "intake.log").read_text().splitlines()[-1])["service"]


async def _produce_burst(kafka: KafkaAccess, seconds: float) -> int:
    """Placed, shipped and delivered facts of fresh orders of a few fresh sellers, sent as fast
    as the producer takes them for ``seconds``; returns how many facts were sent."""
    sellers = [f"e2e-burst-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    placed_at = datetime.now(UTC) - timedelta(days=10)
    producer = AIOKafkaProducer(
        **kafka.options(), enable_idempotence=True, acks="all", linger_ms=20
    )
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            ids = {
                "order_id": f"e2e-burst-{uuid.uuid4().hex[:12]}",
                "seller_id": sellers[len(pending) % len(sellers)],
            }
            facts: list[tuple[Payload, datetime]] = [
                (
                    placed(
                        **ids,
                        placed_at=placed_at,
                        ship_by=placed_at + timedelta(days=2),
                        estimated_delivery_min=placed_at + timedelta(days=4),
                        estimated_delivery_max=placed_at + timedelta(days=6),
                    ),
                    placed_at,
                ),
                (shipped(**ids, shipped_at=placed_at + timedelta(days=1)), placed_at),
                (delivered(**ids, delivered_at=placed_at + timedelta(days=5)), placed_at),
            ]
            for payload, at in facts:
                envelope = wrap(payload, source="/e2e", subject=ids["order_id"], time=at)
                pending.append(
                    await producer.send(
                        ORDERS.name, codec.encode(envelope), key=codec.message_key(ORDERS, envelope)
                    )
                )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(pending)


async def test_prometheus_scrapes_every_service_and_sees_the_lag_and_throughput_of_a_burst(
    platform: dict[str, Any], kafka: KafkaAccess
) -> None:
    sent = await _produce_burst(kafka, BURST_SECONDS)
    orders = f'topic="{ORDERS.name}"'
    # Each query must answer at least one series: Prometheus drops those "> 0" filters out.
    wanted: dict[str, tuple[str, Callable[[list[Any]], bool]]] = {
        "every service scraped": (
            'up{job=~"intake|adjudication|metrics"} == 1',
            lambda result: len(result) == 3,
        ),
        "adjudication's lag seen": (
            f'max_over_time(atoz_consumer_lag{{job="adjudication",{orders}}}[5m]) > 0',
            bool,
        ),
        "adjudication's throughput": (
            f'increase(atoz_messages_applied_total{{job="adjudication",{orders}}}[5m]) > 0',
            bool,
        ),
        "metrics' throughput": (
            f'increase(atoz_messages_applied_total{{job="metrics",{orders}}}[5m]) > 0',
            bool,
        ),
        "the whole burst applied by adjudication": (
            f'sum(atoz_messages_applied_total{{job="adjudication",{orders}}}) >= {sent}',
            bool,
        ),
    }
    api = f"http://127.0.0.1:{PORTS['prometheus']}/api/v1/query"

    async with httpx.AsyncClient(timeout=10) as http:

        async def answers() -> dict[str, Any]:
            found = {}
            for name, (query, _) in wanted.items():
                answer = (await http.get(api, params={"query": query})).json()
                assert answer["status"] == "success", answer
                found[name] = answer["data"]["result"]
            return found

        def all_seen(found: dict[str, Any]) -> bool:
            return all(check(found[name]) for name, (_, check) in wanted.items())

        # Bounded: the burst takes seconds to absorb; a minute more is a stalled scrape.
        await _wait(answers, all_seen, within=90)
