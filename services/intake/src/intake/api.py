"""Intake's HTTP API: authenticate, validate, publish the command, answer 202.

One table (:data:`CLAIM_ACTIONS`) lists the five claim actions; one handler serves them all:
it authenticates the bearer token (401), checks the role (403), validates the claim id, the
idempotency key and the body (422 with field errors), builds the command with the pure
functions of :mod:`intake.requests`, and answers 202 once Kafka acknowledged it (503 with
``Retry-After`` when it did not). Never a 500 for the caller's input.

The handler reads the raw request itself, on a plain Starlette route: validating the body
straight from JSON bytes and skipping FastAPI's dependency solver more than halves the cost of
a request. The OpenAPI document still describes every body, header and answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from contracts.base import Identifier, Timestamp
from contracts.claims import Actor, ClaimCommand
from contracts.topics import CLAIMS_COMMANDS
from intake import requests as build
from intake.auth import Principal, TokenRegistry
from intake.observability import IntakeMetrics
from intake.publisher import BrokerUnavailableError, CommandPublisher
from intake.requests import IdempotencyKey, RequestFieldError
from servicekit.eventtime import Timekeeper, refusal_at_receipt
from servicekit.problems import (
    FieldErrorOut,
    Problem,
    ValidationProblem,
    install_problem_handlers,
    validation_problem,
)
from servicekit.tracing import OFF, SpanKind, Tracing

log = structlog.get_logger("intake")


@dataclass(frozen=True, slots=True)
class ClaimAction:
    """One endpoint: the action (a permission), its path, its body model and what it does."""

    action: str
    path: str
    body: type[build.ClaimRequest]
    summary: str


CLAIM_ACTIONS: Final[tuple[ClaimAction, ...]] = (
    ClaimAction("claim.file", "/v1/claims", build.FileClaimRequest, "File a claim"),
    ClaimAction(
        "claim.withdraw",
        "/v1/claims/{claim_id}/withdrawal",
        build.WithdrawRequest,
        "Withdraw a claim before it is decided",
    ),
    ClaimAction(
        "claim.respond",
        "/v1/claims/{claim_id}/response",
        build.RespondRequest,
        "Seller: refund, send a replacement, accept, or dispute",
    ),
    ClaimAction(
        "claim.decide",
        "/v1/claims/{claim_id}/decision",
        build.DecideRequest,
        "Reviewer: decide a claim under review, or rule on an appeal",
    ),
    ClaimAction(
        "claim.appeal",
        "/v1/claims/{claim_id}/appeals",
        build.AppealRequest,
        "Appeal a decision within the appeal window",
    ),
)


class Unavailable(Problem):
    """Kafka did not acknowledge. ``maybe_recorded`` true: the command may still be recorded
    (a retry with the same Idempotency-Key is safe); false: it was not."""

    claim_id: str
    command_id: str
    maybe_recorded: bool


class Accepted(BaseModel):
    """The command was acknowledged by Kafka; adjudication will decide what it does."""

    status: Literal["accepted"] = "accepted"
    claim_id: str
    command_id: str
    links: dict[str, str]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token."},
    403: {"model": Problem, "description": "The token's role may not take this action."},
    413: {"model": Problem, "description": "Body over the configured limit."},
    422: {"model": ValidationProblem, "description": "Field-level validation errors."},
    503: {
        "model": Unavailable,
        "description": "Kafka did not acknowledge; retry after the header. With "
        "maybe_recorded, the command may still be recorded: a retry with the same "
        "Idempotency-Key is safe.",
        "headers": {
            "Retry-After": {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before retrying.",
            }
        },
    },
}

_CLAIM_ID: Final = TypeAdapter(Identifier)
_ACTOR: Final = TypeAdapter(Actor)
_TIMESTAMP: Final = TypeAdapter(Timestamp)
ON_BEHALF_OF: Final = "X-On-Behalf-Of"
EVENT_TIME: Final = "X-Event-Time"


def _delegate(header: str) -> Principal:
    """``role:subject`` from a service token: the actor it acts for (a simulator, a replay)."""
    role, _, subject = header.partition(":")
    try:
        actor = _ACTOR.validate_python({"role": role, "subject": subject})
    except ValidationError as error:
        raise _invalid(("header", ON_BEHALF_OF), error) from None
    return Principal(actor.role, actor.subject)


def _event_time(header: str | None, timekeeper: Timekeeper) -> datetime | None:
    """The event time a service token sets on its commands (RFC 3339 with an offset), if the
    service's clock can believe it (:func:`servicekit.eventtime.refusal_at_receipt`)."""
    if header is None:
        return None
    try:
        stated = _TIMESTAMP.validate_python(header)
    except ValidationError as error:
        raise _invalid(("header", EVENT_TIME), error) from None
    refusal = refusal_at_receipt(
        stated, wall=timekeeper.wall(), mode=timekeeper.mode, bounds=timekeeper.bounds
    )
    if refusal is not None:
        raise RequestFieldError(f"header.{EVENT_TIME}", f"the event time {refusal}")
    return stated


_IDEMPOTENCY_KEY: Final = TypeAdapter(IdempotencyKey)
_BEARER: Final = "HTTPBearer"


def _invalid(location: tuple[str, ...], error: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{**item, "loc": (*location, *item["loc"])} for item in error.errors(include_url=False)]
    )


def _validated(
    adapter: TypeAdapter[str], value: str | None, location: tuple[str, ...]
) -> str | None:
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise _invalid(location, error) from None


def build_api(
    *,
    registry: TokenRegistry,
    publisher: CommandPublisher,
    metrics: IntakeMetrics,
    timekeeper: Timekeeper,
    claims_base_url: str,
    retry_after_seconds: int,
    tracing: Tracing = OFF,
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
    _install_error_handlers(app)

    def authorize(request: Request, action: str) -> tuple[Principal, datetime | None]:
        """The acting principal and, for service tokens, the event time they set."""
        principal = registry.authenticate(request.headers.get("authorization"))
        if principal is None:
            raise StarletteHTTPException(401, "a valid bearer token is required")
        delegated = request.headers.get(ON_BEHALF_OF)
        event_time = request.headers.get(EVENT_TIME)
        # An empty header is still a header: it is judged, not ignored.
        if (delegated is not None or event_time is not None) and principal.role != "service":
            raise StarletteHTTPException(
                403, f"only service tokens may send {ON_BEHALF_OF} or {EVENT_TIME}"
            )
        when = _event_time(event_time, timekeeper)
        if delegated is not None:
            principal = _delegate(delegated)
        if not principal.may(action):
            raise StarletteHTTPException(403, f"role {principal.role!r} may not {action}")
        return principal, when

    async def accept(
        command: ClaimCommand,
        message_id: str,
        state: Any,
        event_time: datetime | None,
    ) -> Response:
        # ``state`` is the request's, from RequestContextMiddleware: its id, its log line's
        # fields and its span's traceparent.
        # Fields of the request's one log line, written by the middleware when it answers.
        state.log_fields.update(
            claim_id=command.claim_id,
            order_id=command.order_id,
            command=command.type,
            command_id=message_id,
        )
        try:
            # The command's span: its context travels in the envelope to whoever consumes it.
            with tracing.span(
                f"publish {CLAIMS_COMMANDS.name}",
                parent=state.traceparent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": CLAIMS_COMMANDS.name,
                    "messaging.message.id": message_id,
                    "atoz.claim_id": command.claim_id,
                },
            ) as traced:
                envelope = build.envelope_for(
                    command,
                    message_id=message_id,
                    now=event_time or timekeeper.wall(),
                    correlation_id=state.request_id,
                    traceparent=traced.traceparent,
                )
                await publisher.publish(envelope)
        except BrokerUnavailableError as error:
            metrics.publish_failed(command.type)
            log.warning("intake.publish_failed", error=str(error))
            if error.maybe_recorded:
                told = (
                    "Kafka did not acknowledge the command in time: it may still be recorded. "
                    "A retry with the same Idempotency-Key is safe (it is the same command, "
                    "applied once); without one, read the claim before filing again"
                )
            else:
                told = "Kafka is unreachable: the command was not recorded; retry later"
            unavailable = Unavailable(
                error="broker_unavailable",
                message=told,
                claim_id=command.claim_id,
                command_id=message_id,
                maybe_recorded=error.maybe_recorded,
            )
            return JSONResponse(
                unavailable.model_dump(),
                status_code=503,
                headers={"Retry-After": str(retry_after_seconds)},
            )
        metrics.command_published(command.type)
        link = f"{claims_base_url.rstrip('/')}/v1/claims/{command.claim_id}"
        body = {
            "status": "accepted",
            "claim_id": command.claim_id,
            "command_id": message_id,
            "links": {"claim": link},
        }  # the Accepted model, written directly
        return Response(
            orjson.dumps(body),
            status_code=202,
            headers={"Location": link},
            media_type="application/json",
        )

    def endpoint(spec: ClaimAction) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            request.state.route = spec.path
            principal, event_time = authorize(request, spec.action)  # 401/403 come first
            claim_id = _validated(
                _CLAIM_ID, request.path_params.get("claim_id"), ("path", "claim_id")
            )
            key = _validated(
                _IDEMPOTENCY_KEY,
                request.headers.get("idempotency-key"),
                ("header", "Idempotency-Key"),
            )
            try:
                body = spec.body.model_validate_json(await request.body())
            except ValidationError as error:
                raise _invalid(("body",), error) from None
            command, message_id = build.command_for(body, principal, claim_id, key)
            return await accept(command, message_id, request.state, event_time)

        return handle

    # Plain Starlette routes on the same app: FastAPI's per-request machinery (dependency
    # solving, response wrapping) would cost more than all of intake's own work; the routes'
    # documentation is written into the OpenAPI document below instead.
    for spec in CLAIM_ACTIONS:
        app.router.routes.append(
            Route(spec.path, endpoint(spec), methods=["POST"], name=spec.action)
        )
    _install_operations(app, publisher, metrics)
    _document_claim_actions(app)
    return app


def _operation(spec: ClaimAction) -> dict[str, Any]:
    """The OpenAPI operation of one claim action."""
    parameters: list[dict[str, Any]] = [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "A retry with the same key gets the same claim id and command id.",
            "schema": _IDEMPOTENCY_KEY.json_schema(),
        }
    ]
    parameters += [
        {
            "name": ON_BEHALF_OF,
            "in": "header",
            "required": False,
            "description": "Service tokens only: act as this actor, written role:subject.",
            "schema": {"type": "string", "pattern": "^[a-z]+:[A-Za-z0-9][A-Za-z0-9._:\\-]*$"},
        },
        {
            "name": EVENT_TIME,
            "in": "header",
            "required": False,
            "description": (
                "Service tokens only: when the command happened (RFC 3339, with offset). On "
                "the wall clock it must be now, within the policy's time.max_clock_skew_seconds "
                "(INTAKE_POLICY_FILE); on event time (INTAKE_CLOCK=event, a simulation or a "
                "replay) any past moment."
            ),
            "schema": {"type": "string", "format": "date-time"},
        },
    ]
    if "{claim_id}" in spec.path:
        parameters.insert(
            0,
            {
                "name": "claim_id",
                "in": "path",
                "required": True,
                "description": "The claim's id, as returned on filing.",
                "schema": _CLAIM_ID.json_schema(),
            },
        )

    def content(model: type[BaseModel]) -> dict[str, Any]:
        return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}

    responses: dict[str, Any] = {
        "202": {
            "description": "Accepted: Kafka acknowledged the command.",
            "content": content(Accepted),
        },
    }
    for status, answer in ERROR_RESPONSES.items():
        responses[str(status)] = {
            "description": answer["description"],
            "content": content(answer["model"]),
        }
        if "headers" in answer:
            responses[str(status)]["headers"] = answer["headers"]
    return {
        "tags": ["claims"],
        "summary": spec.summary,
        "operationId": spec.action.replace(".", "_"),
        "parameters": parameters,
        "requestBody": {"required": True, "content": content(spec.body)},
        "responses": responses,
        "security": [{_BEARER: []}],
    }


def _document_claim_actions(app: FastAPI) -> None:
    """Write the claim actions, their models and the bearer scheme into the OpenAPI document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for spec in CLAIM_ACTIONS:
            document["paths"][spec.path] = {"post": _operation(spec)}
        components = document.setdefault("components", {})
        schemas: dict[str, Any] = components.setdefault("schemas", {})
        models: list[type[BaseModel]] = [Accepted, Problem, Unavailable, ValidationProblem]
        for model in [*models, *(spec.body for spec in CLAIM_ACTIONS)]:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        _document_what_is_enforced(schemas)
        components["securitySchemes"] = {
            _BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "A token configured in INTAKE_TOKENS.",
            }
        }
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise


TIME_RANGE: Final = "RFC 3339 with an offset, from 2000-01-01 to 2100-12-31 (UTC)."
YEARS_2000_TO_2100: Final = "^(20[0-9]{2}|2100)-"
POSITIVE_AMOUNT: Final = (
    "More than zero, with no more decimals than the currency has (2 for EUR, 0 for JPY)."
)


def _document_what_is_enforced(schemas: dict[str, Any]) -> None:
    """Say in the schemas what validation enforces beyond what pydantic writes in them.

    - A tagged union's tag (``action`` of a seller response, ``kind`` of a decision or an
      evidence item) has a default in the models, so pydantic leaves it out of ``required``;
      but a union is told apart by it, and a body without it is refused.
    - A claimed or refunded amount is more than zero: a string of zeros is refused.
    - Times are bounded.
    """
    for schema in schemas.values():
        for union in _discriminated_unions(schema):
            tag = union["discriminator"]["propertyName"]
            for reference in union["discriminator"].get("mapping", {}).values():
                variant = schemas[reference.rsplit("/", 1)[-1]]
                if tag not in variant.get("required", []):
                    variant["required"] = [tag, *variant.get("required", [])]
        for field in schema.get("properties", {}).values():
            if field.get("format") == "date-time":
                field["pattern"] = YEARS_2000_TO_2100  # with the offset, the bound is in UTC
                field.setdefault("description", TIME_RANGE)
    amount = schemas["PositiveMoney"]["properties"]["amount"]
    amount["not"] = {"pattern": "^[0.]*$"}  # every digit a zero: the amount is zero
    amount["description"] = POSITIVE_AMOUNT


def _discriminated_unions(node: Any) -> list[dict[str, Any]]:
    """Every sub-schema of ``node`` with a ``discriminator``."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "discriminator" in node:
            found.append(node)
        for value in node.values():
            found += _discriminated_unions(value)
    elif isinstance(node, list):
        for item in node:
            found += _discriminated_unions(item)
    return found


def _install_error_handlers(app: FastAPI) -> None:
    """Every error the caller can cause answers with a JSON body naming what was wrong, in the
    shape every service shares (:mod:`servicekit.problems`)."""
    install_problem_handlers(app)

    @app.exception_handler(RequestFieldError)
    async def request_field_error(_: Request, error: RequestFieldError) -> JSONResponse:
        fields = [FieldErrorOut(field=error.field, message=error.message, type="value_error")]
        return validation_problem(fields)


def _install_operations(app: FastAPI, publisher: CommandPublisher, metrics: IntakeMetrics) -> None:
    """Liveness, readiness and Prometheus endpoints."""

    @app.get("/health/live", tags=["operations"], summary="The process answers")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get(
        "/health/ready",
        tags=["operations"],
        summary="Kafka acknowledges commands",
        responses={503: {"description": "Kafka unreachable"}},
    )
    async def ready() -> JSONResponse:
        ok = await publisher.ready()
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": {"kafka": ok}},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
