"""Intake's HTTP API: authenticate, validate, publish the command, answer 202.

Handlers gather inputs (principal, body, idempotency key), call the pure builders in
:mod:`intake.requests`, and publish. Every failure is a 4xx with field errors, or 503 with
``Retry-After`` when Kafka does not acknowledge; never a 500 for the caller's input.
"""
# No "from __future__ import annotations" here: FastAPI reads the annotations of the nested
# dependency functions at runtime, and those name closures that only exist in build_api.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.base import Identifier
from contracts.claims import ClaimCommand
from intake import requests as build
from intake.auth import Principal, TokenRegistry
from intake.observability import IntakeMetrics
from intake.publisher import BrokerUnavailableError, CommandPublisher
from intake.requests import IdempotencyKey, RequestFieldError

log = structlog.get_logger("intake")


class Accepted(BaseModel):
    """The command was acknowledged by Kafka; adjudication will decide what it does."""

    status: Literal["accepted"] = "accepted"
    claim_id: str
    command_id: str
    links: dict[str, str]


class FieldErrorOut(BaseModel):
    field: str
    message: str
    type: str


class ValidationProblem(BaseModel):
    error: Literal["validation_failed"] = "validation_failed"
    fields: list[FieldErrorOut]


class Problem(BaseModel):
    error: str
    message: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token."},
    403: {"model": Problem, "description": "The token's role may not take this action."},
    413: {"model": Problem, "description": "Body over the configured limit."},
    422: {"model": ValidationProblem, "description": "Field-level validation errors."},
    503: {"model": Problem, "description": "Kafka did not acknowledge; retry after the header."},
}


def _problem(status: int, error: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        Problem(error=error, message=message).model_dump(), status_code=status, headers=headers
    )


def _field_errors(errors: Any) -> list[FieldErrorOut]:
    return [
        FieldErrorOut(
            field=".".join(str(part) for part in item.get("loc", ())) or "body",
            message=str(item.get("msg", "invalid")),
            type=str(item.get("type", "value_error")),
        )
        for item in errors
    ]


def build_api(
    *,
    registry: TokenRegistry,
    publisher: CommandPublisher,
    metrics: IntakeMetrics,
    clock: Callable[[], datetime],
    claims_base_url: str,
    retry_after_seconds: int,
) -> FastAPI:
    """The FastAPI application, from already-built collaborators (see ``intake.app``)."""
    app = FastAPI(
        title="A-to-z claims: intake",
        version="1.0.0",
        description=(
            "File, withdraw, respond to, decide and appeal buyer-guarantee claims. Every call "
            "is authenticated with a bearer token; every accepted call answers 202 once Kafka "
            "has acknowledged the command."
        ),
    )
    bearer = HTTPBearer(auto_error=False, description="A token configured in INTAKE_TOKENS.")

    def authenticated(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        header = f"Bearer {credentials.credentials}" if credentials else None
        principal = registry.authenticate(header)
        if principal is None:
            raise StarletteHTTPException(401, "a valid bearer token is required")
        return principal

    def allowed(action: str) -> Callable[[Principal], Principal]:
        def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
            if not principal.may(action):
                raise StarletteHTTPException(403, f"role {principal.role!r} may not {action}")
            return principal

        return check

    _install_error_handlers(app)

    async def accept(
        command: ClaimCommand, message_id: str, request_id: str | None
    ) -> JSONResponse:
        envelope = build.envelope_for(command, message_id=message_id, now=clock(),
                                      correlation_id=request_id or message_id)  # fmt: skip
        with structlog.contextvars.bound_contextvars(
            claim_id=command.claim_id, order_id=command.order_id, command=command.type
        ):
            try:
                await publisher.publish(envelope)
            except BrokerUnavailableError as error:
                metrics.publish_failures.labels(command.type).inc()
                log.warning("intake.publish_failed", error=str(error))
                return _problem(503, "broker_unavailable",
                                "the command could not be recorded; nothing was accepted",
                                **{"Retry-After": str(retry_after_seconds)})  # fmt: skip
            metrics.published.labels(command.type).inc()
            log.info("intake.command_published", command_id=message_id)
        link = f"{claims_base_url.rstrip('/')}/v1/claims/{command.claim_id}"
        body = Accepted(claim_id=command.claim_id, command_id=message_id, links={"claim": link})
        return JSONResponse(body.model_dump(), status_code=202, headers={"Location": link})

    router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES, tags=["claims"])
    ClaimIdPath = Annotated[Identifier, Path(description="The claim's id, as returned on filing.")]  # noqa: N806
    KeyHeader = Annotated[  # noqa: N806
        IdempotencyKey | None,
        Header(alias="Idempotency-Key", description="Same key, same claim and command ids."),
    ]
    RequestIdHeader = Annotated[str | None, Header(alias="X-Request-ID", include_in_schema=False)]  # noqa: N806

    @router.post("/claims", status_code=202, response_model=Accepted, summary="File a claim")
    async def file_claim(
        body: build.FileClaimRequest,
        principal: Annotated[Principal, Depends(allowed("claim.file"))],
        idempotency_key: KeyHeader = None,
        request_id: RequestIdHeader = None,
    ) -> JSONResponse:
        claim_id = build.new_claim_id(principal, idempotency_key)
        command = build.file_claim(body, principal, claim_id)
        message_id = build.command_id(principal, command.type, claim_id, idempotency_key)
        return await accept(command, message_id, request_id)

    @router.post("/claims/{claim_id}/withdrawal", status_code=202, response_model=Accepted,
                 summary="Withdraw a claim before it is decided")  # fmt: skip
    async def withdraw_claim(
        claim_id: ClaimIdPath,
        body: build.WithdrawRequest,
        principal: Annotated[Principal, Depends(allowed("claim.withdraw"))],
        idempotency_key: KeyHeader = None,
        request_id: RequestIdHeader = None,
    ) -> JSONResponse:
        command = build.withdraw(body, principal, claim_id)
        message_id = build.command_id(principal, command.type, claim_id, idempotency_key)
        return await accept(command, message_id, request_id)

    @router.post("/claims/{claim_id}/response", status_code=202, response_model=Accepted,
                 summary="Seller: refund, send a replacement, accept, or dispute")  # fmt: skip
    async def respond_to_claim(
        claim_id: ClaimIdPath,
        body: build.RespondRequest,
        principal: Annotated[Principal, Depends(allowed("claim.respond"))],
        idempotency_key: KeyHeader = None,
        request_id: RequestIdHeader = None,
    ) -> JSONResponse:
        command = build.respond(body, principal, claim_id)
        message_id = build.command_id(principal, command.type, claim_id, idempotency_key)
        return await accept(command, message_id, request_id)

    @router.post("/claims/{claim_id}/decision", status_code=202, response_model=Accepted,
                 summary="Reviewer: decide a claim under review, or rule on an appeal")  # fmt: skip
    async def decide_claim(
        claim_id: ClaimIdPath,
        body: build.DecideRequest,
        principal: Annotated[Principal, Depends(allowed("claim.decide"))],
        idempotency_key: KeyHeader = None,
        request_id: RequestIdHeader = None,
    ) -> JSONResponse:
        command = build.decide(body, principal, claim_id)
        message_id = build.command_id(principal, command.type, claim_id, idempotency_key)
        return await accept(command, message_id, request_id)

    @router.post("/claims/{claim_id}/appeals", status_code=202, response_model=Accepted,
                 summary="Appeal a decision within the appeal window")  # fmt: skip
    async def appeal_claim(
        claim_id: ClaimIdPath,
        body: build.AppealRequest,
        principal: Annotated[Principal, Depends(allowed("claim.appeal"))],
        idempotency_key: KeyHeader = None,
        request_id: RequestIdHeader = None,
    ) -> JSONResponse:
        message_id = build.command_id(principal, "claim.appeal", claim_id, idempotency_key)
        appeal_id = "apl-" + message_id.replace("-", "")[:20]
        command = build.appeal(body, principal, claim_id, appeal_id)
        return await accept(command, message_id, request_id)

    app.include_router(router)

    _install_operations(app, publisher, metrics)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """Every error the caller can cause answers with a JSON body naming what was wrong."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problem = ValidationProblem(fields=_field_errors(error.errors()))
        return JSONResponse(problem.model_dump(), status_code=422)

    @app.exception_handler(RequestFieldError)
    async def request_field_error(_: Request, error: RequestFieldError) -> JSONResponse:
        problem = ValidationProblem(
            fields=[FieldErrorOut(field=error.field, message=error.message, type="value_error")]
        )
        return JSONResponse(problem.model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(_: Request, error: StarletteHTTPException) -> JSONResponse:
        names = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "not_allowed"}
        if error.status_code == 400:
            # FastAPI's answer to a body it cannot even decode (not UTF-8): report it like any
            # other malformed JSON, as a field error on the body.
            problem = ValidationProblem(
                fields=[FieldErrorOut(field="body", message=str(error.detail), type="json_invalid")]
            )
            return JSONResponse(problem.model_dump(), status_code=422)
        headers = dict(error.headers or {})  # keeps Allow on a 405
        if error.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return _problem(error.status_code, names.get(error.status_code, "http_error"),
                        str(error.detail), **headers)  # fmt: skip


def _install_operations(app: FastAPI, publisher: CommandPublisher, metrics: IntakeMetrics) -> None:
    """Liveness, readiness and Prometheus endpoints."""

    @app.get("/health/live", tags=["operations"], summary="The process answers")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready", tags=["operations"], summary="Kafka acknowledges commands",
             responses={503: {"description": "Kafka unreachable"}})  # fmt: skip
    async def ready() -> JSONResponse:
        ok = await publisher.ready()
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": {"kafka": ok}},
                            status_code=200 if ok else 503)  # fmt: skip

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics",
             response_class=Response)  # fmt: skip
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
