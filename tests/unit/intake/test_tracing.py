"""Intake's spans: each request in a server span continuing the caller's valid traceparent, the
command's publish span its child, whose context the envelope carries; a caller's malformed
header is ignored, never forwarded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from structlog.testing import capture_logs

from intake.app import create_app
from intake.publisher import RecordingPublisher
from tests.unit.intake.conftest import NOW, bearer, filing, intake_settings

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced_client(
    publisher: RecordingPublisher, exporter: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(
        intake_settings(), publisher=publisher, clock=lambda: NOW, tracer_provider=provider
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield http


async def test_a_filing_runs_in_a_request_span_whose_publish_span_the_command_carries(
    traced_client: httpx.AsyncClient, publisher: RecordingPublisher, exporter: InMemorySpanExporter
) -> None:
    response = await traced_client.post(
        "/v1/claims", json=filing(), headers={**bearer("buyer"), "traceparent": CALLER}
    )
    assert response.status_code == 202
    spans = {span.name: span for span in exporter.get_finished_spans()}
    request, publish = spans["POST /v1/claims"], spans["publish claims.commands.v1"]
    assert request.context.trace_id == int(CALLER[3:35], 16)
    assert request.parent is not None
    assert request.parent.span_id == int(CALLER[36:52], 16)
    assert publish.parent is not None
    assert publish.parent.span_id == request.context.span_id
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/v1/claims"
    assert request.attributes["http.response.status_code"] == 202
    [envelope] = publisher.published
    assert envelope.traceparent == f"00-{CALLER[3:35]}-{publish.context.span_id:016x}-01"


@pytest.mark.parametrize("header", ["garbage", CALLER.upper(), "00-" + "0" * 32 + "-0f-01"])
async def test_a_malformed_traceparent_starts_a_new_trace_and_the_filing_goes_through(
    traced_client: httpx.AsyncClient,
    publisher: RecordingPublisher,
    exporter: InMemorySpanExporter,
    header: str,
) -> None:
    response = await traced_client.post(
        "/v1/claims", json=filing(), headers={**bearer("buyer"), "traceparent": header}
    )
    assert response.status_code == 202
    request = next(s for s in exporter.get_finished_spans() if s.name == "POST /v1/claims")
    assert request.parent is None
    [envelope] = publisher.published
    assert envelope.traceparent is not None
    assert envelope.traceparent != header


async def test_untraced_intake_passes_a_valid_traceparent_on_and_drops_a_malformed_one(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    for header in (CALLER, "00-ZZ-not-hex"):
        response = await client.post(
            "/v1/claims", json=filing(), headers={**bearer("buyer"), "traceparent": header}
        )
        assert response.status_code == 202
    passed, dropped = publisher.published
    assert passed.traceparent == CALLER
    assert dropped.traceparent is None


async def test_the_request_log_line_carries_the_trace_id(
    traced_client: httpx.AsyncClient,
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await traced_client.post(
            "/v1/claims", json=filing(), headers={**bearer("buyer"), "traceparent": CALLER}
        )
    [line] = [entry for entry in logs if entry["event"] == "http.request"]
    assert line["trace_id"] == CALLER[3:35]
