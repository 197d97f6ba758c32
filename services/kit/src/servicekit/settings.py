"""Settings every service shares. Each service subclasses with its own ``env_prefix``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LogFormat = Literal["json", "console", "auto"]


class ServiceSettings(BaseSettings):
    """Connection and runtime settings common to all services (read from the environment)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    http_host: str = Field(default="127.0.0.1", description="Interface the HTTP API listens on.")
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_format: LogFormat = Field(
        default="auto", description="json in production, console on a terminal; auto picks."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    service_name: str = "service"
    shutdown_grace_seconds: float = Field(
        default=20.0, gt=0, description="How long in-flight work may take to finish on stop."
    )


class DatabaseSettings(ServiceSettings):
    """Settings of a service that owns PostgreSQL tables."""

    database_url: str = Field(
        default="postgresql://atoz:atoz@127.0.0.1:5433/postgres",
        description="asyncpg URL of the service's own database.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
