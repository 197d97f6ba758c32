"""Write intake's OpenAPI document to ``services/intake/openapi.json`` (committed).

``python -m intake.openapi`` rewrites it; ``--check`` exits 1 when the committed copy is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from intake.app import create_app
from intake.publisher import RecordingPublisher
from intake.settings import IntakeSettings

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi.json"


def build_document() -> dict[str, Any]:
    """The OpenAPI document, from an app wired with no broker and no tokens."""
    app = create_app(IntakeSettings(log_format="json"), publisher=RecordingPublisher())
    return app.openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(build_document())
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            sys.stderr.write(f"stale: {DOCUMENT} (run python -m intake.openapi)\n")
            return 1
        return 0
    DOCUMENT.write_text(text)
    sys.stdout.write(f"wrote {DOCUMENT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
