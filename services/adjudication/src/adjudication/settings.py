"""Settings of the adjudication service, read from ``ADJUDICATION_*`` environment variables."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from adjudication.calendar import MarketplaceCalendar
from adjudication.policy import ALL_REASONS, Policy
from contracts.claims import ClaimReason
from servicekit.auth import TokenGrant
from servicekit.settings import ClockSettings, ConsumerSettings

_POLICY = Policy()


class MarketplaceSettings(BaseModel):
    """One marketplace's calendar and language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "UTC"
    holidays: tuple[date, ...] = ()
    language: str | None = None


class AdjudicationSettings(ConsumerSettings, ClockSettings):
    """Every knob of the adjudication service; ``ADJUDICATION_HTTP_PORT=...`` and so on."""

    model_config = SettingsConfigDict(env_prefix="ADJUDICATION_", extra="ignore", frozen=True)

    service_name: str = "adjudication"
    http_port: int = 8002
    database_url: str = "postgresql://atoz:atoz@127.0.0.1:5433/adjudication"
    consumer_group: str = "adjudication"
    scheduler_interval_seconds: float = Field(default=0.5, gt=0)
    event_clock_idle_seconds: float = Field(
        default=5.0,
        gt=0,
        description="On event time, a partition read to its log end (the group's committed "
        "offset there reaches it) and not read for this long (wall seconds) stops holding the "
        "clock back; one with unread records holds it however long it is quiet.",
    )
    tokens: tuple[TokenGrant, ...] = Field(
        default=(), description="Bearer tokens for the read API, as for intake: JSON list."
    )
    # The guarantee's numbers (see adjudication.policy for their meaning and defaults).
    contact_window: int = Field(default=2, ge=0)
    contact_window_unit: Literal["business_days", "business_hours"] = "business_days"
    contact_first_required_for: frozenset[ClaimReason] = ALL_REASONS
    not_received_grace_days: int = Field(default=3, ge=0)
    latest_filing_days: int = Field(default=90, ge=1)
    return_refund_window_business_days: int = Field(default=2, ge=0)
    claim_cap: Decimal = Field(default=Decimal(2500), gt=0)
    signature_threshold: Decimal = Field(default=Decimal(750), gt=0)
    seller_response_hours: int = Field(default=72, ge=1)
    replacement_response_hours: int = Field(default=72, ge=1)
    replacement_longest_delivery_days: int = Field(
        default=_POLICY.replacement_longest_delivery.days, ge=1
    )
    review_window_days: int = Field(default=_POLICY.review_window.days, ge=1)
    evidence_time_tolerance_minutes: int = Field(
        default=int(_POLICY.evidence_time_tolerance.total_seconds() // 60), ge=0
    )
    appeal_window_days: int = Field(default=30, ge=1)
    automatic_filing: bool = True
    unknown_order_hold_hours: int = Field(default=24, ge=1)
    default_language: str = "en"
    marketplaces: dict[str, MarketplaceSettings] = Field(
        default_factory=dict,
        description='Per marketplace, as JSON: {"fr": {"timezone": "Europe/Paris", '
        '"holidays": ["2026-05-01"], "language": "fr"}}.',
    )

    def policy(self) -> Policy:
        """The guarantee's rules configured as these settings say."""
        return Policy(
            contact_window=self.contact_window,
            contact_window_unit=self.contact_window_unit,
            contact_first_required_for=self.contact_first_required_for,
            not_received_grace=timedelta(days=self.not_received_grace_days),
            latest_filing_after_estimated_delivery=timedelta(days=self.latest_filing_days),
            return_refund_window_business_days=self.return_refund_window_business_days,
            claim_cap=self.claim_cap,
            signature_threshold=self.signature_threshold,
            seller_response_window=timedelta(hours=self.seller_response_hours),
            replacement_response_window=timedelta(hours=self.replacement_response_hours),
            replacement_longest_delivery=timedelta(days=self.replacement_longest_delivery_days),
            review_window=timedelta(days=self.review_window_days),
            evidence_time_tolerance=timedelta(minutes=self.evidence_time_tolerance_minutes),
            appeal_window=timedelta(days=self.appeal_window_days),
            automatic_filing=self.automatic_filing,
            unknown_order_hold=timedelta(hours=self.unknown_order_hold_hours),
            default_language=self.default_language,
            calendars={
                name: MarketplaceCalendar(timezone=m.timezone, holidays=frozenset(m.holidays))
                for name, m in self.marketplaces.items()
            },
            languages={name: m.language for name, m in self.marketplaces.items() if m.language},
        )
