"""Settings of the metrics service, read from ``METRICS_*`` environment variables."""

from __future__ import annotations

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

    def odr(self) -> OdrSettings:
        """The metric's settings as the policy document says."""
        return OdrSettings.from_document(self.policy_document())
