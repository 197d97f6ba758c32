"""structlog, configured once per process: JSON lines in production, colours on a terminal.

Context (claim, order, seller ids, request id) is bound per message or request through
``structlog.contextvars`` and cleared after it, so it never leaks into the next one.
"""

from __future__ import annotations

import logging
import sys
from typing import Final

import orjson
import structlog

from servicekit.settings import LogFormat

_SELF_HANDLED: Final = ("faststream",)
"""Loggers a library configures with its own handler at import time."""


def configure_logging(format: LogFormat = "auto", level: str = "info", *, service: str) -> None:  # noqa: A002  # mirrors the setting's name
    """Route structlog and the standard library's logging through one renderer."""
    use_json = format == "json" or (format == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    # orjson renders JSON several times faster than the standard library, and straight to
    # bytes, which the BytesLogger writes without re-encoding (structlog's performance advice).
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    stderr_bytes = getattr(sys.stderr, "buffer", None)
    if use_json:
        shared.append(structlog.processors.format_exc_info)
        if stderr_bytes is None:  # a stream without bytes underneath: render text instead
            renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=(
            structlog.BytesLoggerFactory(stderr_bytes)
            if use_json and stderr_bytes is not None
            else structlog.PrintLoggerFactory(sys.stderr)
        ),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, uvicorn, faststream) log through the standard library: render those
    # lines the same way so one log file has one format.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # logging formatters return text, not the bytes the fast renderer makes
                structlog.processors.JSONRenderer() if use_json else renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _SELF_HANDLED:
        # These install a handler of their own (coloured text) and stop propagating: their
        # lines, and those of every logger under them (the broker's), would bypass the renderer.
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
