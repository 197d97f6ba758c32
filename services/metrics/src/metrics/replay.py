"""The metric over a replayed history, in memory: :mod:`metrics.odr`'s folds and snapshot with
no PostgreSQL, for ``atoz-whatif`` (which feeds it the facts, and the claims as an in-memory
adjudication left them, :mod:`adjudication.replay`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from contracts.claims import ClaimState
from contracts.orders import OrderFact
from contracts.sellers import SellerOdrChanged
from metrics import odr
from metrics.odr import DayCounts, OdrSettings, OrderDefects


@dataclass
class OdrReplay:
    """Every order's defects, folded from facts and claims as the service folds them."""

    settings: OdrSettings
    orders: dict[str, OrderDefects] = field(default_factory=dict)

    def fact(self, fact: OrderFact) -> None:
        """Fold one order fact (those that cannot change defects are skipped, as live)."""
        if odr.can_change(fact):
            self.orders[fact.order_id] = odr.apply(self.orders.get(fact.order_id), fact)

    def claims(self, claims: Iterable[ClaimState]) -> None:
        """Fold each claim as it stands (its latest version is all the metric reads)."""
        for claim in claims:
            state = self.orders.get(claim.order_id) or OrderDefects(
                order_id=claim.order_id, seller_id=claim.seller_id or ""
            )
            self.orders[claim.order_id] = odr.with_claim(state, claim)

    def health(self, as_of: date) -> dict[str, SellerOdrChanged]:
        """Each seller's health snapshot as of ``as_of``, sellers with an order in the window
        only (as the service publishes them)."""
        days: dict[str, dict[str, dict[date, DayCounts]]] = {}
        first, last = odr.window(as_of, self.settings)
        for state in self.orders.values():
            if state.order_date is None or state.channel is None:
                continue
            if not first <= state.order_date <= last:
                continue
            by_day = days.setdefault(state.seller_id, {}).setdefault(state.channel, {})
            counted = odr.contribution(state, self.settings)
            by_day[state.order_date] = by_day.get(state.order_date, DayCounts()) + counted
        return {
            seller: odr.snapshot(seller, channels, as_of, self.settings)
            for seller, channels in sorted(days.items())
        }
