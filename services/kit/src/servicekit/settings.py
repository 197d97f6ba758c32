"""Settings every service shares. Each service subclasses with its own ``env_prefix``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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


_BOUNDS = TimeBounds()


class ClockSettings(BaseSettings):
    """Which clock the rules follow, and how far a stated time is believed
    (:mod:`servicekit.eventtime`)."""

    clock: ClockMode = Field(
        default="wall",
        description="wall: the rules run on real time. event: on the time messages state (a "
        "watermark), so a replay or a simulation runs as fast as its input.",
    )
    max_clock_skew_seconds: float = Field(
        default=_BOUNDS.max_skew.total_seconds(),
        gt=0,
        description="A stated time may be at most this far after the wall clock (and, at "
        "intake on the wall clock, this far before it).",
    )
    event_clock_max_step_hours: float = Field(
        default=_BOUNDS.max_step.total_seconds() / 3600,
        gt=0,
        description="On event time, a message may be at most this far ahead of the newest "
        "event time accepted; one further ahead is refused and the clock does not move.",
    )

    def time_bounds(self) -> TimeBounds:
        return TimeBounds(
            max_skew=timedelta(seconds=self.max_clock_skew_seconds),
            max_step=timedelta(hours=self.event_clock_max_step_hours),
        )

    def timekeeper(self, wall: Callable[[], datetime]) -> Timekeeper:
        """This service's clock mode and bounds, on ``wall``."""
        return Timekeeper(self.clock, self.time_bounds(), wall)
