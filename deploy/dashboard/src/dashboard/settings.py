"""Settings of the dashboard, read from ``DASHBOARD_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class DashboardSettings(ServiceSettings):
    """Where the dashboard listens and where the services it reads are;
    ``DASHBOARD_HTTP_PORT=...``, ``DASHBOARD_METRICS_URL=...`` and so on."""

    model_config = SettingsConfigDict(env_prefix="DASHBOARD_", extra="ignore", frozen=True)

    service_name: str = "dashboard"
    http_port: int = Field(default=8000, ge=1, le=65535)
    adjudication_url: str = Field(
        default="http://127.0.0.1:8002", description="Base URL of adjudication."
    )
    metrics_url: str = Field(default="http://127.0.0.1:8003", description="Base URL of metrics.")
    upstream_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a service may take to answer a proxied read."
    )

    def upstreams(self) -> dict[str, str]:
        """Service name -> base URL, without a trailing slash."""
        return {
            "adjudication": self.adjudication_url.rstrip("/"),
            "metrics": self.metrics_url.rstrip("/"),
        }
