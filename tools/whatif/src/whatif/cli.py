"""``atoz-whatif``: what would have happened under another policy.

    atoz-whatif --policy candidate.toml [--baseline policies/default.toml]
                [--from 2026-01-01T00:00:00Z] [--to 2026-03-31T23:59:59Z]
                [--json report.json] [--html report.html]

Reads ``orders.v1`` and ``claims.commands.v1`` from offset zero (only the inputs whose time is
in the range, when one is given), leaves out what each live service dead-lettered (its DLQ,
readable by the Kafka admin), replays them through adjudication's and metrics' rules under
both policies in memory, and shows what changes: claims, money, sellers. Nothing is written to
any topic or database, and the same history gives the same report every run. It reads from
the broker ``--kafka`` names (``PLATFORM_KAFKA_*``, as ``devstack env`` prints them), else as the
adjudication service does (``ADJUDICATION_KAFKA_*``), without a consumer group.
"""

from __future__ import annotations

import asyncio
import gc
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from adjudication.settings import AdjudicationSettings
from contracts.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy
from metrics.settings import MetricsSettings
from servicekit.kafka import KafkaAccess
from servicekit.logging import configure_logging
from whatif import history
from whatif.compare import Service, compare
from whatif.render import to_html, to_terminal

app = typer.Typer(add_completion=False, help=__doc__)


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=option) from None
    if moment.tzinfo is None:
        raise typer.BadParameter("say the time zone (Z or +01:00)", param_hint=option)
    return moment


@app.command()
def main(
    *,
    policy: Annotated[Path, typer.Option(help="The candidate policy document (TOML).")],
    baseline: Annotated[Path, typer.Option(help="The policy to compare with.")] = (
        DEFAULT_POLICY_FILE
    ),
    since: Annotated[
        str | None, typer.Option("--from", help="Only inputs at or after (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Only inputs at or before (ISO 8601).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON here.")
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Write the HTML report here.")
    ] = None,
    kafka: Annotated[
        str | None,
        typer.Option(
            envvar="PLATFORM_KAFKA_BOOTSTRAP_SERVERS",
            help="Kafka bootstrap servers "
            "[default: the adjudication service's, ADJUDICATION_KAFKA_*].",
        ),
    ] = None,
    kafka_username: Annotated[
        str | None, typer.Option(envvar="PLATFORM_KAFKA_USERNAME", help="Kafka principal.")
    ] = None,
    kafka_password: Annotated[
        str | None, typer.Option(envvar="PLATFORM_KAFKA_PASSWORD", help="Its password.")
    ] = None,
) -> None:
    """Replay the recorded inputs under both policies and report what changes."""
    console = Console(stderr=True)
    try:
        documents = load_policy(baseline), load_policy(policy)
    except PolicyError as error:
        console.print(f"[red]refused:[/red] {error}")
        raise typer.Exit(2) from None
    start, end = _moment(since, "--from"), _moment(until, "--to")
    # The rules log each event at info: a replay of millions would drown the report.
    settings = AdjudicationSettings(log_level="warning")
    access = KafkaAccess(kafka, kafka_username, kafka_password) if kafka else settings.kafka()
    configure_logging("console", "warning", service="atoz-whatif")
    # A million envelopes and two replays' state live until the report: each full collection
    # would walk them all again (a minute of a three-minute run, measured). A run is short and
    # makes few cycles: collect none until it ends.
    gc.disable()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        reading = progress.add_task("reading the topics", total=None)
        records = asyncio.run(
            history.read(
                access,
                on_progress=lambda done, total: progress.update(
                    reading, completed=done, total=total
                ),
            )
        )
        groups: dict[Service, str] = {
            "adjudication": settings.consumer_group,
            "metrics": MetricsSettings().consumer_group,
        }
        dead_letters = asyncio.run(history.read_dead_letters(access, groups))
        decoding = progress.add_task("decoding", total=None)
        found = history.ordered(records, since=start, until=end, dead_letters=dead_letters)
        del records
        progress.update(decoding, completed=len(found.inputs), total=len(found.inputs))
        tasks = {
            side: progress.add_task(f"replaying under the {side}", total=len(found.inputs))
            for side in ("baseline", "candidate")
        }
        report = compare(
            found.inputs,
            *documents,
            until=end,
            refused=found.refused,
            on_progress=lambda side, done: progress.update(tasks[side], completed=done),
        )
    to_terminal(report, Console())
    if found.undecodable:
        console.print(f"{found.undecodable} records were not valid messages and were skipped")
    if dead_letters is None:
        console.print(
            "[yellow]the dead-letter topics could not be read as this principal[/yellow]: what "
            "the live services refused (a time out of bounds) was replayed; run as the Kafka "
            "admin to skip it as they did"
        )
    if json_out is not None:
        json_out.write_text(report.model_dump_json(indent=2) + "\n")
        console.print(f"JSON report: {json_out}")
    if html_out is not None:
        html_out.write_text(to_html(report))
        console.print(f"HTML report: {html_out} (opens offline)")
