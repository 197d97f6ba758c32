"""Documents generated from the code and committed beside it (OpenAPI, AsyncAPI).

Each is written by ``python -m <module>`` and checked with ``--check``, which exits 1 when the
committed copy differs from what the code generates now, so a stale document fails lint or a
test rather than misleading a reader.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def render(generated: dict[str, Any]) -> str:
    """Stable text of a document: sorted keys, two-space indent, final newline."""
    return json.dumps(generated, indent=2, sort_keys=True) + "\n"


def export_main(
    argv: list[str] | None, *, build: Callable[[], dict[str, Any]], path: Path, module: str
) -> int:
    """Command line of ``python -m <module>``: write ``path``, or ``--check`` it."""
    parser = argparse.ArgumentParser(description=f"Write {path.name} of {module}.")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        if not path.exists() or path.read_text() != text:
            sys.stderr.write(f"stale: {path} (run python -m {module})\n")
            return 1
        return 0
    path.write_text(text)
    sys.stdout.write(f"wrote {path}\n")
    return 0
