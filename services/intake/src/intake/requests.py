"""What callers send to intake's HTTP API, and the pure functions that turn it into commands.

Request bodies reuse the contract types (money, evidence, seller responses, decisions), so the
API refuses exactly what the contract refuses, with the same field-level messages. Ids are
derived, not stored: with an ``Idempotency-Key`` the claim id and the command's message id are
the same on every retry, so a retry republishes an identical message that adjudication's inbox
ignores, and intake keeps no state of its own.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.base import Identifier, LanguageTag, PositiveMoney, ShortText
from contracts.claims import (
    AppealClaim,
    AppealRuling,
    ClaimCommand,
    ClaimReason,
    DecideClaim,
    Evidence,
    FileClaim,
    FiledBy,
    RespondToClaim,
    ReviewDecision,
    SellerContact,
    SellerResponse,
    WithdrawClaim,
)
from contracts.envelope import Envelope, schema_uri
from intake.auth import Principal

# Fixed namespace so derived ids are stable across processes and releases.
ID_NAMESPACE: Final = uuid.UUID("6f1c1b8e-3f7a-4a51-9a35-1d2b8c0e7a11")
SOURCE: Final = "/atoz/intake"

IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
]


class RequestBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileClaimRequest(RequestBody):
    """A buyer (or an agent for a buyer) files a claim on an order."""

    order_id: Identifier
    reason: ClaimReason
    amount: PositiveMoney
    description: ShortText
    contact: SellerContact | None = Field(
        default=None, description="When and how the buyer contacted the seller first."
    )
    buyer_id: Identifier | None = Field(
        default=None, description="Required from agents; a buyer files for themselves."
    )
    language: LanguageTag | None = None


class WithdrawRequest(RequestBody):
    order_id: Identifier
    note: ShortText | None = None


class RespondRequest(RequestBody):
    order_id: Identifier
    response: SellerResponse


class DecideRequest(RequestBody):
    order_id: Identifier
    decision: Annotated[ReviewDecision | AppealRuling, Field(discriminator="kind")]


class AppealRequest(RequestBody):
    order_id: Identifier
    statement: ShortText
    evidence: Annotated[tuple[Evidence, ...], Field(max_length=50)] = ()


class RequestFieldError(ValueError):
    """A request that is well-formed but wrong for this caller, pinned to one field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _derived(*parts: str) -> uuid.UUID:
    return uuid.uuid5(ID_NAMESPACE, "\x1f".join(parts))


def new_claim_id(principal: Principal, idempotency_key: str | None) -> str:
    """A new claim's id: random, or derived from the caller and their idempotency key."""
    if idempotency_key is None:
        return "clm-" + secrets.token_hex(12)
    return "clm-" + _derived("claim", principal.role, principal.subject, idempotency_key).hex[:24]


def command_id(
    principal: Principal, action: str, claim_id: str, idempotency_key: str | None
) -> str:
    """The message id of a command: random, or the same on every retry with the same key."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(_derived("command", principal.role, principal.subject, action, claim_id,
                        idempotency_key))  # fmt: skip


def file_claim(request: FileClaimRequest, principal: Principal, claim_id: str) -> FileClaim:
    """The ``claim.file`` command for a filing; a buyer files for themselves, an agent for one."""
    filed_by: FiledBy
    if principal.role == "buyer":
        if request.buyer_id not in (None, principal.subject):
            raise RequestFieldError("body.buyer_id", "a buyer files only for themselves")
        buyer_id, filed_by = principal.subject, "buyer"
    else:
        if request.buyer_id is None:
            raise RequestFieldError("body.buyer_id", "required when an agent files for a buyer")
        buyer_id, filed_by = request.buyer_id, "agent"
    return FileClaim(
        claim_id=claim_id,
        order_id=request.order_id,
        actor=principal.as_actor(),
        buyer_id=buyer_id,
        reason=request.reason,
        amount=request.amount,
        description=request.description,
        filed_by=filed_by,
        contact=request.contact,
        language=request.language,
    )


def withdraw(request: WithdrawRequest, principal: Principal, claim_id: str) -> WithdrawClaim:
    """The ``claim.withdraw`` command."""
    return WithdrawClaim(claim_id=claim_id, order_id=request.order_id,
                         actor=principal.as_actor(), note=request.note)  # fmt: skip


def respond(request: RespondRequest, principal: Principal, claim_id: str) -> RespondToClaim:
    """The ``claim.respond`` command (refund, replacement, accept or dispute)."""
    return RespondToClaim(claim_id=claim_id, order_id=request.order_id,
                          actor=principal.as_actor(), response=request.response)  # fmt: skip


def decide(request: DecideRequest, principal: Principal, claim_id: str) -> DecideClaim:
    """The ``claim.decide`` command (a review decision or an appeal ruling)."""
    return DecideClaim(claim_id=claim_id, order_id=request.order_id,
                       actor=principal.as_actor(), decision=request.decision)  # fmt: skip


def appeal(
    request: AppealRequest, principal: Principal, claim_id: str, appeal_id: str
) -> AppealClaim:
    """The ``claim.appeal`` command."""
    return AppealClaim(claim_id=claim_id, order_id=request.order_id,
                       actor=principal.as_actor(), appeal_id=appeal_id,
                       statement=request.statement, evidence=request.evidence)  # fmt: skip


ClaimRequest = FileClaimRequest | WithdrawRequest | RespondRequest | DecideRequest | AppealRequest


def command_for(
    request: ClaimRequest, principal: Principal, claim_id: str | None, idempotency_key: str | None
) -> tuple[ClaimCommand, str]:
    """The command a request asks for and its message id. ``claim_id`` is None when filing."""
    if isinstance(request, FileClaimRequest):
        new_id = new_claim_id(principal, idempotency_key)
        command: ClaimCommand = file_claim(request, principal, new_id)
        return command, command_id(principal, command.type, new_id, idempotency_key)
    if claim_id is None:
        raise RequestFieldError("path.claim_id", "a claim id is required")
    match request:
        case WithdrawRequest():
            command = withdraw(request, principal, claim_id)
        case RespondRequest():
            command = respond(request, principal, claim_id)
        case DecideRequest():
            command = decide(request, principal, claim_id)
        case AppealRequest():
            message_id = command_id(principal, "claim.appeal", claim_id, idempotency_key)
            appeal_id = "apl-" + message_id.replace("-", "")[:20]
            return appeal(request, principal, claim_id, appeal_id), message_id
    return command, command_id(principal, command.type, claim_id, idempotency_key)


def envelope_for(
    command: ClaimCommand,
    *,
    message_id: str,
    now: datetime,
    correlation_id: str,
    traceparent: str | None = None,
) -> Envelope[ClaimCommand]:
    """The command in its CloudEvents envelope, its subject the claim; ``traceparent`` (W3C,
    already validated by :mod:`servicekit.tracing`) joins it to the request's trace.

    Built without re-validation: every part was validated on the way in, and the envelope's
    own rules (type and schema matching the payload) hold by construction here.
    """
    return Envelope[ClaimCommand].model_construct(
        id=message_id, source=SOURCE, type=command.type, time=now, subject=command.claim_id,
        dataschema=schema_uri(command.type, command.schema_version),
        correlationid=correlation_id, traceparent=traceparent, data=command,
    )  # fmt: skip
