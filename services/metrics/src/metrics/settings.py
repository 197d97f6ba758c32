"""Settings of the metrics service, read from ``METRICS_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import DatabaseSettings


class MetricsSettings(DatabaseSettings):
    """Every knob of the metrics service; ``METRICS_HTTP_PORT=...`` and so on."""

    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore", frozen=True)

    service_name: str = "metrics"
    http_port: int = 8003
    database_url: str = "postgresql://atoz:atoz@127.0.0.1:5433/metrics"
