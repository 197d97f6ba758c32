"""The guarantee's numbers, every one a setting, with Amazon's published defaults.

A rule someone wants to change ("seller silent 72 h") changes here; the rule itself lives in
:mod:`adjudication.eligibility` (filing) or :mod:`adjudication.decisions` (deciding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from adjudication.calendar import MarketplaceCalendar
from contracts.claims import ClaimReason

ALL_REASONS: frozenset[ClaimReason] = frozenset(
    {"not_received", "damaged", "defective", "not_as_described", "return_not_refunded"}
)


@dataclass(frozen=True, slots=True)
class Policy:
    """Every number of the guarantee. Amazon's defaults; marketplaces differ."""

    # Contact first: the seller gets this long to resolve the buyer's message.
    contact_window: int = 2
    contact_window_unit: Literal["business_days", "business_hours"] = "business_days"
    contact_first_required_for: frozenset[ClaimReason] = ALL_REASONS
    # Timing of filing, counted from the order's latest estimated delivery.
    not_received_grace: timedelta = timedelta(days=3)
    latest_filing_after_estimated_delivery: timedelta = timedelta(days=90)
    return_refund_window_business_days: int = 2
    # Amounts, in the order's currency.
    claim_cap: Decimal = Decimal(2500)
    signature_threshold: Decimal = Decimal(750)
    # The seller's answer, the reviewer queue, appeals.
    seller_response_window: timedelta = timedelta(hours=72)
    replacement_response_window: timedelta = timedelta(hours=72)
    # A replacement's estimated delivery may be at most this long after the response: a
    # promise further out would leave the claim with no deadline worth the name.
    replacement_longest_delivery: timedelta = timedelta(days=30)
    # A reviewer decides a claim under review, or rules on an appeal, within this. Past it,
    # the platform bears its own delay: a claim under review is granted platform-funded, an
    # appeal leaves the decision as it stands.
    review_window: timedelta = timedelta(days=7)
    appeal_window: timedelta = timedelta(days=30)
    # Seller evidence and the carrier's facts agree on a time when within this of each other
    # (a seller copies the carrier's page; time zones and rounding differ).
    evidence_time_tolerance: timedelta = timedelta(hours=1)
    # The platform files for the buyer when the seller never answered.
    automatic_filing: bool = True
    # A claim whose order is not known yet is held, then denied with unknown_order.
    unknown_order_hold: timedelta = timedelta(hours=24)
    default_language: str = "en"
    calendars: dict[str, MarketplaceCalendar] = field(default_factory=dict)
    languages: dict[str, str] = field(default_factory=dict)

    def language_for(self, marketplace_id: str | None) -> str:
        """The marketplace's language, for buyers who did not say theirs."""
        if marketplace_id is not None and marketplace_id in self.languages:
            return self.languages[marketplace_id]
        return self.default_language

    def calendar_for(self, marketplace_id: str | None) -> MarketplaceCalendar:
        """The marketplace's business calendar (UTC, no holidays, when none is configured)."""
        if marketplace_id is not None and marketplace_id in self.calendars:
            return self.calendars[marketplace_id]
        return MarketplaceCalendar()
