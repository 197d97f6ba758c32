"""Settings every service shares. Each service subclasses with its own ``env_prefix``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.policy import DEFAULT_POLICY_FILE, PolicyDocument, load_policy
from servicekit.eventtime import ClockMode, TimeBounds, Timekeeper
from servicekit.kafka import KafkaAccess, SecurityProtocol

LogFormat = Literal["json", "console", "auto"]


class ServiceSettings(BaseSettings):
    """Connection and runtime settings common to all services (read from the environment)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    kafka_username: str | None = Field(
        default=None, description="The service's Kafka principal (SASL/SCRAM-SHA-512)."
    )
    kafka_password: SecretStr | None = Field(default=None, description="Its password.")
    kafka_security_protocol: SecurityProtocol | None = Field(
        default=None,
        description="SASL_SSL in production; empty: SASL_PLAINTEXT with a username, else "
        "PLAINTEXT.",
    )
    kafka_ca_file: str | None = Field(
        default=None, description="CA bundle for SASL_SSL (the system's CAs when empty)."
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
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL of an OpenTelemetry collector, e.g. "
        "http://collector:4318/v1/traces; empty: no spans are recorded (traceparents still "
        "pass through).",
    )

    def kafka(self) -> KafkaAccess:
        """How this service reaches Kafka, and as whom."""
        password = self.kafka_password.get_secret_value() if self.kafka_password else None
        return KafkaAccess(
            bootstrap_servers=self.kafka_bootstrap_servers,
            username=self.kafka_username,
            password=password,
            security_protocol=self.kafka_security_protocol,
            ca_file=self.kafka_ca_file,
        )


class DatabaseSettings(ServiceSettings):
    """Settings of a service that owns PostgreSQL tables."""

    database_url: str = Field(
        default="postgresql://atoz:atoz@127.0.0.1:5433/postgres",
        description="asyncpg URL of the service's own database.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    outbox_stall_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Not ready while the oldest outbox row is older than this: events are not "
        "getting out.",
    )
    wedged_after_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Not live when a background loop has made no pass (working or failing) "
        "for this long: only a restart helps.",
    )


class ConsumerSettings(DatabaseSettings):
    """Settings of a service that consumes Kafka exactly once (adjudication, metrics)."""

    consumer_group: str = Field(
        default="consumer",
        description="The Kafka consumer group, also the inbox's name: keep it across releases.",
    )
    max_batch: int = Field(
        default=5000,
        ge=1,
        description="Records per poll batch (one transaction), at most. A poll takes what has "
        "arrived, so batches are this large only under load, where they pay: the sellers' health "
        "(metrics) and the facts' rows (adjudication) are written once a batch, not once a "
        "message (bench/order_facts.py: 500 -> 5000 absorbed about 1.5x and 2.5x as fast).",
    )
    inbox_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="Inbox rows older than this are pruned (0: never). Keep it longer than any "
        "redelivery can come late: a rebalance or crash redelivers within minutes; resetting "
        "the group to older offsets needs a retention at least that old.",
    )
    inbox_prune_seconds: float = Field(
        default=3600.0, gt=0, description="How often the inbox is pruned."
    )


class ClockSettings(BaseSettings):
    """Which clock the rules follow, and the policy document that says, among every other
    number, how far a stated time is believed (:mod:`servicekit.eventtime`)."""

    clock: ClockMode = Field(
        default="wall",
        description="wall: the rules run on real time. event: on the time messages state (a "
        "watermark), so a replay or a simulation runs as fast as its input.",
    )
    policy_file: Path = Field(
        default=DEFAULT_POLICY_FILE,
        description="The marketplace's policy document (TOML): every number and list of the "
        "guarantee, the ODR and the time bounds. Amazon's numbers by default "
        "(policies/default.toml).",
    )

    def policy_document(self) -> PolicyDocument:
        """The document ``policy_file`` names, validated (:class:`PolicyError` names the
        field a bad one breaks)."""
        return load_policy(self.policy_file)

    def time_bounds(self) -> TimeBounds:
        """How far this service believes a stated time: the document's ``[time]`` table."""
        return TimeBounds.from_document(self.policy_document())

    def timekeeper(self, wall: Callable[[], datetime]) -> Timekeeper:
        """This service's clock mode and bounds, on ``wall``."""
        return Timekeeper(self.clock, self.time_bounds(), wall)
