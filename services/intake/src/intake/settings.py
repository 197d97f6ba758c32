"""Settings of the intake service, read from ``INTAKE_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from intake.auth import TokenGrant
from servicekit.settings import ClockSettings, ServiceSettings


class IntakeSettings(ServiceSettings, ClockSettings):
    """Every knob of the intake service; ``INTAKE_HTTP_PORT=...`` and so on.

    ``clock`` says how far a service token's ``X-Event-Time`` is believed: on ``wall`` it must
    be now, within the policy document's ``time.max_clock_skew_seconds``; on ``event`` (the
    platform replays or simulates) any past moment, never the future.
    """

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", frozen=True)

    service_name: str = "intake"
    http_port: int = 8001
    tokens: tuple[TokenGrant, ...] = Field(
        default=(),
        description=(
            "Bearer tokens as a JSON list of {sha256, role, subject}: the SHA-256 hex digest of "
            "each token, never the token itself. `python -m intake.auth hash TOKEN` prints one."
        ),
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Larger bodies get 413.")
    publish_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait for Kafka's acknowledgement before a 503."
    )
    retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After sent with a 503.")
    claims_base_url: str = Field(
        default="http://127.0.0.1:8002",
        description="Where claim state is read (adjudication's API); 202 answers link there.",
    )
