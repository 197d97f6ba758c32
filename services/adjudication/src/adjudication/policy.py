"""The guarantee's numbers as the rules read them, built from the marketplace's policy
document (:mod:`contracts.policy`; Amazon's numbers in ``policies/default.toml``).

A number someone wants to change ("seller silent 72 h") changes in the document, and only
there; the rule itself lives in :mod:`adjudication.eligibility` (filing) or
:mod:`adjudication.decisions` (deciding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Literal

from adjudication.calendar import MarketplaceCalendar
from contracts.claims import ClaimReason
from contracts.policy import MarketplaceTerms, PolicyDocument, PolicyVersion, load_policy


@dataclass(frozen=True, slots=True)
class Policy:
    """Every number of the guarantee, as durations and sets (see :meth:`from_document`)."""

    # Contact first: the seller gets this long to resolve the buyer's message.
    contact_window: int
    contact_window_unit: Literal["business_days", "business_hours"]
    contact_first_required_for: frozenset[ClaimReason]
    # Timing of filing, counted from the order's latest estimated delivery.
    not_received_grace: timedelta
    latest_filing_after_estimated_delivery: timedelta
    return_refund_window_business_days: int
    # Amounts, in the order's currency.
    claim_cap: Decimal
    signature_threshold: Decimal
    # The seller's answer, the reviewer queue, appeals.
    seller_response_window: timedelta
    replacement_response_window: timedelta
    # A replacement's estimated delivery may be at most this long after the response: a
    # promise further out would leave the claim with no deadline worth the name.
    replacement_longest_delivery: timedelta
    # A reviewer decides a claim under review, or rules on an appeal, within this. Past it,
    # the platform bears its own delay: a claim under review is granted platform-funded, an
    # appeal leaves the decision as it stands.
    review_window: timedelta
    appeal_window: timedelta
    # Seller evidence and the carrier's facts agree on a time when within this of each other
    # (a seller copies the carrier's page; time zones and rounding differ).
    evidence_time_tolerance: timedelta
    # The platform files for the buyer when the seller never answered.
    automatic_filing: bool
    # A claim whose order is not known yet is held, then denied with unknown_order.
    unknown_order_hold: timedelta
    default_language: str
    default_calendar: MarketplaceCalendar = field(default_factory=MarketplaceCalendar)
    calendars: dict[str, MarketplaceCalendar] = field(default_factory=dict)
    languages: dict[str, str] = field(default_factory=dict)
    version: PolicyVersion | None = None
    """The document's name and digest, which decisions record (None: built by hand)."""

    @classmethod
    def from_document(cls, document: PolicyDocument) -> Policy:
        """The rules' view of a policy document: its numbers as durations, its lists as sets."""
        terms = document.guarantee
        return cls(
            contact_window=terms.contact_window,
            contact_window_unit=terms.contact_window_unit,
            contact_first_required_for=document.contact_first_reasons(),
            not_received_grace=timedelta(days=terms.not_received_grace_days),
            latest_filing_after_estimated_delivery=timedelta(days=terms.latest_filing_days),
            return_refund_window_business_days=terms.return_refund_window_business_days,
            claim_cap=terms.claim_cap,
            signature_threshold=terms.signature_threshold,
            seller_response_window=timedelta(hours=terms.seller_response_hours),
            replacement_response_window=timedelta(hours=terms.replacement_response_hours),
            replacement_longest_delivery=timedelta(days=terms.replacement_longest_delivery_days),
            review_window=timedelta(days=terms.review_window_days),
            appeal_window=timedelta(days=terms.appeal_window_days),
            evidence_time_tolerance=timedelta(minutes=terms.evidence_time_tolerance_minutes),
            automatic_filing=terms.automatic_filing,
            unknown_order_hold=timedelta(hours=terms.unknown_order_hold_hours),
            default_language=document.languages.default,
            default_calendar=_calendar(document.calendar),
            calendars={name: _calendar(m) for name, m in document.marketplaces.items()},
            languages={name: m.language for name, m in document.marketplaces.items() if m.language},
            version=document.version,
        )

    def language_for(self, marketplace_id: str | None) -> str:
        """The marketplace's language, for buyers who did not say theirs."""
        if marketplace_id is not None and marketplace_id in self.languages:
            return self.languages[marketplace_id]
        return self.default_language

    def calendar_for(self, marketplace_id: str | None) -> MarketplaceCalendar:
        """The marketplace's business calendar (the document's default calendar when the
        marketplace has none of its own)."""
        if marketplace_id is not None and marketplace_id in self.calendars:
            return self.calendars[marketplace_id]
        return self.default_calendar


def _calendar(terms: MarketplaceTerms) -> MarketplaceCalendar:
    return MarketplaceCalendar(
        timezone=terms.timezone,
        holidays=frozenset(terms.holidays),
        weekend=frozenset(terms.weekend),
    )


@cache
def default_policy() -> Policy:
    """The shipped document's policy (``policies/default.toml``), read once."""
    return Policy.from_document(load_policy())
