"""The marketplace's policy as one document: every number and list the guarantee and the ODR
follow, in one TOML file that each service loads (``policies/default.toml`` holds Amazon's
published numbers; a marketplace names its own in its settings).

:class:`PolicyDocument` validates it (its JSON Schema is published beside the events', as
``policy.v1.json``); :func:`load_policy` reads a file and refuses a bad one with every failing
field named; :attr:`PolicyDocument.version` is its name and the hash of its content, which the
decisions taken under it record. No number has a default here: the document says each one,
so it is written once.

Reasons are the contract's (:data:`contracts.orders.ClaimReason`): the document must say for
each whether the buyer has to contact the seller first, so a reason added to the contract
cannot be filed under a policy that never decided it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.base import AmountText, Ratio
from contracts.orders import ClaimReason

DEFAULT_POLICY_FILE: Final = Path(__file__).parent / "policies" / "default.toml"
"""Amazon's published numbers (also reachable as ``policies/default.toml`` at the repository's
root)."""

CLAIM_REASONS: Final[tuple[ClaimReason, ...]] = get_args(ClaimReason)

PolicyName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
BaseLanguage = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
"""A language without its region (``fr``): what sentences are written in."""


class _Terms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GuaranteeTerms(_Terms):
    """Filing, deciding and appealing claims (PRODUCT.md "The guarantee")."""

    contact_window: int = Field(ge=0, description="How long the seller has to resolve a contact.")
    contact_window_unit: Literal["business_days", "business_hours"]
    not_received_grace_days: int = Field(
        ge=0, description="After the latest estimated delivery, before not_received can be filed."
    )
    latest_filing_days: int = Field(ge=1, description="After the latest estimated delivery.")
    return_refund_window_business_days: int = Field(ge=0)
    claim_cap: AmountText = Field(gt=0, description="In the order's currency.")
    signature_threshold: AmountText = Field(
        gt=0, description="From this amount, delivery proof needs a signature."
    )
    seller_response_hours: int = Field(ge=1, description="The seller's time to answer a claim.")
    replacement_response_hours: int = Field(ge=1)
    replacement_longest_delivery_days: int = Field(
        ge=1, description="A replacement's promised delivery, at most this after the response."
    )
    review_window_days: int = Field(ge=1, description="A reviewer decides within this.")
    appeal_window_days: int = Field(ge=1, description="After the decision, to appeal it.")
    evidence_time_tolerance_minutes: int = Field(ge=0)
    automatic_filing: bool = Field(
        description="The platform files for the buyer when the seller never answered."
    )
    unknown_order_hold_hours: int = Field(ge=1)

    @model_validator(mode="after")
    def _threshold_within_cap(self) -> GuaranteeTerms:
        if self.signature_threshold > self.claim_cap:
            raise ValueError("signature_threshold is above claim_cap: no claim could need it")
        return self


class ReasonTerms(_Terms):
    """What one claim reason requires."""

    contact_first: bool = Field(description="The buyer must have written to the seller first.")


class OdrTerms(_Terms):
    """The Order Defect Rate (PRODUCT.md "Order Defect Rate")."""

    window_days: int = Field(ge=1)
    lag_days: int = Field(ge=0)
    target: Ratio = Field(gt=0, lt=1)
    deactivation_line: Ratio | None = Field(
        default=None, gt=0, lt=1, description="A second line past the target; absent: none."
    )
    pending_claims_count: bool
    minimum_orders: int = Field(ge=0)

    @model_validator(mode="after")
    def _line_above_target(self) -> OdrTerms:
        if self.deactivation_line is not None and self.deactivation_line <= self.target:
            raise ValueError("deactivation_line must be above target")
        return self


class MarketplaceTerms(_Terms):
    """One marketplace's calendar and language."""

    timezone: str = Field(description="An IANA time zone, such as Europe/Paris.")
    holidays: tuple[date, ...] = ()
    weekend: tuple[Annotated[int, Field(ge=0, le=6)], ...] = Field(
        description="Weekdays that are not business days (Monday 0, Sunday 6)."
    )
    language: BaseLanguage | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value


class LanguageTerms(_Terms):
    """The languages buyers are written to in; a service refuses one it has no sentences for."""

    default: BaseLanguage
    supported: tuple[BaseLanguage, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_supported(self) -> LanguageTerms:
        if self.default not in self.supported:
            raise ValueError(f"default {self.default!r} is not among supported")
        return self


class TimeTerms(_Terms):
    """How far a time a caller states is believed (PRODUCT.md "What is trusted"): the bounds
    every service holds stated times to (``servicekit.eventtime``)."""

    max_clock_skew_seconds: float = Field(
        gt=0,
        description="A stated time may be at most this far after the service's clock (at "
        "intake on the wall clock, this far either way).",
    )
    event_clock_max_step_hours: float = Field(
        gt=0,
        description="On event time, a message more than this ahead of the newest one accepted "
        "is refused and the clock does not move.",
    )


class PolicyVersion(_Terms):
    """Which policy a decision was taken under: its name and the hash of its content."""

    name: PolicyName
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]


class PolicyDocument(_Terms):
    """Every number and list of one marketplace's policy."""

    schema_version: Literal[1]
    name: PolicyName
    description: str = ""
    guarantee: GuaranteeTerms
    reasons: dict[ClaimReason, ReasonTerms]
    odr: OdrTerms
    languages: LanguageTerms
    time: TimeTerms
    calendar: MarketplaceTerms = Field(description="The calendar of a marketplace not listed.")
    marketplaces: dict[Annotated[str, Field(min_length=1, max_length=32)], MarketplaceTerms] = {}

    @field_validator("reasons")
    @classmethod
    def _every_reason_decided(cls, value: dict[ClaimReason, ReasonTerms]) -> Any:
        missing = [reason for reason in CLAIM_REASONS if reason not in value]
        if missing:
            raise ValueError(f"every claim reason must be listed; missing: {', '.join(missing)}")
        return value

    @model_validator(mode="after")
    def _languages_supported(self) -> PolicyDocument:
        for name, marketplace in self.marketplaces.items():
            if (
                marketplace.language is not None
                and marketplace.language not in self.languages.supported
            ):
                raise ValueError(
                    f"marketplaces.{name}.language {marketplace.language!r} is not among "
                    "languages.supported"
                )
        return self

    @property
    def version(self) -> PolicyVersion:
        """Its name and the first 12 hex digits of the SHA-256 of its content (key order and
        layout aside: the same numbers give the same digest)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
        return PolicyVersion(name=self.name, digest=digest)

    def contact_first_reasons(self) -> frozenset[ClaimReason]:
        """The reasons a buyer must have contacted the seller for before filing."""
        return frozenset(reason for reason, terms in self.reasons.items() if terms.contact_first)


class PolicyError(ValueError):
    """A policy file that cannot be read or breaks the model; the message names each field."""


def parse_policy(text: str, *, source: str = "policy") -> PolicyDocument:
    """Validate a policy document's TOML (or JSON, when it starts with ``{``) text."""
    try:
        raw = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise PolicyError(f"{source}: not a TOML document: {error}") from None
    try:
        return PolicyDocument.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(document)'}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        raise PolicyError(f"{source}: {problems}") from None


def load_policy(path: Path | str = DEFAULT_POLICY_FILE) -> PolicyDocument:
    """Read and validate the policy document at ``path``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"{file}: cannot be read: {error.strerror}") from None
    return parse_policy(text, source=str(file))
