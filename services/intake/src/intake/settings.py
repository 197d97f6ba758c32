"""Settings of the intake service, read from ``INTAKE_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Every knob of the intake service; ``INTAKE_HTTP_PORT=...`` and so on."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", frozen=True)

    service_name: str = "intake"
    http_port: int = 8001
