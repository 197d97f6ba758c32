"""Before sending anything, the simulator makes sure the platform answers and takes its token."""

from __future__ import annotations

import httpx
import pytest

from marketsim.preflight import PlatformNotReadyError, check_services

INTAKE, METRICS = "http://intake.test", "http://metrics.test"


def _platform(*, intake_up: bool = True, token_ok: bool = True) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "intake.test" and not intake_up:
            raise httpx.ConnectError("refused", request=request)
        if request.url.path == "/health/ready":
            return httpx.Response(200, json={"status": "ready"})
        if request.url.path == "/v1/sellers":
            good = request.headers.get("authorization") == "Bearer good"
            return httpx.Response(200 if good and token_ok else 403, json={})
        return httpx.Response(404)

    return httpx.MockTransport(answer)


async def test_a_ready_platform_that_takes_the_token_passes() -> None:
    await check_services(INTAKE, METRICS, "good", transport=_platform())


async def test_an_unreachable_intake_is_told_in_one_sentence() -> None:
    with pytest.raises(PlatformNotReadyError, match="intake does not answer at http://intake"):
        await check_services(INTAKE, METRICS, "good", transport=_platform(intake_up=False))


async def test_a_token_without_the_service_role_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(PlatformNotReadyError, match="needs a service token"):
        await check_services(INTAKE, METRICS, "good", transport=_platform(token_ok=False))
