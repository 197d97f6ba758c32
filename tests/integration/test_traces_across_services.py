"""One filing, one trace: intake's request, adjudication's decision and metrics' health update
joined through the envelopes' ``traceparent``, on real Kafka and PostgreSQL.

The three services run in-process, each with a tracer provider of its own (its own
``service.name``) exporting to one in-memory exporter of the OpenTelemetry SDK.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adjudication.app import create_app as adjudication_app
from adjudication.settings import AdjudicationSettings
from contracts import codec
from contracts.envelope import Payload, wrap
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS
from intake.app import create_app as intake_app
from metrics.app import create_app as metrics_app
from metrics.settings import MetricsSettings
from servicekit.kafka import KafkaAccess, utc_now
from tests.support.kafka import kafka_settings, skip_to_end
from tests.unit.adjudication.builders import placed, shipped
from tests.unit.intake.conftest import TOKENS, bearer, filing, intake_settings

pytestmark = pytest.mark.integration

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


def _provider(service: str, exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def _in_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


async def _wait_for(
    exporter: InMemorySpanExporter, trace_id: int, wanted: set[tuple[str, str]]
) -> list[ReadableSpan]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        spans = _in_trace(exporter, trace_id)
        if wanted <= {(_service(s), s.name) for s in spans}:
            return spans
        await asyncio.sleep(0.2)
    seen = sorted({(_service(s), s.name) for s in _in_trace(exporter, trace_id)})
    raise AssertionError(f"the trace never had {sorted(wanted)}; it had {seen}")


def _one(spans: Sequence[ReadableSpan], service: str, name: str) -> ReadableSpan:
    found = [s for s in spans if _service(s) == service and s.name == name]
    assert found, f"no {name!r} span of {service}"
    return found[0]


async def _send_order(kafka: KafkaAccess, order_id: str, seller_id: str) -> None:
    now = utc_now()
    ids = {"order_id": order_id, "seller_id": seller_id}
    facts: list[tuple[Payload, Any]] = [
        (
            placed(
                **ids,
                buyer_id=TOKENS["buyer"][1],
                placed_at=now - timedelta(days=10),
                ship_by=now - timedelta(days=9),
                estimated_delivery_min=now - timedelta(days=6),
                estimated_delivery_max=now - timedelta(days=5),
            ),
            now - timedelta(days=10),
        ),
        (shipped().model_copy(update=ids), now - timedelta(days=9)),
    ]
    producer = AIOKafkaProducer(**kafka.options(), acks="all")
    await producer.start()
    try:
        for fact, at in facts:
            value = codec.encode(wrap(fact, source="/tests", subject=order_id, time=at))
            await producer.send_and_wait(ORDERS.name, value, key=order_id.encode())
    finally:
        await producer.stop()


async def test_one_filing_makes_one_trace_through_intake_adjudication_and_metrics(
    kafka: KafkaAccess, database_url: str, another_database_url: str
) -> None:
    exporter = InMemorySpanExporter()
    suffix = uuid.uuid4().hex[:8]
    groups = {"adjudication": f"adj-trace-{suffix}", "metrics": f"met-trace-{suffix}"}
    await skip_to_end(kafka, groups["adjudication"], [ORDERS.name, CLAIMS_COMMANDS.name])
    await skip_to_end(kafka, groups["metrics"], [ORDERS.name, CLAIMS_EVENTS.name])
    common: dict[str, Any] = {**kafka_settings(kafka), "log_format": "console"}
    apps = [
        adjudication_app(
            AdjudicationSettings(
                **common, database_url=database_url, consumer_group=groups["adjudication"]
            ),
            tracer_provider=_provider("adjudication", exporter),
        ),
        metrics_app(
            MetricsSettings(
                **common, database_url=another_database_url, consumer_group=groups["metrics"]
            ),
            tracer_provider=_provider("metrics", exporter),
        ),
    ]
    intake = intake_app(
        intake_settings(**kafka_settings(kafka)), tracer_provider=_provider("intake", exporter)
    )
    order_id = f"trace-{suffix}"
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(LifespanManager(app, startup_timeout=60))
        served = await stack.enter_async_context(LifespanManager(intake, startup_timeout=60))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=served.app), base_url="http://i")
        )
        await _send_order(kafka, order_id, seller_id=f"seller-{suffix}")
        filed = await client.post(
            "/v1/claims",
            json=filing(order_id=order_id),
            headers={**bearer("buyer"), "traceparent": CALLER},
        )
        assert filed.status_code == 202, filed.text
        spans = await _wait_for(
            exporter,
            int(CALLER_TRACE, 16),
            {
                ("intake", "POST /v1/claims"),
                ("intake", "publish claims.commands.v1"),
                ("adjudication", "process claims.commands.v1"),
                ("adjudication", "adjudicate claim.file"),
                ("adjudication", "publish claims.events.v1"),
                ("metrics", "process claims.events.v1"),
                ("metrics", "update seller health"),
            },
        )

    request = _one(spans, "intake", "POST /v1/claims")
    publish = _one(spans, "intake", "publish claims.commands.v1")
    consume = _one(spans, "adjudication", "process claims.commands.v1")
    decide = _one(spans, "adjudication", "adjudicate claim.file")
    relay = _one(spans, "adjudication", "publish claims.events.v1")
    received = [s for s in spans if s.name == "process claims.events.v1"]
    # The caller's span is the request's parent; each hop is the child of the one before.
    assert request.parent is not None
    assert request.parent.span_id == int(CALLER[36:52], 16)
    assert publish.parent is not None
    assert publish.parent.span_id == request.context.span_id
    assert consume.parent is not None
    assert consume.parent.span_id == publish.context.span_id
    assert decide.parent is not None
    assert decide.parent.span_id == consume.context.span_id
    assert relay.parent is not None
    assert relay.parent.span_id == decide.context.span_id
    assert all(
        s.parent is not None and s.parent.span_id == decide.context.span_id for s in received
    )
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 202
    # The decision names its rules on its span.
    assert decide.events
    assert all("atoz.rules" in (event.attributes or {}) for event in decide.events)
    assert {_service(s) for s in spans} == {"intake", "adjudication", "metrics"}
