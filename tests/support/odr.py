"""Each seller's rate on the metrics API, compared with a from-scratch recomputation from the
order facts and claim events on the topics (marketsim.odr_check, written apart from metrics)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from contracts.claims import ClaimEvent
from contracts.orders import OrderFact
from marketsim.odr_check import recompute

RATE_TOLERANCE = Decimal("1e-6")
"""The API keeps the rate to a fixed scale; the counts are compared exactly."""


async def odr_mismatches(
    events: Sequence[OrderFact | ClaimEvent],
    metrics_url: str,
    token: str,
    seller_ids: Iterable[str],
) -> tuple[int, list[str]]:
    """How many sellers were compared, and a sentence for each whose health on the API differs
    from the recomputation over the same window."""
    compared, wrong = 0, []
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        for seller in seller_ids:
            answer = await http.get(f"{metrics_url}/v1/sellers/{seller}/health")
            if answer.status_code != 200:
                wrong.append(f"{seller}: the API answered {answer.status_code} {answer.text}")
                continue
            health: dict[str, Any] = answer.json()
            window = health["window"]
            mine = recompute(
                events,
                date.fromisoformat(window["first_order_date"]),
                date.fromisoformat(window["last_order_date"]),
            )[seller]
            combined = health["combined"]
            theirs = (combined["orders"], combined["defective_orders"])
            if theirs != (mine.orders, mine.defective):
                wrong.append(f"{seller}: API {theirs}, recomputed {(mine.orders, mine.defective)}")
            elif abs(Decimal(health["rate"]) - mine.rate) >= RATE_TOLERANCE:
                wrong.append(f"{seller}: API rate {health['rate']}, recomputed {mine.rate}")
            compared += 1
    return compared, wrong
