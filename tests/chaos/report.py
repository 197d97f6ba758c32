"""The chaos run's report: ``artifacts/chaos.json`` and a Markdown table of the faults.

``pytest tests/chaos --chaos-record`` also puts the table in ``bench/README.md`` (between the
``chaos:begin`` and ``chaos:end`` markers) and the JSON in ``bench/results/chaos.json``, as the
benchmarks record theirs.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.chaos.driver import FaultRecord

BEGIN, END = "<!-- chaos:begin -->", "<!-- chaos:end -->"


def _seconds(values: Sequence[float]) -> str:
    return f"{max(values):.1f}" if values else "-"


def table(report: dict[str, Any]) -> str:
    """One row per kind of fault: how many, how long the part was down, how long recovery took
    (median and worst), and whether any liveness probe failed; then the run's counts."""
    rows = [
        "| fault | count | part down, worst (s) | recovery, median (s) | recovery, worst (s) |"
        " services seen not ready |",
        "|---|---:|---:|---:|---:|---|",
    ]
    faults = [FaultRecord(**fault) for fault in report["faults"]]
    for kind in dict.fromkeys(fault.kind for fault in faults):
        mine = [fault for fault in faults if fault.kind == kind]
        recoveries = [f.recovery_seconds for f in mine if f.recovery_seconds is not None]
        outages = [f.outage_seconds for f in mine if f.outage_seconds is not None]
        unready = sorted({name for fault in mine for name in fault.unready})
        median = f"{statistics.median(recoveries):.1f}" if recoveries else "-"
        rows.append(
            f"| {kind} | {len(mine)} | {_seconds(outages)} | {median} | {_seconds(recoveries)}"
            f" | {', '.join(unready) or 'none'} |"
        )
    counts = report["counts"]
    rows.append("")
    rows.append(
        f"{counts['claims_matched']}/{counts['claims']} claims as their stories say,"
        f" {counts['odr_compared']} sellers' ODR equal to the recomputation,"
        f" {counts['claim_events']} claim events, {counts['poison_dead_lettered']}/"
        f"{counts['poison_expected']} poison dead letters, {counts['conflicting_ids']} ids with"
        f" two contents, {counts['decided_twice']} claims decided twice; outboxes empty and lag 0"
        f" {report['drained_after_seconds']} s after the last fault. Run of {report['date']}, seed"
        f" {report['seed']},"
        f" {report['minutes']} min of chaos, {report['wall_seconds']} s in all."
    )
    return "\n".join(rows) + "\n"


def write(report: dict[str, Any], artifacts: Path) -> Path:
    """Write ``chaos.json`` and ``chaos.md`` into ``artifacts``; return the JSON's path."""
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / "chaos.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    (artifacts / "chaos.md").write_text(table(report))
    return path


def record(report: dict[str, Any], bench: Path) -> None:
    """Put the table in ``bench/README.md`` and the JSON in ``bench/results/chaos.json``."""
    readme = bench / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{readme} has no {BEGIN} ... {END} section")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(f"{head}{BEGIN}\n{table(report)}{END}{tail}")
    (bench / "results" / "chaos.json").write_text(json.dumps(report, indent=2) + "\n")
