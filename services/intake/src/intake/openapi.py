"""Write intake's OpenAPI document to ``services/intake/openapi.json`` (committed).

``python -m intake.openapi`` rewrites it; ``--check`` exits 1 when the committed copy is stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from intake.app import create_app
from intake.publisher import RecordingPublisher
from intake.settings import IntakeSettings
from servicekit.committed import export_main

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi.json"


def build_document() -> dict[str, Any]:
    """The OpenAPI document, from an app wired with no broker and no tokens."""
    app = create_app(IntakeSettings(log_format="json"), publisher=RecordingPublisher())
    return app.openapi()


def main(argv: list[str] | None = None) -> int:
    return export_main(argv, build=build_document, path=DOCUMENT, module="intake.openapi")


if __name__ == "__main__":
    raise SystemExit(main())
