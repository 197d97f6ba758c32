"""One shape for every error a caller can cause, in every service's HTTP API.

``{"error": "<slug>", "message": "<sentence>"}``, and for input that fails validation
``{"error": "validation_failed", "message": ..., "fields": [{"field", "message", "type"}]}``
with the field's location dotted (``query.days``, ``body.amount.currency``). Clients, the
dashboard among them, read one shape whichever service answered. A failure of the service
itself is a 500 in the same shape, saying nothing of its cause (the server's log has that).

:func:`problem_responses` documents these answers on a route, so the OpenAPI document lists
every status the route gives, each with its schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit.docs import install_offline_docs

ERROR_NAMES: Final = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "not_allowed",
    409: "conflict",
    413: "body_too_large",
}

DESCRIPTIONS: Final[Mapping[int, str]] = {
    400: "The request could not be read.",
    401: "No valid bearer token (the answer carries `WWW-Authenticate: Bearer`).",
    403: "The token's role, or its subject, may not read this.",
    404: "Not found, or not the caller's to see (existence is not told).",
    413: "Body over the configured limit.",
    422: "A path, query, header or body field is invalid: each one is named in `fields`.",
}


class FieldErrorOut(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    error: str
    message: str


class ValidationProblem(BaseModel):
    error: Literal["validation_failed"] = "validation_failed"
    message: str = "the request is invalid: see fields"
    fields: list[FieldErrorOut]


def problem_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` documenting each status in the shared shape (422 with ``fields``).

    Naming 422 here also replaces FastAPI's own ``HTTPValidationError``, a shape no route of
    the platform answers with."""
    told = {**DESCRIPTIONS, **(descriptions or {})}
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": told.get(status, ERROR_NAMES.get(status, "An error.")),
        }
        for status in statuses
    }


def field_errors(
    errors: Iterable[Mapping[str, Any]], prefix: tuple[str, ...] = ()
) -> list[FieldErrorOut]:
    """pydantic's errors as field errors, their locations dotted."""
    return [
        FieldErrorOut(
            field=".".join((*prefix, *(str(part) for part in item.get("loc", ())))) or "body",
            message=str(item.get("msg", "invalid")),
            type=str(item.get("type", "value_error")),
        )
        for item in errors
    ]


def problem(status: int, error: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        Problem(error=error, message=message).model_dump(), status_code=status, headers=headers
    )


def validation_problem(fields: list[FieldErrorOut]) -> JSONResponse:
    return JSONResponse(ValidationProblem(fields=fields).model_dump(), status_code=422)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer HTTP errors, invalid requests and the service's own failures in the shared shape.

    Every service calls this once on its app, so it also serves the app's documentation from
    installed files (:func:`servicekit.docs.install_offline_docs`): nothing from a CDN."""
    install_offline_docs(app)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return validation_problem(field_errors(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(_: Request, error: StarletteHTTPException) -> JSONResponse:
        headers: dict[str, str] = dict(error.headers or {})  # keeps Allow on a 405
        if error.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        name = ERROR_NAMES.get(error.status_code, "http_error")
        return problem(error.status_code, name, str(error.detail), **headers)

    @app.exception_handler(Exception)
    async def failure(_: Request, error: Exception) -> JSONResponse:
        # Starlette re-raises the error once this is sent, so the server logs it with its
        # traceback; the caller learns only that it was not their fault.
        return problem(500, "internal_error", "the service failed to answer; try again later")
