"""Settings of the adjudication service, read from ``ADJUDICATION_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from adjudication.messages import SUPPORTED_LANGUAGES
from adjudication.policy import Policy
from contracts.policy import PolicyError
from servicekit.auth import TokenGrant
from servicekit.settings import ClockSettings, ConsumerSettings


class AdjudicationSettings(ConsumerSettings, ClockSettings):
    """Every knob of the adjudication service; ``ADJUDICATION_HTTP_PORT=...`` and so on."""

    model_config = SettingsConfigDict(env_prefix="ADJUDICATION_", extra="ignore", frozen=True)

    service_name: str = "adjudication"
    http_port: int = 8002
    database_url: str = "postgresql://atoz:atoz@127.0.0.1:5433/adjudication"
    consumer_group: str = "adjudication"
    scheduler_interval_seconds: float = Field(default=0.5, gt=0)
    event_clock_idle_seconds: float = Field(
        default=5.0,
        gt=0,
        description="On event time, a partition read to its log end (the group's committed "
        "offset there reaches it) and not read for this long (wall seconds) stops holding the "
        "clock back; one with unread records holds it however long it is quiet.",
    )
    tokens: tuple[TokenGrant, ...] = Field(
        default=(), description="Bearer tokens for the read API, as for intake: JSON list."
    )

    def policy(self) -> Policy:
        """The guarantee's rules as the policy document says; a document this service cannot
        follow (a language it has no sentences for) is refused, the field named."""
        document = self.policy_document()
        unwritten = [tag for tag in document.languages.supported if tag not in SUPPORTED_LANGUAGES]
        if unwritten:
            raise PolicyError(
                f"{self.policy_file}: languages.supported: no sentences in {', '.join(unwritten)} "
                f"(adjudication.messages has {', '.join(SUPPORTED_LANGUAGES)})"
            )
        return Policy.from_document(document)
