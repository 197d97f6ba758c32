"""One log format per process: libraries' lines go through the same renderer as the service's."""

from __future__ import annotations

import json
import logging

import faststream  # noqa: F401  # imported first, as in a service: it installs its own handler
import pytest

from servicekit.logging import configure_logging


def test_faststreams_lines_are_json_like_every_other_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "info", service="test")
    # The broker's logger (servicekit.kafka.service_broker) sits under faststream's own, which
    # writes coloured text to stderr and does not propagate unless told.
    logging.getLogger("faststream.test").warning("Auto create topics is disabled.")
    logging.getLogger("faststream").warning("from faststream itself")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert [json.loads(line)["event"] for line in lines] == [
        "Auto create topics is disabled.",
        "from faststream itself",
    ]
