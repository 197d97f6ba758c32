"""``atoz-simulate``: play a seeded marketplace against a running platform and print what
happened.

The platform should run its rules on event time (``ADJUDICATION_CLOCK=event``,
``METRICS_CLOCK=event``, as ``./platform up`` starts it), so the simulated weeks pass in
minutes. Exit code 0 when every claim ended as the policy says and every seller's ODR matched
the recomputation; 1 otherwise; 2 when the platform cannot take the simulation (unreachable,
token refused, already past the simulated span), said in one sentence.

Addresses default to the local platform's, ports included (``DEVSTACK_*_PORT``,
``DEVSTACK_HOME``), so a platform started with other ports is found without options.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contracts.claims import ClaimEvent
from contracts.orders import OrderFact
from marketsim import preflight, runner, summary
from marketsim.retries import RetryPolicy
from marketsim.world import WorldConfig, build_world
from servicekit.kafka import KafkaAccess

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
# Off a terminal (CI logs, a pipe) rich would wrap the tables at 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _local(service: str, default_port: int) -> str:
    """The local platform's URL of ``service`` (``./platform up`` honours the same variables)."""
    return (
        f"http://127.0.0.1:{os.environ.get(f'DEVSTACK_{service.upper()}_PORT', str(default_port))}"
    )


LOCAL_KAFKA = f"127.0.0.1:{os.environ.get('DEVSTACK_KAFKA_PORT', '9092')}"
LOCAL_TOKENS = Path(os.environ.get("DEVSTACK_HOME", ".devstack")) / "tokens.json"
LOCAL_CREDENTIALS = (
    Path(os.environ.get("DEVSTACK_HOME", ".devstack")) / "kafka" / "credentials.json"
)
PRINCIPAL = "simulator"
"""The simulator's Kafka principal (contracts.access): writes order facts, reads claim events."""


def _this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _kafka_access(
    bootstrap_servers: str, username: str | None, password: str | None, credentials: Path
) -> KafkaAccess:
    """As the given principal, else as the simulator with the launcher's password for it."""
    if username is not None:
        return KafkaAccess(bootstrap_servers, username, password)
    try:
        passwords: dict[str, str] = json.loads(credentials.read_text())
        return KafkaAccess(bootstrap_servers, PRINCIPAL, passwords[PRINCIPAL])
    except (OSError, ValueError, KeyError) as error:
        raise typer.BadParameter(
            f"no Kafka password for {PRINCIPAL!r} in {credentials} ({error}); pass "
            "--kafka-username and --kafka-password",
            param_hint="--kafka-username",
        ) from None


def _service_token(tokens_file: Path) -> str:
    try:
        tokens: dict[str, dict[str, str]] = json.loads(tokens_file.read_text())
        return tokens["service"]["token"]
    except (OSError, ValueError, KeyError) as error:
        raise typer.BadParameter(
            f"no service token in {tokens_file} ({error}); pass --token", param_hint="--token"
        ) from None


async def simulate(
    config: WorldConfig,
    target: runner.Target,
    pace: runner.Pace,
    metrics_url: str,
    *,
    show_progress: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Build the world, play it, and summarize: the whole job, as plain data."""
    await preflight.check_services(target.intake_url, metrics_url, target.token)
    if not force:
        await preflight.check_clock(target.kafka, config.start)
    world = build_world(config)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
    )
    with bar:
        task = bar.add_task("simulating", total=1, detail="")

        def on_step(p: runner.Progress) -> None:
            if not show_progress and p.steps_done % 40 == 0:  # a log line per 10 simulated days
                console.print(
                    f"  {p.now:%Y-%m-%d}: {p.steps_done}/{p.steps_total} steps, facts {p.facts:,},"
                    f" buyer filings {p.filed}, claims at their end state {p.settled}/{p.cases}"
                )
            bar.update(
                task,
                total=p.steps_total,
                completed=p.steps_done,
                description=f"{p.now:%Y-%m-%d %H:%M}",
                detail=f"facts {p.facts:,} · buyer filings {p.filed} · events {p.events:,}"
                f" · at their end state {p.settled}/{p.cases}",
            )

        observed = await runner.Runner(world, target, pace, on_step=on_step).run()
    events: list[OrderFact | ClaimEvent] = [*observed.facts, *observed.claim_events]
    with console.status("waiting for metrics to catch up"):
        odr = await summary.settled_odr(world, metrics_url, target.token, events)
    return summary.summarize(world, observed, odr)


@app.command()
def main(  # noqa: PLR0917  # typer reads each option from a parameter
    seed: Annotated[int, typer.Option(help="Same seed, same marketplace.")] = 7,
    days: Annotated[int, typer.Option(min=14, max=365, help="Simulated days.")] = 90,
    sellers_per_profile: Annotated[
        int, typer.Option(min=1, max=50, help="Sellers of each of the seven profiles.")
    ] = 4,
    scale: Annotated[float, typer.Option(min=0.05, max=20, help="Multiplies daily orders.")] = 1.0,
    retry_seconds: Annotated[
        float,
        typer.Option(
            min=0,
            help="How long a call on intake is retried (backoff, jitter, Retry-After) before it"
            " is abandoned: long enough to outlast a service's restart.",
        ),
    ] = RetryPolicy().budget,
    minutes: Annotated[
        float, typer.Option(min=0.1, help="Wall time for the simulated span.")
    ] = 2.5,
    end: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d"],
            help="When the simulated span ends, UTC [default: this hour]. Same seed and end,"
            " same marketplace.",
        ),
    ] = None,
    intake_url: Annotated[str, typer.Option(envvar="ATOZ_INTAKE_URL")] = _local("intake", 8001),
    metrics_url: Annotated[str, typer.Option(envvar="ATOZ_METRICS_URL")] = _local("metrics", 8003),
    kafka: Annotated[
        str,
        typer.Option(envvar="PLATFORM_KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers."),
    ] = LOCAL_KAFKA,
    kafka_username: Annotated[
        str | None,
        typer.Option(envvar="ATOZ_KAFKA_USERNAME", help="Kafka principal [default: simulator]."),
    ] = None,
    kafka_password: Annotated[
        str | None, typer.Option(envvar="ATOZ_KAFKA_PASSWORD", help="Its password.")
    ] = None,
    kafka_credentials: Annotated[
        Path, typer.Option(help="Where ./platform up keeps the Kafka principals' passwords.")
    ] = LOCAL_CREDENTIALS,
    token: Annotated[
        str | None, typer.Option(envvar="ATOZ_SERVICE_TOKEN", help="A service token for intake.")
    ] = None,
    tokens_file: Annotated[
        Path, typer.Option(help="Where ./platform up keeps its development tokens.")
    ] = LOCAL_TOKENS,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the summary here, as JSON.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Play even if orders.v1 already holds later facts.")
    ] = False,
) -> None:
    """Simulate a marketplace against a running platform and print the summary.

    Exit code 0: every claim ended as the policy gives and every ODR matched its recomputation;
    1: some did not; 2: the platform cannot take the simulation (the reason is printed).
    """
    config = WorldConfig(
        seed=seed,
        days=days,
        end=end.replace(tzinfo=UTC) if end else _this_hour(),
        sellers_per_profile=sellers_per_profile,
        order_scale=scale,
    )
    access = _kafka_access(kafka, kafka_username, kafka_password, kafka_credentials)
    target = runner.Target(
        intake_url,
        access,
        token or _service_token(tokens_file),
        retries=RetryPolicy(budget=retry_seconds),
    )
    pace = runner.Pace(wall_seconds=minutes * 60)
    try:
        result = asyncio.run(
            simulate(
                config,
                target,
                pace,
                metrics_url,
                show_progress=console.is_terminal or bool(os.environ.get("FORCE_PROGRESS")),
                force=force,
            )
        )
    except preflight.PlatformNotReadyError as error:
        console.print(f"[red]atoz-simulate: {error}[/]")
        raise typer.Exit(2) from None
    except KafkaError as error:
        console.print(f"[red]atoz-simulate: Kafka failed at {kafka}: {error}[/]")
        raise typer.Exit(2) from None
    summary.render(result, console)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2, default=str))
    # Claims whose call was abandoned are reported apart: not the platform's wrong outcome.
    ok = not result["mismatches"] and result["odr_matches"] == len(result["odr"])
    raise typer.Exit(0 if ok else 1)
