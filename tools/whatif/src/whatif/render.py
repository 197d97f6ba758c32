"""The report for people: rich tables in a terminal, and one self-contained HTML page (inline
styles and SVG charts, nothing fetched) that opens offline."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Final

from rich.console import Console
from rich.table import Table

from whatif.compare import Outcome, Report

SHOWN: Final = 20
"""Changed claims and sellers listed one by one (the JSON holds all of them)."""


def _pct(rate: Decimal) -> str:
    return f"{rate * 100:.2f}%"


def _side(outcome: Outcome | None) -> str:
    if outcome is None:
        return "(no claim)"
    odr = " / ODR" if outcome.counts_toward_odr else ""
    return f"{outcome.resolution or outcome.status} / {outcome.funded_by}{odr}"


def _skipped(report: Report) -> str:
    said = [f"{count} that {service} refused" for service, count in report.skipped.items() if count]
    return f" Left out, as the live services did: {', '.join(said)}." if said else ""


def to_terminal(report: Report, console: Console) -> None:
    """The report as tables."""
    console.print(
        f"[bold]What if[/bold] {report.candidate.name} ({report.candidate.digest}) instead of "
        f"{report.baseline.name} ({report.baseline.digest}): {report.facts} order facts and "
        f"{report.commands} claim commands from {report.first_input} to {report.last_input}"
        f"{_skipped(report)}"
    )
    console.print(
        f"claims: {report.claims_baseline} under the baseline, {report.claims_candidate} under "
        f"the candidate; [bold]{len(report.changed)}[/bold] end differently"
    )
    groups = Table(title="Claims whose outcome changes, by reason and deciding rule")
    for column in ("reason", "baseline rule", "candidate rule", "claims", "examples"):
        groups.add_column(column)
    for group in report.groups:
        groups.add_row(group.reason, group.baseline_rule or "-", group.candidate_rule or "-",
                       str(group.claims), ", ".join(group.examples))  # fmt: skip
    console.print(groups)
    claims = Table(title=f"Changed claims (first {SHOWN})")
    for column in ("claim", "seller", "reason", "amount", "baseline", "candidate"):
        claims.add_column(column)
    for change in report.changed[:SHOWN]:
        claims.add_row(change.claim_id, change.seller_id or "-", change.reason,
                       f"{change.amount} {change.currency}", _side(change.baseline),
                       _side(change.candidate))  # fmt: skip
    console.print(claims)
    money = Table(title="Money granted, by currency and funder")
    for column in ("currency", "funder", "baseline", "candidate", "difference"):
        money.add_column(column, justify="right")
    for row in report.money:
        money.add_row(row.currency, row.funder, str(row.baseline), str(row.candidate),
                      f"{row.difference:+}")  # fmt: skip
    console.print(money)
    sellers = Table(title=f"Sellers whose status changes ({len(report.sellers)} of "
                    f"{report.sellers_measured} measured, as of {report.as_of})")  # fmt: skip
    for column in ("seller", "baseline", "candidate"):
        sellers.add_column(column)
    for seller in report.sellers[:SHOWN]:
        sellers.add_row(seller.seller_id,
                        f"{seller.baseline_status} ({_pct(seller.baseline_rate)})",
                        f"{seller.candidate_status} ({_pct(seller.candidate_rate)})")  # fmt: skip
    console.print(sellers)
    spread = Table(title="Sellers by ODR")
    for column in ("ODR", "baseline", "candidate"):
        spread.add_column(column, justify="right")
    for bucket in report.odr_distribution:
        spread.add_row(bucket.label, str(bucket.baseline), str(bucket.candidate))
    console.print(spread)


def _bars(title: str, rows: list[tuple[str, float, float]], unit: str = "") -> str:
    """A grouped bar chart (baseline, candidate) as inline SVG."""
    top = max([max(a, b) for _, a, b in rows] + [1.0])
    width, bar, gap, label_w = 640, 14, 10, 170
    height = len(rows) * (2 * bar + gap) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}">']  # fmt: skip
    for index, (label, a, b) in enumerate(rows):
        y = 20 + index * (2 * bar + gap)
        parts.append(f'<text x="0" y="{y + bar + 3}" font-size="12">{html.escape(label)}</text>')
        for offset, (value, colour) in enumerate(((a, "#8a8f98"), (b, "#2563eb"))):
            length = (width - label_w - 90) * value / top
            yy = y + offset * bar
            parts.append(f'<rect x="{label_w}" y="{yy}" width="{length:.1f}" height="{bar - 2}" '
                         f'fill="{colour}"/>')  # fmt: skip
            parts.append(f'<text x="{label_w + length + 4:.1f}" y="{yy + bar - 4}" '
                         f'font-size="11">{value:g}{unit}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: tuple[str, ...], rows: str) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in headers)
    return f"<table><tr>{head}</tr>{rows}</table>"


def to_html(report: Report) -> str:
    """The whole report as one HTML page that needs nothing else."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c.claim_id)}</td><td>{e(c.seller_id or '-')}</td><td>{e(c.reason)}</td>"
        f"<td>{c.amount} {e(c.currency)}</td><td>{e(_side(c.baseline))}</td>"
        f"<td>{e(_side(c.candidate))}</td></tr>"
        for c in report.changed[:200]
    )
    groups = "".join(
        f"<tr><td>{e(g.reason)}</td><td>{e(g.baseline_rule or '-')}</td>"
        f"<td>{e(g.candidate_rule or '-')}</td><td>{g.claims}</td>"
        f"<td>{e(', '.join(g.examples))}</td></tr>"
        for g in report.groups
    )
    money = "".join(
        f"<tr><td>{e(m.currency)}</td><td>{e(m.funder)}</td><td>{m.baseline}</td>"
        f"<td>{m.candidate}</td><td>{m.difference:+}</td></tr>"
        for m in report.money
    )
    sellers = "".join(
        f"<tr><td>{e(s.seller_id)}</td><td>{e(s.baseline_status)} ({_pct(s.baseline_rate)})</td>"
        f"<td>{e(s.candidate_status)} ({_pct(s.candidate_rate)})</td></tr>"
        for s in report.sellers
    )
    spread = _bars("Sellers by ODR", [(b.label, b.baseline, b.candidate)
                                       for b in report.odr_distribution])  # fmt: skip
    moved = _bars("Money granted", [(f"{m.currency} {m.funder}", float(m.baseline),
                                     float(m.candidate)) for m in report.money])  # fmt: skip
    title = f"What if {report.candidate.name} instead of {report.baseline.name}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.3em .6em}}
th{{background:#f3f4f6}}.key span{{display:inline-block;width:1em;height:1em;margin:0 .3em}}</style>
</head><body>
<h1>{e(title)}</h1>
<p>Baseline <code>{e(report.baseline.name)} {e(report.baseline.digest)}</code>, candidate
<code>{e(report.candidate.name)} {e(report.candidate.digest)}</code>: {report.facts} order facts and
{report.commands} claim commands, {e(str(report.first_input))} to {e(str(report.last_input))};
ODR as of {e(str(report.as_of))}.{e(_skipped(report))}</p>
<p class="key"><span style="background:#8a8f98"></span>baseline
<span style="background:#2563eb"></span>candidate</p>
<p><strong>{len(report.changed)}</strong> of {report.claims_baseline} claims end differently
({report.claims_candidate} claims under the candidate).</p>
<h2>Money granted</h2>{moved}
{_table(("currency", "funder", "baseline", "candidate", "difference"), money)}
<h2>Sellers by ODR</h2>{spread}
<h2>Sellers whose status changes ({len(report.sellers)} of {report.sellers_measured})</h2>
{_table(("seller", "baseline", "candidate"), sellers)}
<h2>Claims whose outcome changes, by reason and deciding rule</h2>
{_table(("reason", "baseline rule", "candidate rule", "claims", "examples"), groups)}
<h2>Changed claims (first 200)</h2>
{_table(("claim", "seller", "reason", "amount", "baseline", "candidate"), rows)}
</body></html>
"""
