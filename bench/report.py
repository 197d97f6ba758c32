"""Where a benchmark writes its result, and the figures of the code before a change beside it.

``--output`` sends a run elsewhere (the run of an older checkout, say) instead of
``bench/results/<name>.json``; ``--before-move`` takes such a file and keeps its figures in
this run's result as ``before_move``, so the committed file holds both sides of a comparison.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, help="write here instead of bench/results/")
    parser.add_argument(
        "--before-move",
        type=Path,
        help="a result of this benchmark on the code before the move, kept as before_move",
    )
    parser.add_argument("--commit", help="the commit measured (recorded as is)")


def write(report: dict[str, Any], args: argparse.Namespace) -> Path:
    """Write ``report`` where ``args`` say, with ``before_move`` when given; the path."""
    if args.commit:
        report["commit"] = args.commit
    if args.before_move:
        before = json.loads(args.before_move.read_text())
        report["before_move"] = {k: v for k, v in before.items() if k not in ("name", "unit")}
    path: Path = args.output or RESULTS / f"{report['name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def collector_as_served() -> str:
    """Set the garbage collector as the measured code's ``servicekit.serve`` does, and say how
    (kept in the result): "tuned", or "defaults" for code from before
    ``servicekit.collector`` (an older checkout), which was served with CPython's defaults."""
    try:
        from servicekit.collector import tune_for_service  # noqa: PLC0415  # may be absent
    except ImportError:
        return "defaults"
    tune_for_service()
    return "tuned"
