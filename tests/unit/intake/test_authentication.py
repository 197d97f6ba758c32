"""Every call is authenticated; each role may take only its own actions."""

from __future__ import annotations

import httpx
import pytest

from intake.auth import PERMISSIONS, TokenGrant, TokenRegistry, hash_token
from intake.publisher import RecordingPublisher
from intake.settings import IntakeSettings
from tests.unit.intake.conftest import bearer, filing


async def test_a_call_without_token_is_401_and_publishes_nothing(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post("/v1/claims", json=filing())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthenticated"
    assert publisher.published == []


async def test_an_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/claims", json=filing(), headers={"Authorization": "Bearer not-a-real-token"}
    )
    assert response.status_code == 401


async def test_authentication_comes_before_body_validation(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/claims", json={"nonsense": True})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("who", "path", "body"),
    [
        ("seller", "/v1/claims", filing()),
        ("reviewer", "/v1/claims", filing()),
        (
            "buyer",
            "/v1/claims/clm-1/response",
            {"order_id": "o-1", "response": {"action": "accept"}},
        ),
        (
            "seller",
            "/v1/claims/clm-1/decision",
            {
                "order_id": "o-1",
                "decision": {"kind": "review", "outcome": "granted", "funded_by": "seller"},
            },
        ),
        ("seller", "/v1/claims/clm-1/withdrawal", {"order_id": "o-1"}),
        ("reviewer", "/v1/claims/clm-1/appeals", {"order_id": "o-1", "statement": "unfair"}),
    ],
)
async def test_a_role_not_allowed_to_act_gets_403(
    client: httpx.AsyncClient,
    publisher: RecordingPublisher,
    who: str,
    path: str,
    body: dict[str, object],
) -> None:
    response = await client.post(path, json=body, headers=bearer(who))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert publisher.published == []


async def test_the_command_carries_the_authenticated_actor(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post(
        "/v1/claims/clm-1/response",
        json={"order_id": "o-1", "response": {"action": "accept"}},
        headers=bearer("seller"),
    )
    assert response.status_code == 202
    actor = publisher.published[0].data.actor
    assert (actor.role, actor.subject) == ("seller", "seller-acme")


def test_registry_finds_a_principal_only_through_the_bearer_scheme() -> None:
    registry = TokenRegistry([TokenGrant(sha256=hash_token("s3cret"), role="buyer", subject="b1")])
    assert registry.authenticate("Bearer s3cret") is not None
    assert registry.authenticate("bearer s3cret") is not None
    assert registry.authenticate("Basic s3cret") is None
    assert registry.authenticate("Bearer ") is None
    assert registry.authenticate("Bearer other") is None
    assert registry.authenticate(None) is None


def test_tokens_are_configured_as_hashes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest = hash_token("s3cret")
    monkeypatch.setenv(
        "INTAKE_TOKENS", f'[{{"sha256": "{digest}", "role": "seller", "subject": "seller-9"}}]'
    )
    settings = IntakeSettings()
    assert settings.tokens[0].role == "seller"
    assert digest not in repr(settings.tokens[0])


def test_a_plain_text_secret_is_refused_as_a_token_hash() -> None:
    with pytest.raises(ValueError, match="sha256"):
        TokenGrant(sha256="s3cret", role="buyer", subject="b1")


def test_every_action_names_at_least_one_role() -> None:
    assert set(PERMISSIONS) == {
        "claim.file",
        "claim.withdraw",
        "claim.respond",
        "claim.decide",
        "claim.appeal",
    }
    assert all(PERMISSIONS.values())


async def test_a_service_token_acts_for_an_actor_at_a_given_event_time(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    headers = bearer("service") | {
        "X-On-Behalf-Of": "buyer:buyer-0042",
        "X-Event-Time": "2026-03-20T13:02:00+01:00",  # two minutes ago, on intake's clock
    }
    response = await client.post("/v1/claims", json=filing(), headers=headers)
    assert response.status_code == 202, response.text
    [envelope] = publisher.published
    assert (envelope.data.actor.role, envelope.data.actor.subject) == ("buyer", "buyer-0042")
    assert envelope.data.buyer_id == "buyer-0042"
    assert envelope.time.isoformat() == "2026-03-20T13:02:00+01:00"


async def test_a_service_acting_for_a_role_still_needs_that_roles_permission(
    client: httpx.AsyncClient,
) -> None:
    headers = bearer("service") | {"X-On-Behalf-Of": "seller:seller-acme"}
    response = await client.post("/v1/claims", json=filing(), headers=headers)
    assert response.status_code == 403


@pytest.mark.parametrize("header", ["X-On-Behalf-Of", "X-Event-Time"])
async def test_only_service_tokens_may_act_for_others_or_set_event_time(
    client: httpx.AsyncClient, publisher: RecordingPublisher, header: str
) -> None:
    value = "buyer:buyer-0099" if header == "X-On-Behalf-Of" else "2026-03-12T09:00:00Z"
    response = await client.post(
        "/v1/claims", json=filing(), headers=bearer("buyer") | {header: value}
    )
    assert response.status_code == 403
    assert publisher.published == []


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-On-Behalf-Of", "buyer"),
        ("X-On-Behalf-Of", "emperor:x"),
        ("X-Event-Time", "2026-03-12T09:00:00"),
        ("X-Event-Time", "yesterday"),
    ],
)
async def test_a_malformed_delegation_or_event_time_is_422_on_its_header(
    client: httpx.AsyncClient, header: str, value: str
) -> None:
    response = await client.post(
        "/v1/claims", json=filing(), headers=bearer("service") | {header: value}
    )
    assert response.status_code == 422
    assert any(f["field"].startswith(f"header.{header}") for f in response.json()["fields"])


@pytest.mark.parametrize(
    "path",
    [
        "/v1/claims",
        "/v1/claims/clm-1/withdrawal",
        "/v1/claims/clm-1/response",
        "/v1/claims/clm-1/decision",
        "/v1/claims/clm-1/appeals",
    ],
)
async def test_the_read_only_operator_may_take_no_action(
    client: httpx.AsyncClient, publisher: RecordingPublisher, path: str
) -> None:
    response = await client.post(path, json={"order_id": "o-1"}, headers=bearer("operator"))
    assert response.status_code == 403
    assert publisher.published == []


@pytest.mark.parametrize("header", ["X-On-Behalf-Of", "X-Event-Time"])
async def test_the_operator_may_not_act_for_anyone_nor_state_a_time(
    client: httpx.AsyncClient, publisher: RecordingPublisher, header: str
) -> None:
    value = "buyer:buyer-0042" if header == "X-On-Behalf-Of" else "2026-03-20T12:00:00Z"
    response = await client.post(
        "/v1/claims", json=filing(), headers=bearer("operator") | {header: value}
    )
    assert response.status_code == 403
    assert publisher.published == []
