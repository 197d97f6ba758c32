"""Every service answers a caller's mistake in one shape: ``{"error", "message"}``, plus
``fields`` when the input was invalid."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query

from adjudication.app import create_app as adjudication_app
from adjudication.settings import AdjudicationSettings
from metrics.app import create_app as metrics_app
from metrics.settings import MetricsSettings
from servicekit.problems import install_problem_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/guarded")
    async def guarded() -> None:
        raise HTTPException(401, "a valid bearer token is required")

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("password=hunter2 in a connection string")

    @app.get("/history")
    async def history(days: int = Query(ge=1, le=365)) -> dict[str, int]:
        return {"days": days}

    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get(path)


async def test_an_http_error_names_itself_and_says_why() -> None:
    answer = await _get(_app(), "/guarded")
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "unauthenticated",
        "message": "a valid bearer token is required",
    }
    assert answer.headers["www-authenticate"] == "Bearer"


async def test_invalid_input_lists_each_field_with_its_dotted_location() -> None:
    answer = await _get(_app(), "/history?days=0")
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "validation_failed"
    assert [f["field"] for f in body["fields"]] == ["query.days"]
    assert body["fields"][0]["type"] == "greater_than_equal"


async def test_a_failure_of_the_service_is_a_500_in_the_shared_shape_that_tells_nothing() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        answer = await client.get("/broken")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "internal_error",
        "message": "the service failed to answer; try again later",
    }
    assert "hunter2" not in answer.text


async def test_an_unknown_route_is_a_not_found_problem() -> None:
    answer = await _get(_app(), "/nowhere")
    assert answer.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("app", "path"),
    [
        (lambda: adjudication_app(AdjudicationSettings()), "/v1/review-queue"),
        (lambda: metrics_app(MetricsSettings()), "/v1/sellers/at-risk"),
    ],
    ids=["adjudication", "metrics"],
)
async def test_adjudication_and_metrics_answer_in_the_shared_shape(
    app: Callable[[], FastAPI], path: str
) -> None:
    answer = await _get(app(), path)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"
    assert answer.json()["message"]
