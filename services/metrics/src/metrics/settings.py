"""Settings of the metrics service, read from ``METRICS_*`` environment variables."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from metrics.odr import OdrSettings
from servicekit.auth import TokenGrant
from servicekit.settings import ClockSettings, ConsumerSettings


class MetricsSettings(ConsumerSettings, ClockSettings):
    """Every knob of the metrics service; ``METRICS_HTTP_PORT=...`` and so on."""

    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore", frozen=True)

    service_name: str = "metrics"
    http_port: int = 8003
    database_url: str = "postgresql://atoz:atoz@127.0.0.1:5433/metrics"
    consumer_group: str = "metrics"
    day_check_seconds: float = Field(default=30.0, gt=0)
    tokens: tuple[TokenGrant, ...] = ()
    # The metric (PRODUCT.md "Order Defect Rate").
    window_days: int = Field(default=60, ge=1)
    lag_days: int = Field(default=0, ge=0)
    target: Decimal = Field(default=Decimal("0.01"), gt=0, lt=1)
    deactivation_line: Decimal | None = Field(default=None, gt=0, lt=1)
    pending_claims_count: bool = True
    minimum_orders: int = Field(default=0, ge=0)

    def odr(self) -> OdrSettings:
        return OdrSettings(
            window_days=self.window_days,
            lag_days=self.lag_days,
            target=self.target,
            deactivation_line=self.deactivation_line,
            pending_claims_count=self.pending_claims_count,
            minimum_orders=self.minimum_orders,
        )
