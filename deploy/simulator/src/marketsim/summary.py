"""The run's summary: claims by resolution and funding, how many outcomes matched what the
policy gives, decisions per rule, every seller's ODR (checked against a recomputation from the
events), throughput and end-to-end latency.

:func:`summarize` gathers it into plain data (JSON-ready, for tests and benchmarks);
:func:`render` prints it with rich.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from contracts.claims import ClaimEvent
from contracts.orders import OrderFact
from marketsim.odr_check import recompute
from marketsim.runner import Observed
from marketsim.scenarios import Case
from marketsim.world import World


@dataclass(frozen=True, slots=True)
class Outcome:
    """One case: what the policy gives, and what the platform did."""

    order_id: str
    claim_id: str | None
    scenario: str
    expected: str
    observed: str
    matched: bool


def _refused(reasons: tuple[str, ...] | list[str]) -> str:
    return f" after refusal {', '.join(sorted(reasons))}" if reasons else ""


def judge(case: Case) -> Outcome:
    """Does the claim stand as its story says it must? Its end state, every rule its story
    says its events name, and exactly the refusals its story expects (a move refused that the
    story did not mean to be refused is a mismatch too)."""
    seen, want = case.observed, case.expected
    refusals = seen.get("refusals", [])
    observed = (
        f"{seen.get('status')}:{seen.get('resolution')}/{seen.get('funded_by')}"
        + (" (ODR)" if seen.get("counts_toward_odr") else "")
        + _refused(refusals)
        if seen
        else "never seen"
    )
    rules = seen.get("rules", ())
    matched = bool(seen) and (
        seen.get("status") == want.status
        and seen.get("resolution") == want.resolution
        and seen.get("funded_by") == want.funded_by
        and seen.get("counts_toward_odr") == want.counts_toward_odr
        and seen.get("filed_by") == want.filed_by
        and all(rule in rules for rule in want.rules)
        and (want.resolution != "denied" or seen.get("denial_reason") == want.denial_reason)
        and sorted(refusals) == sorted(case.refusals)
    )
    return Outcome(
        case.order_id,
        case.claim_id,
        case.scenario.value,
        want.label() + f" [{', '.join(want.rules)}]" + _refused(case.refusals),
        observed,
        matched,
    )


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        only = values[0] if values else None
        return {"p50": only, "p95": only, "p99": only, "count": len(values)}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "count": len(values)}


async def fetch_health(
    metrics_url: str, token: str, sellers: list[str]
) -> dict[str, dict[str, Any]]:
    """Every seller's health as the metrics API answers it: the staff list (``GET /v1/sellers``,
    500 a page), not a request per seller, since the caller polls it until metrics catches up."""
    wanted = set(sellers)
    found: dict[str, dict[str, Any]] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as http:
        offset = 0
        while True:
            answer = await http.get(
                f"{metrics_url.rstrip('/')}/v1/sellers", params={"limit": 500, "offset": offset}
            )
            if answer.status_code != 200:
                return found  # what is missing shows as such in the table
            page = answer.json()
            found |= {h["seller_id"]: h for h in page["sellers"] if h["seller_id"] in wanted}
            offset += len(page["sellers"])
            if not page["sellers"] or offset >= page["total"]:
                return found


def odr_rows(
    world: World, health: dict[str, dict[str, Any]], events: list[OrderFact | ClaimEvent]
) -> list[dict[str, Any]]:
    """One row per seller: the API's figures beside the recomputation for the same window."""
    windows = {
        (
            date.fromisoformat(h["window"]["first_order_date"]),
            date.fromisoformat(h["window"]["last_order_date"]),
        )
        for h in health.values()
    }
    recomputed = {window: recompute(events, *window) for window in windows}
    rows = []
    for seller in world.sellers:
        found = health.get(seller.seller_id)
        row: dict[str, Any] = {"seller_id": seller.seller_id, "profile": seller.profile.name}
        if found is None:
            rows.append(row | {"missing": True, "matches_recomputation": False})
            continue
        window = (
            date.fromisoformat(found["window"]["first_order_date"]),
            date.fromisoformat(found["window"]["last_order_date"]),
        )
        mine = recomputed[window].get(seller.seller_id)
        combined = found["combined"]
        rows.append(
            row
            | {
                "orders": combined["orders"],
                "defective": combined["defective_orders"],
                "claims": combined["claims"],
                "negative_feedback": combined["negative_feedback"],
                "chargebacks": combined["chargebacks"],
                "rate": found["rate"],
                "status": found["status"],
                "orders_to_recover": found["orders_to_recover"],
                "recomputed_rate": str(mine.rate) if mine else "0",
                "recomputed_orders": mine.orders if mine else 0,
                "recomputed_defective": mine.defective if mine else 0,
                "window": [str(day) for day in window],
                "matches_recomputation": mine is not None
                and (mine.orders, mine.defective)
                == (combined["orders"], combined["defective_orders"]),
            }
        )
    return rows


async def settled_odr(
    world: World,
    metrics_url: str,
    token: str,
    events: list[OrderFact | ClaimEvent],
    *,
    within: float = 60.0,
) -> list[dict[str, Any]]:
    """The ODR table once metrics has caught up with the run (or ``within`` seconds passed)."""
    sellers = [s.seller_id for s in world.sellers]
    deadline = time.monotonic() + within
    while True:
        rows = odr_rows(world, await fetch_health(metrics_url, token, sellers), events)
        if all(r["matches_recomputation"] for r in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(1.0)


def summarize(world: World, observed: Observed, odr: list[dict[str, Any]]) -> dict[str, Any]:
    """The run as plain data."""
    judged = [judge(case) for case in world.cases.values()]
    # A claim whose call the simulator abandoned (after its retry budget) is the simulator's to
    # answer for, not the platform's: reported apart, not counted as a wrong outcome.
    abandoned = [o for o in judged if not o.matched and o.order_id in observed.abandoned]
    by_scenario: dict[str, dict[str, int]] = {}
    for outcome in judged:
        tally = by_scenario.setdefault(outcome.scenario, {"claims": 0, "matched": 0})
        tally["claims"] += 1
        tally["matched"] += outcome.matched
    resolutions: Counter[str] = Counter()
    for case in world.cases.values():
        seen = case.observed
        if seen:
            key = f"{seen.get('resolution') or seen.get('status')}/{seen.get('funded_by')}"
            resolutions[key] += 1
    wall = max(observed.wall_seconds, 1e-9)
    return {
        "seed": world.config.seed,
        "simulated_days": world.config.days,
        "from": world.config.start.isoformat(),
        "to": world.config.end.isoformat(),
        "sellers": len(world.sellers),
        "orders": world.orders,
        "claims": len(world.cases),
        "matched": sum(o.matched for o in judged),
        "by_scenario": dict(sorted(by_scenario.items())),
        "mismatches": [asdict(o) for o in judged if not o.matched and o not in abandoned],
        "abandoned": [asdict(o) for o in abandoned],
        "resolutions": dict(resolutions.most_common()),
        "rules": dict(
            Counter(r for rules in observed.decisive_rules.values() for r in rules).most_common()
        ),
        "stories": [_story(case, world.config.end) for case in world.cases.values()],
        "odr": odr,
        "odr_matches": sum(1 for r in odr if r.get("matches_recomputation")),
        "run": {
            "wall_seconds": round(observed.wall_seconds, 1),
            "facts_published": observed.facts_published,
            "http_calls": observed.http_calls,
            "http_failures": observed.http_failures[:20],
            "rejected_moves": observed.rejected[:20],
            "rejected_moves_count": len(observed.rejected),
            "refused_as_expected": dict(sorted(observed.refused_as_expected.items())),
            "claim_events": observed.events,
            "messages_per_second": round(
                (observed.facts_published + observed.http_calls) / wall, 1
            ),
            "filing_latency_ms": _percentiles(observed.filing_latency_ms),
            "decision_latency_ms": _percentiles(observed.decision_latency_ms),
            "lagging_steps": observed.lagging_steps,
        },
    }


def _story(case: Case, end: datetime) -> dict[str, Any]:
    """What the simulator built a claim to be: enough to say what another policy changes."""
    silence = case.seller_silence(end)
    return {
        "order_id": case.order_id,
        "claim_id": case.claim_id,
        "scenario": case.scenario.value,
        "expected": case.expected.label(),
        "seller_silent_hours": None if silence is None else silence / timedelta(hours=1),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _moves(count: int) -> str:
    return f"{count} move" + ("" if count == 1 else "s")


def _pct(rate: str) -> str:
    return f"{Decimal(rate) * 100:.2f}%"


def render(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print the summary as tables."""
    console = console or Console()
    matched, claims = summary["matched"], summary["claims"]
    judged = claims - len(summary.get("abandoned", []))
    colour = "green" if matched == judged else "red"
    console.rule(
        f"[bold]Simulated {summary['simulated_days']} days · {summary['sellers']} sellers · "
        f"{summary['orders']:,} orders · {claims} claims"
    )
    console.print(
        f"[bold {colour}]{matched} of {judged} claims reached the outcome the policy gives[/]"
    )

    outcomes = Table(title="Claims by resolution and funding", title_justify="left")
    outcomes.add_column("resolution / funded by")
    outcomes.add_column("claims", justify="right")
    for key, count in summary["resolutions"].items():
        outcomes.add_row(key, str(count))
    scenarios = Table(title="Expected outcomes, by story", title_justify="left")
    scenarios.add_column("story")
    scenarios.add_column("matched", justify="right")
    for name, tally in summary["by_scenario"].items():
        ok = tally["matched"] == tally["claims"]
        scenarios.add_row(
            name, f"[{'green' if ok else 'red'}]{tally['matched']}/{tally['claims']}[/]"
        )
    rules = Table(title="Decisions per rule", title_justify="left")
    rules.add_column("rule")
    rules.add_column("claims", justify="right")
    for rule, count in summary["rules"].items():
        rules.add_row(rule, str(count))
    console.print(outcomes, scenarios, rules)
    for miss in summary["mismatches"][:10]:
        console.print(
            f"[red]✗ {miss['scenario']} order {miss['order_id']}: expected {miss['expected']},"
            f" got {miss['observed']}[/]"
        )

    odr = Table(title="Sellers' Order Defect Rate (60-day window)", title_justify="left")
    for column in (
        "seller",
        "profile",
        "orders",
        "defective",
        "claims",
        "neg. feedback",
        "chargebacks",
        "ODR",
        "status",
        "to recover",
        "recomputed",
    ):
        odr.add_column(
            column, justify="left" if column in ("seller", "profile", "status") else "right"
        )
    for row in sorted(summary["odr"], key=lambda r: Decimal(r.get("rate", "0")), reverse=True):
        if row.get("missing"):
            odr.add_row(row["seller_id"], row["profile"], *["-"] * 8, "[red]no health[/]")
            continue
        risky = row["status"] != "NORMAL"
        style = "bold red" if risky else ""
        odr.add_row(
            row["seller_id"],
            row["profile"],
            str(row["orders"]),
            str(row["defective"]),
            str(row["claims"]),
            str(row["negative_feedback"]),
            str(row["chargebacks"]),
            _pct(row["rate"]),
            row["status"],
            str(row["orders_to_recover"]),
            "[green]✓[/]"
            if row["matches_recomputation"]
            else f"[red]✗ {_pct(row['recomputed_rate'])}[/]",
            style=style,
        )
    console.print(odr)

    run = summary["run"]
    filing, deciding = run["filing_latency_ms"], run["decision_latency_ms"]
    console.print(
        f"[bold]Run:[/] {run['wall_seconds']} s wall · {run['facts_published']:,} order facts and"
        f" {run['http_calls']:,} API calls, {run['messages_per_second']:,} messages/s in all ·"
        f" {run['claim_events']:,} claim events seen"
    )
    console.print("[bold]End-to-end latency[/], intake's 202 → the answer on claims.events.v1:")
    console.print(
        f"  a filing → admitted or denied: p50 {_ms(filing['p50'])}, p95 {_ms(filing['p95'])},"
        f" p99 {_ms(filing['p99'])}"
    )
    console.print(
        f"  a seller's or reviewer's move → its decision: p50 {_ms(deciding['p50'])},"
        f" p95 {_ms(deciding['p95'])}, p99 {_ms(deciding['p99'])}"
    )
    if run["refused_as_expected"]:
        reasons = ", ".join(f"{reason} {n}" for reason, n in run["refused_as_expected"].items())
        total = sum(run["refused_as_expected"].values())
        console.print(f"[green]{_moves(total)} refused as their stories expect ({reasons})[/]")
    if run["rejected_moves"]:
        moves = run["rejected_moves"]
        count = run.get("rejected_moves_count", len(moves))
        console.print(f"[red]{_moves(count)} refused that no story expects; first: {moves[0]}[/]")
    if run["http_failures"]:
        failures = run["http_failures"]
        console.print(
            f"[yellow]{len(failures)} API calls abandoned after the retry budget; first: "
            f"{failures[0]}[/]"
        )
    if summary.get("abandoned"):
        console.print(
            f"[yellow]{len(summary['abandoned'])} claims left out of the judgement: a call of "
            "theirs was abandoned[/]"
        )
