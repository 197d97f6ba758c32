"""``devstack``: start, stop and inspect the local Kafka and PostgreSQL.

Exit codes: 0 success (for ``status``: every server up), 1 a server failed (for ``status``:
some server down), 2 a missing prerequisite or bad setting, reported in one sentence.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from devstack import api, services
from devstack.errors import DevstackError, PrerequisiteError
from devstack.procs import tail
from devstack.replicas import parse as replicas_of

app = typer.Typer(
    name="devstack",
    help="A real Apache Kafka (KRaft) and PostgreSQL for local runs and tests, without Docker.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# soft_wrap: a message is one line however narrow the terminal (scripts grep these lines).
# Off a terminal rich would fold tables at 80 columns, splitting log paths mid-word.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class ClockChoice(StrEnum):
    """What "now" is for the services' rules: real time, or the newest event time."""

    wall = "wall"
    event = "event"


class Server(StrEnum):
    """A server whose log ``devstack logs`` shows."""

    kafka = "kafka"
    postgres = "postgres"


@contextmanager
def _reported() -> Iterator[None]:
    """Turn the launcher's errors into one line on stderr and an exit code, not a traceback."""
    try:
        yield
    except PrerequisiteError as error:
        err.print(f"devstack: {error}", markup=False)
        raise typer.Exit(2) from None
    except DevstackError as error:
        err.print(f"devstack: {error}", markup=False)
        raise typer.Exit(1) from None


def _print_phase(phase: str, seconds: float, detail: str) -> None:
    suffix = f"  ({detail})" if detail else ""
    out.print(f"  {phase:<20} {seconds:6.2f}s{suffix}", markup=False)


@app.command()
def start(
    no_kafka: Annotated[bool, typer.Option("--no-kafka", help="Leave Kafka alone.")] = False,
    no_postgres: Annotated[
        bool, typer.Option("--no-postgres", help="Leave PostgreSQL alone.")
    ] = False,
    brokers: Annotated[
        int | None,
        typer.Option(
            help="Kafka brokers: 1, or 3 (a quorum of three, replication factor 3, two in sync;"
            " broker k on the ports + 100 (k - 1)). Default: as last started, else 1.",
        ),
    ] = None,
) -> None:
    """Start Kafka and PostgreSQL (already running ones are only checked)."""
    with _reported():
        config = api.load_config(brokers=brokers)
        began = time.monotonic()
        endpoints = api.start(
            config, kafka=not no_kafka, postgres=not no_postgres, report=_print_phase
        )
        _print_phase("total", time.monotonic() - began, "")
    if not no_kafka:
        out.print(f"kafka     {endpoints.kafka_bootstrap_servers}", markup=False)
    if not no_postgres:
        out.print(f"postgres  {endpoints.postgres_url}", markup=False)
    out.print(f"env file  {config.env_file}", markup=False)


@app.command()
def stop() -> None:
    """Stop both servers (nothing happens if they are not running)."""
    with _reported():
        config = api.load_config()
        before = api.status(config)
        began = time.monotonic()
        api.stop(config)
    stopped = [server.name for server in before.servers if server.pid is not None]
    what = ", ".join(stopped) if stopped else "nothing was running"
    out.print(f"stopped: {what} ({time.monotonic() - began:.2f}s)", markup=False)


@app.command()
def clean() -> None:
    """Stop both servers and delete their data and logs (the Kafka jar cache stays)."""
    with _reported():
        config = api.load_config()
        removed = api.clean(config)
    out.print(f"removed {len(removed)} paths", markup=False)
    for path in removed:
        out.print(f"  {path}", markup=False)


@app.command()
def status() -> None:
    """Show whether each server is up; exit code 0 only when all are."""
    with _reported():
        config = api.load_config()
        current = api.status(config)
    table = Table(title=f"devstack at {config.home}")
    for column in ("server", "state", "pid", "address"):
        table.add_column(column, no_wrap=True)
    table.add_column("log", overflow="fold")
    for server in current.servers:
        state = "[green]up[/green]" if server.up else "[red]down[/red]"
        pid = str(server.pid) if server.pid is not None else "-"
        table.add_row(server.name, state, pid, server.address, str(server.log))
    out.print(table)
    raise typer.Exit(0 if current.all_up else 1)


@app.command()
def env() -> None:
    """Print export lines for the platform's settings: eval "$(devstack env)"."""
    with _reported():
        config = api.load_config()
    for key, value in api.endpoints(config).as_env().items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@app.command()
def logs(
    server: Annotated[Server, typer.Argument(help="Which server's log.")],
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many last lines.")] = 50,
    path_only: Annotated[
        bool, typer.Option("--path", help="Print only the log's path (for tail -f).")
    ] = False,
) -> None:
    """Print the last lines of a server's log (or only its path)."""
    with _reported():
        config = api.load_config()
    path = config.kafka_log if server is Server.kafka else config.postgres_log_link
    if path_only:
        typer.echo(str(path))
        return
    err.print(f"==> {path} <==", markup=False)
    for line in tail(path, lines):
        typer.echo(line)


services_app = typer.Typer(
    help="The platform's three services (intake, adjudication, metrics), its dashboard and a"
    " Prometheus scraping the three, supervised.",
    no_args_is_help=True,
)
app.add_typer(services_app, name="services")


@services_app.command("start")
def services_start(
    clock: Annotated[
        ClockChoice,
        typer.Option(help="event: deadlines and days follow event time (simulations, replays)."),
    ] = ClockChoice.wall,
    no_prometheus: Annotated[
        bool, typer.Option("--no-prometheus", help="Run no Prometheus beside the services.")
    ] = False,
    replicas: Annotated[
        str | None,
        typer.Option(
            help="How many of each service, e.g. adjudication=2,metrics=2,intake=2 (replica k"
            " listens on the service's port + 100 x (k - 1)).",
        ),
    ] = None,
) -> None:
    """Start the services (and Prometheus) under a supervisor, restarted on crash, and wait
    until ready."""
    with _reported():
        config = api.load_config()
        began = time.monotonic()
        services.start(
            config,
            api.endpoints(config),
            clock=clock.value,
            prometheus=not no_prometheus,
            replicas=replicas_of(replicas),
        )
    out.print(f"services ready in {time.monotonic() - began:.1f}s", markup=False)
    for found in services.status(config):
        out.print(f"  {found.name:<15} {found.url}", markup=False)
    out.print(f"  tokens        {config.home / 'tokens.json'}", markup=False)


@services_app.command("stop")
def services_stop() -> None:
    """Stop the services gracefully (in-flight work finishes)."""
    with _reported():
        services.stop(api.load_config())


@services_app.command("status")
def services_status() -> None:
    """Show whether each service is ready; exit code 0 only when all are."""
    with _reported():
        found = services.status(api.load_config())
    for service in found:
        if service.ready:
            state = "[green]ready[/green]"
        elif service.supervised:
            state = "[red]not ready[/red]"
        else:
            state = "[yellow]stopped[/yellow]"
        out.print(f"{service.name:<15} {state}  {service.url}")
    raise typer.Exit(0 if all(s.ready for s in found) else 1)


if __name__ == "__main__":
    app()
