"""An intake app wired with a recording publisher and one token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from intake.app import create_app
from intake.auth import TokenGrant, hash_token
from intake.publisher import RecordingPublisher
from intake.settings import IntakeSettings

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)

TOKENS = {
    "buyer": ("tok-buyer-0042", "buyer-0042"),
    "other_buyer": ("tok-buyer-0099", "buyer-0099"),
    "agent": ("tok-agent-7", "agent-7"),
    "seller": ("tok-seller-acme", "seller-acme"),
    "reviewer": ("tok-reviewer-1", "rev-1"),
    "service": ("tok-service-sim", "simulator"),
    "operator": ("tok-operator", "operator-demo"),
}


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who][0]}"}


def intake_settings(**overrides: object) -> IntakeSettings:
    roles = {"other_buyer": "buyer"}
    grants = tuple(
        TokenGrant(sha256=hash_token(token), role=roles.get(who, who), subject=subject)  # type: ignore[arg-type]  # keys are roles
        for who, (token, subject) in TOKENS.items()
    )
    values: dict[str, object] = {"tokens": grants, "log_format": "console", **overrides}
    return IntakeSettings(**values)  # type: ignore[arg-type]  # overrides are settings fields


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def app(publisher: RecordingPublisher) -> FastAPI:
    return create_app(intake_settings(), publisher=publisher, clock=lambda: NOW)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield http


def filing(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "order_id": "114-3941689-8772232",
        "reason": "not_received",
        "amount": {"amount": "50.00", "currency": "EUR"},
        "description": "The parcel never arrived.",
        "contact": {"contacted_at": "2026-03-10T08:00:00+01:00"},
    }
    body.update(changes)
    return body
