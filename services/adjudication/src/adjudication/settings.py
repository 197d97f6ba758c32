"""Settings of the adjudication service, read from ``ADJUDICATION_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from adjudication.auth_tokens import TokenGrant
from adjudication.policy import Policy
from servicekit.settings import DatabaseSettings


class AdjudicationSettings(DatabaseSettings):
    """Every knob of the adjudication service; ``ADJUDICATION_HTTP_PORT=...`` and so on."""

    model_config = SettingsConfigDict(env_prefix="ADJUDICATION_", extra="ignore", frozen=True)

    service_name: str = "adjudication"
    http_port: int = 8002
    database_url: str = "postgresql://atoz:atoz@127.0.0.1:5433/adjudication"
    consumer_group: str = "adjudication"
    max_batch: int = Field(default=500, ge=1)
    clock: Literal["wall", "event"] = Field(
        default="wall",
        description=(
            "wall: deadlines fire on real time. event: they fire on the newest event time seen "
            "(a watermark), so a replay or a simulation runs as fast as its input."
        ),
    )
    scheduler_interval_seconds: float = Field(default=0.5, gt=0)
    tokens: tuple[TokenGrant, ...] = Field(
        default=(), description="Bearer tokens for the read API, as for intake: JSON list."
    )
    # The guarantee's numbers (see adjudication.policy for their meaning).
    seller_response_hours: int = Field(default=72, ge=1)
    claim_cap: Decimal = Field(default=Decimal(2500), gt=0)
    signature_threshold: Decimal = Field(default=Decimal(750), gt=0)
    appeal_window_days: int = Field(default=30, ge=1)
    unknown_order_hold_hours: int = Field(default=24, ge=1)
    default_language: str = "en"

    def policy(self) -> Policy:
        return Policy(
            seller_response_window=timedelta(hours=self.seller_response_hours),
            claim_cap=self.claim_cap,
            signature_threshold=self.signature_threshold,
            appeal_window=timedelta(days=self.appeal_window_days),
            unknown_order_hold=timedelta(hours=self.unknown_order_hold_hours),
            default_language=self.default_language,
        )
