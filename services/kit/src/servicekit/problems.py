"""One shape for every error a caller can cause, in every service's HTTP API.

``{"error": "<slug>", "message": "<sentence>"}``, and for input that fails validation
``{"error": "validation_failed", "message": ..., "fields": [{"field", "message", "type"}]}``
with the field's location dotted (``query.days``, ``body.amount.currency``). Clients, the
dashboard among them, read one shape whichever service answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

ERROR_NAMES: Final = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "not_allowed",
    409: "conflict",
    413: "body_too_large",
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
    """Answer HTTP errors and invalid requests in the shared shape."""

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
