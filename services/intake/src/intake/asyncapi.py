"""Write intake's AsyncAPI 3 document to ``services/intake/asyncapi.json`` (committed).

``python -m intake.asyncapi`` rewrites it; ``--check`` exits 1 when the committed copy is
stale. The running service serves its live document at ``GET /asyncapi``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from intake.app import create_app
from intake.publisher import RecordingPublisher
from intake.settings import IntakeSettings
from servicekit.asyncapi import canonical_kafka
from servicekit.committed import export_main

DOCUMENT = Path(__file__).resolve().parents[2] / "asyncapi.json"


def build_document() -> dict[str, Any]:
    """The document of an app wired as in production, without connecting to anything."""
    settings = IntakeSettings(log_format="json", **canonical_kafka("intake"))
    document: dict[str, Any] = create_app(settings, publisher=RecordingPublisher()).state.asyncapi()
    return document


def main(argv: list[str] | None = None) -> int:
    return export_main(argv, build=build_document, path=DOCUMENT, module="intake.asyncapi")


if __name__ == "__main__":
    raise SystemExit(main())
