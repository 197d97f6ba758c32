"""Every service's subscriber wiring, through faststream's in-memory ``TestKafkaBroker``: what
each topic's records are decoded into, where they are routed, what goes to which DLQ with which
headers, and that each batch is acknowledged after it is applied. The real-Kafka integration
tests (tests/integration/servicekit) stay the proof of the guarantees; these run in
milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker
from faststream.kafka.message import FakeConsumer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import adjudication.app
import metrics.app
from adjudication.settings import AdjudicationSettings
from contracts import codec
from contracts.dlq import HEADER_CONSUMER, HEADER_REASON, HEADER_SOURCE_TOPIC
from contracts.examples import examples
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, Topic
from metrics.settings import MetricsSettings
from servicekit.delivery import Delivered, RefusedMessage
from servicekit.inbox import MemoryInbox
from servicekit.runtime import ConsumingService


class Recorder:
    """A handler that records what it is given; it refuses or breaks on the ids it is told."""

    def __init__(self, *, refuse: str | None = None, break_on: str | None = None) -> None:
        self.applied: list[Delivered] = []
        self.refuse, self.break_on = refuse, break_on

    async def __call__(self, _: Any, batch: list[Delivered]) -> None:
        for delivered in batch:
            if delivered.message_id == self.refuse:
                raise RefusedMessage("event_time_out_of_bounds", "from 2030")
            if delivered.message_id == self.break_on:
                raise ValueError("cannot apply")
        self.applied.extend(batch)


SERVICES: dict[str, tuple[Callable[[], FastAPI], list[Topic]]] = {
    "adjudication": (
        lambda: adjudication.app.create_app(AdjudicationSettings(log_format="json")),
        [ORDERS, CLAIMS_COMMANDS],
    ),
    "metrics": (
        lambda: metrics.app.create_app(MetricsSettings(log_format="json")),
        [ORDERS, CLAIMS_EVENTS],
    ),
}
CASES = [(name, topic) for name, (_, topics) in SERVICES.items() for topic in topics]


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Offset commits the in-memory broker's consumer was asked for (``ack()`` commits)."""
    found: list[int] = []

    async def commit(_: FakeConsumer) -> None:
        found.append(1)

    monkeypatch.setattr(FakeConsumer, "commit", commit)
    return found


def _service(name: str, handler: Recorder) -> ConsumingService:
    service: ConsumingService = SERVICES[name][0]().state.service
    inbox = MemoryInbox()
    service.consumer.rewire(handler=handler, begin=inbox.begin, first_deliveries=inbox)
    return service


Sent = list[tuple[str, Any, dict[str, str]]]


def spy_on_dead_letters(service: ConsumingService, monkeypatch: pytest.MonkeyPatch) -> Sent:
    """What the service publishes to its DLQs: (source topic, bytes, headers), in order."""
    sent: Sent = []
    for topic, publisher in service.consumer.dead_letters.items():

        def spy(
            message: Any,
            *args: Any,
            _real: Any = publisher.publish,
            _topic: str = topic,
            **kwargs: Any,
        ) -> Any:
            sent.append((_topic, message, kwargs["headers"]))
            return _real(message, *args, **kwargs)

        monkeypatch.setattr(publisher, "publish", spy)
    return sent


def _ids(case: tuple[str, Topic]) -> str:
    return f"{case[0]}-{case[1].name}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
async def test_each_valid_record_is_decoded_with_its_contract_and_applied_then_acked(
    case: tuple[str, Topic], commits: list[int]
) -> None:
    name, topic = case
    recorder = Recorder()
    service = _service(name, recorder)
    envelope = examples()[topic.name][0]
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            codec.encode(envelope), topic.name, key=codec.message_key(topic, envelope)
        )
    assert len(commits) == 1  # acknowledged once, after applying
    assert [(d.topic, d.envelope) for d in recorder.applied] == [(topic.name, envelope)]


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
async def test_a_record_breaking_its_contract_goes_to_its_topics_dlq_as_received(
    case: tuple[str, Topic], commits: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, topic = case
    recorder = Recorder()
    service = _service(name, recorder)
    sent = spy_on_dead_letters(service, monkeypatch)
    broken = b'{"specversion": "1.0", "id": "x"}'
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(broken, topic.name, key=b"ord-1")
        # The in-memory broker hands the DLQ record on: it was published, JSON-decoded.
        assert service.consumer.dead_letters[topic.name].mock.call_count == 1
    assert [(source, value) for source, value, _ in sent] == [(topic.name, broken)]
    assert sent[0][2][HEADER_REASON] == "contract_violation"
    assert len(commits) == 1  # the partition moves on
    assert recorder.applied == []


async def test_dead_letter_headers_say_why_where_from_and_who(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = _service("adjudication", Recorder())
    sent = spy_on_dead_letters(service, monkeypatch)
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(b"\xff not json", ORDERS.name, key=b"ord-1")
    ((source, value, headers),) = sent
    assert (source, value) == (ORDERS.name, b"\xff not json")
    assert headers[HEADER_REASON] == "not_json"
    assert headers[HEADER_SOURCE_TOPIC] == ORDERS.name
    assert headers[HEADER_CONSUMER] == AdjudicationSettings().consumer_group


@pytest.mark.parametrize(
    ("recorder", "reason"),
    [(Recorder(refuse="x"), "refused"), (Recorder(break_on="x"), "broken")],
    ids=["refused", "broken"],
)
async def test_a_message_the_handler_will_not_apply_goes_alone_to_the_dlq(
    recorder: Recorder, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = examples()[ORDERS.name][0]
    recorder.refuse = envelope.id if reason == "refused" else None
    recorder.break_on = envelope.id if reason == "broken" else None
    service = _service("metrics", recorder)
    sent = spy_on_dead_letters(service, monkeypatch)
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(codec.encode(envelope), ORDERS.name, key=b"k")
    ((source, value, headers),) = sent
    assert (source, value) == (ORDERS.name, codec.encode(envelope))
    expected = "event_time_out_of_bounds" if reason == "refused" else "handler_error"
    assert headers[HEADER_REASON] == expected
    assert recorder.applied == []


async def test_a_message_delivered_twice_is_applied_once(commits: list[int]) -> None:
    recorder = Recorder()
    service = _service("adjudication", recorder)
    envelope = examples()[CLAIMS_COMMANDS.name][0]
    async with TestKafkaBroker(service.broker) as broker:
        for _ in range(2):
            await broker.publish(codec.encode(envelope), CLAIMS_COMMANDS.name, key=b"k")
    assert len(commits) == 2
    assert [d.message_id for d in recorder.applied] == [envelope.id]


async def test_a_service_is_not_subscribed_to_what_it_does_not_consume() -> None:
    recorder = Recorder()
    service = _service("adjudication", recorder)
    envelope = examples()[CLAIMS_EVENTS.name][0]
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(codec.encode(envelope), CLAIMS_EVENTS.name, key=b"k")
    assert recorder.applied == []


async def test_metrics_count_what_was_applied_and_dead_lettered_and_faststreams_own_series() -> (
    None
):
    app = SERVICES["metrics"][0]()
    service: ConsumingService = app.state.service
    inbox = MemoryInbox()
    service.consumer.rewire(handler=Recorder(), begin=inbox.begin, first_deliveries=inbox)
    envelope = examples()[ORDERS.name][0]
    async with TestKafkaBroker(service.broker) as broker:
        for _ in range(2):  # the second is a duplicate the inbox skips
            await broker.publish(codec.encode(envelope), ORDERS.name, key=b"k")
        await broker.publish(b"\xff", ORDERS.name, key=b"k")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        text = (await client.get("/metrics")).text
        again = (await client.get("/metrics")).text  # counts the first request, by route
    assert 'atoz_http_requests_total{method="GET",route="/metrics",status="200"} 1.0' in again
    assert 'atoz_messages_applied_total{topic="orders.v1"} 1.0' in text
    assert 'atoz_messages_duplicate_total{topic="orders.v1"} 1.0' in text
    assert 'atoz_dead_letters_total{reason="not_json",topic="orders.v1"} 1.0' in text
    assert "atoz_batch_apply_seconds_count 3.0" in text
    assert 'faststream_received_messages_total{app_name="metrics"' in text


async def test_each_message_is_processed_in_a_consumer_span_child_of_its_producers() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = adjudication.app.create_app(
        AdjudicationSettings(log_format="json"), tracer_provider=provider
    )
    service: ConsumingService = app.state.service
    recorder = Recorder()
    inbox = MemoryInbox()
    service.consumer.rewire(handler=recorder, begin=inbox.begin, first_deliveries=inbox)
    producer = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    traced, broken = examples()[ORDERS.name][:2]
    traced = traced.model_copy(update={"traceparent": producer})
    recorder.break_on = broken.id
    async with TestKafkaBroker(service.broker) as broker:
        for envelope in (traced, broken):
            await broker.publish(codec.encode(envelope), ORDERS.name, key=b"k")
    spans = {
        (span.attributes or {})["messaging.message.id"]: span
        for span in exporter.get_finished_spans()
    }
    mine, culprit = spans[traced.id], spans[broken.id]
    assert mine.name == "process orders.v1"
    assert mine.kind is SpanKind.CONSUMER
    assert mine.parent is not None
    assert f"{mine.parent.span_id:016x}" == producer[36:52]
    assert culprit.parent is None  # its producer traced nothing: a trace of its own
    # The handler got the consumer span's context, to make its own spans children of it.
    [applied] = recorder.applied
    assert applied.trace == f"00-{producer[3:35]}-{mine.context.span_id:016x}-01"
    assert mine.status.status_code is StatusCode.UNSET
    assert culprit.status.status_code is StatusCode.ERROR
    assert culprit.attributes is not None
    assert culprit.attributes["atoz.dead_letter_reason"] == "handler_error"
