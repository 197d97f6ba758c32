"""Spans joined by W3C traceparents: children of the parent named, roots when it is not valid,
nothing recorded but the parent passed on when tracing is off, and the trace id in the logs."""

from __future__ import annotations

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from structlog.testing import capture_logs

from servicekit.tracing import OFF, Tracing, parse, traceparent_of, tracer_provider

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
INVALID = ["", "garbage", PARENT.upper(), PARENT + "\n", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Tracing:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider, service="test")


def test_a_traceparent_round_trips_through_its_span_context() -> None:
    context = parse(PARENT)
    assert context is not None
    assert context.is_remote
    assert traceparent_of(context) == PARENT


@pytest.mark.parametrize("invalid", INVALID)
def test_an_invalid_traceparent_names_no_span(invalid: str) -> None:
    assert parse(invalid) is None


def test_a_span_is_the_child_of_the_traceparent_it_is_given(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    with tracing.span("work", parent=PARENT) as traced:
        assert traced.traceparent is not None
        assert traced.traceparent[3:35] == PARENT[3:35]  # the same trace
        assert traced.traceparent != PARENT  # a span of its own
    [span] = exporter.get_finished_spans()
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT[36:52]


@pytest.mark.parametrize("invalid", INVALID)
def test_an_invalid_parent_starts_a_trace_of_its_own(
    tracing: Tracing, exporter: InMemorySpanExporter, invalid: str
) -> None:
    with tracing.span("work", parent=invalid) as traced:
        assert traced.traceparent is not None
        assert traced.traceparent[3:35] != PARENT[3:35]
    [span] = exporter.get_finished_spans()
    assert span.parent is None


def test_a_span_never_adopts_the_current_one_as_parent(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    # The previous message of a batch is current while the next one starts: it must not
    # become that message's parent.
    with tracing.span("previous message", parent=PARENT), tracing.span("next message"):
        pass
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert spans["next message"].parent is None


def test_off_records_nothing_and_passes_a_valid_parent_on() -> None:
    assert not OFF.enabled
    with OFF.span("work", parent=PARENT) as traced:
        assert traced.traceparent == PARENT
        assert not traced.span.is_recording()


@pytest.mark.parametrize("invalid", INVALID)
def test_off_never_passes_an_invalid_parent_on(invalid: str) -> None:
    with OFF.span("work", parent=invalid) as traced:
        assert traced.traceparent is None


@pytest.mark.parametrize("on", [True, False])
def test_log_lines_in_a_span_carry_its_trace_id(tracing: Tracing, on: bool) -> None:
    chosen = tracing if on else OFF
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        with chosen.span("work", parent=PARENT):
            structlog.get_logger().info("inside")
        structlog.get_logger().info("after")
    inside, after = logs
    assert inside["trace_id"] == PARENT[3:35]
    assert "trace_id" not in after


def test_without_an_endpoint_a_service_records_no_spans() -> None:
    assert tracer_provider("intake", None) is None
    assert not Tracing.for_service("intake", None).enabled


def test_with_an_endpoint_a_service_exports_over_otlp_and_shuts_its_exporter_down() -> None:
    tracing = Tracing.for_service("intake", "http://127.0.0.1:9/v1/traces")
    assert tracing.enabled
    assert tracing.provider is not None
    assert tracing.provider.resource.attributes["service.name"] == "intake"
    tracing.shutdown()  # nothing listens on port 9: the flush gives up, never raises


def test_a_given_provider_is_left_to_its_owner(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    given = Tracing.for_service("intake", None, tracing.provider)
    given.shutdown()
    with given.span("after the service stopped"):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == ["after the service stopped"]
