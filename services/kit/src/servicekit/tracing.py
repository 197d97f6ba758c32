"""OpenTelemetry traces across the services, joined by the envelope's W3C ``traceparent``.

A filing makes one trace: intake's request span (continuing the caller's ``traceparent`` header
when it is valid) and its publish span, whose context travels in the command's envelope (the
CloudEvents distributed-tracing extension attribute); adjudication's span processing that
message and its decision span, whose context the events it emits carry (through the outbox, as
a ``traceparent`` record header the relay reads back); the relay's publish span; metrics'
processing span and the seller-health update.

Each app gets a :class:`Tracing` from its composition root, on or off. On: spans go to a
``TracerProvider`` of the app's own (OTLP over HTTP when ``<SVC>_OTLP_ENDPOINT`` names a
collector, see :func:`tracer_provider`; a test gives one with the SDK's in-memory exporter).
Off (no endpoint), no span is made, but a message's ``traceparent`` still passes through to
what it causes, so one untraced service does not cut the others' traces. Either way the trace
id is bound to structlog for the span's extent, so log lines carry it.

Why by hand rather than faststream's ``KafkaTelemetryMiddleware`` or an ASGI instrumentation:
those carry the context per Kafka record or request, while here an event is written to the
outbox in one transaction and published later by another task, and one poll batch holds many
traces; the envelope is the one carrier that survives both.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import (
    INVALID_SPAN,
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from contracts.envelope import TRACEPARENT_PATTERN

__all__ = [
    "OFF",
    "TRACEPARENT_HEADER",
    "Span",
    "SpanKind",
    "StatusCode",
    "Traced",
    "Tracing",
    "parse",
    "traceparent_of",
    "tracer_provider",
]

TRACEPARENT_HEADER: Final = "traceparent"
"""The W3C header (HTTP) and Kafka record header that carry a span's context."""

_WELL_FORMED: Final = re.compile(TRACEPARENT_PATTERN)


@dataclass(frozen=True, slots=True)
class Traced:
    """The span a block runs in: ``traceparent`` for what it emits (None: no trace at all),
    and the span itself for attributes (a non-recording one when tracing is off)."""

    traceparent: str | None
    span: Span


def parse(traceparent: str | None) -> SpanContext | None:
    """The span context a W3C ``traceparent`` names; None when absent or not valid (W3C says
    an invalid one is ignored: the receiver starts a trace of its own)."""
    if not traceparent or _WELL_FORMED.fullmatch(traceparent) is None:
        return None
    _, trace_id, span_id, flags = traceparent.split("-")
    context = SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int(span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(int(flags, 16)),
    )
    return context if context.is_valid else None  # all-zero ids are invalid


def traceparent_of(context: SpanContext) -> str | None:
    """The W3C ``traceparent`` of a span context (None for an invalid one)."""
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def tracer_provider(service: str, otlp_endpoint: str | None) -> TracerProvider | None:
    """A provider exporting ``service``'s spans to the OTLP/HTTP traces URL ``otlp_endpoint``
    (e.g. ``http://collector:4318/v1/traces``) in batches; None (tracing off) without one."""
    if not otlp_endpoint:
        return None
    # Imported only when exporting: the exporter pulls in protobuf, which an untraced service
    # never needs to load.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415  # see above
        OTLPSpanExporter,
    )

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    return provider


@contextlib.contextmanager
def _trace_id_logged(traceparent: str | None) -> Iterator[None]:
    if traceparent is None:
        yield
        return
    with structlog.contextvars.bound_contextvars(trace_id=traceparent[3:35]):
        yield


_UNTRACED: Final = contextlib.nullcontext(Traced(None, INVALID_SPAN))
"""The block of a message without a valid traceparent, tracing off (reusable: it holds no
state)."""


class Tracing:
    """One service's spans: :meth:`span` around work, :meth:`start` for a span that outlives
    a block (a message's processing across its batch)."""

    def __init__(
        self, provider: TracerProvider | None = None, *, service: str, owned: bool = False
    ) -> None:
        self.provider = provider
        self._owned = owned
        self._tracer = provider.get_tracer(f"atoz.{service}") if provider is not None else None

    @classmethod
    def for_service(
        cls, service: str, otlp_endpoint: str | None, given: TracerProvider | None = None
    ) -> Tracing:
        """The composition root's: the ``given`` provider (a test's, which the test shuts
        down), else one exporting to ``otlp_endpoint`` (shut down with the service), else
        off."""
        if given is not None:
            return cls(given, service=service)
        return cls(tracer_provider(service, otlp_endpoint), service=service, owned=True)

    @property
    def enabled(self) -> bool:
        """Whether spans are recorded (a provider was given)."""
        return self._tracer is not None

    def span(
        self,
        name: str,
        *,
        parent: str | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[str | None] = (),
    ) -> contextlib.AbstractContextManager[Traced]:
        """Run the block in a span named ``name``, child of the ``parent`` traceparent (a root
        when it is None or invalid); current for the block, ended (with any exception
        recorded) after it. Off, the block runs under ``parent`` itself."""
        if self._tracer is None:
            # Passed on only when valid: a caller's header must never reach an envelope as is.
            if parent is None or parse(parent) is None:
                return _UNTRACED  # once per message of a batch: no generator to build
            return self._under(parent)
        return self._recorded(name, parent, kind, attributes, links)

    @staticmethod
    @contextlib.contextmanager
    def _under(parent: str) -> Iterator[Traced]:
        with _trace_id_logged(parent):
            yield Traced(parent, INVALID_SPAN)

    @contextlib.contextmanager
    def _recorded(
        self,
        name: str,
        parent: str | None,
        kind: SpanKind,
        attributes: Mapping[str, Any] | None,
        links: Sequence[str | None],
    ) -> Iterator[Traced]:
        assert self._tracer is not None  # noqa: S101  # span() checked it
        with self._tracer.start_as_current_span(
            name,
            context=_context(parent),
            kind=kind,
            attributes=attributes,
            links=_links(links),
        ) as span:
            traceparent = traceparent_of(span.get_span_context())
            with _trace_id_logged(traceparent):
                yield Traced(traceparent, span)

    def start(
        self,
        name: str,
        *,
        parent: str | None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
    ) -> Span | None:
        """Start a span the caller ends (None when tracing is off)."""
        if self._tracer is None:
            return None
        return self._tracer.start_span(
            name, context=_context(parent), kind=kind, attributes=attributes
        )

    def shutdown(self) -> None:
        """Flush and stop the exporters of a provider made here (a given one is its owner's)."""
        if self.provider is not None and self._owned:
            self.provider.shutdown()


OFF: Final = Tracing(service="untraced")
"""No spans; traceparents pass through (the default of functions a replay also calls)."""


def _context(parent: str | None) -> Context:
    # Always an explicit context: a span must never adopt whatever happens to be current (the
    # previous message of a batch, say) as its parent.
    found = parse(parent)
    return set_span_in_context(NonRecordingSpan(found)) if found is not None else Context()


def _links(traceparents: Sequence[str | None]) -> list[Link]:
    return [Link(found) for found in map(parse, traceparents) if found is not None]
