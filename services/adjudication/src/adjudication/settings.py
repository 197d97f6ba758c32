"""Settings of the adjudication service, read from ``ADJUDICATION_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import DatabaseSettings


class AdjudicationSettings(DatabaseSettings):
    """Every knob of the adjudication service; ``ADJUDICATION_HTTP_PORT=...`` and so on."""

    model_config = SettingsConfigDict(env_prefix="ADJUDICATION_", extra="ignore", frozen=True)

    service_name: str = "adjudication"
    http_port: int = 8002
    database_url: str = "postgresql://atoz:atoz@127.0.0.1:5433/adjudication"
