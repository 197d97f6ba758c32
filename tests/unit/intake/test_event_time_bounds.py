"""A service token's X-Event-Time is a claim to bound: on the wall clock it must be now, give
or take the skew; on event time (a simulation, a replay) any past moment, never the future."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager

from intake.app import create_app
from intake.publisher import RecordingPublisher
from tests.unit.intake.conftest import NOW, bearer, filing, intake_settings


async def _post(clock: str, event_time: str) -> httpx.Response:
    publisher = RecordingPublisher()
    app = create_app(intake_settings(clock=clock), publisher=publisher, clock=lambda: NOW)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            headers = bearer("service") | {
                "X-On-Behalf-Of": "buyer:buyer-0042",
                "X-Event-Time": event_time,
            }
            return await http.post("/v1/claims", json=filing(), headers=headers)


def _at(offset: timedelta) -> str:
    return (NOW + offset).isoformat()


@pytest.mark.parametrize(
    ("clock", "offset", "status"),
    [
        ("wall", timedelta(minutes=-4), 202),
        ("wall", timedelta(minutes=4), 202),
        ("wall", timedelta(days=-8), 422),  # "it happened last week" is not believed
        ("wall", timedelta(minutes=6), 422),
        ("wall", timedelta(days=3650), 422),  # the 2030 move
        ("event", timedelta(days=-80), 202),  # a simulation replays the quarter before now
        ("event", timedelta(minutes=6), 422),  # but nothing comes from the future
        ("event", timedelta(days=3650), 422),
    ],
    ids=[
        "wall_4_minutes_ago",
        "wall_4_minutes_ahead",
        "wall_a_week_ago",
        "wall_6_minutes_ahead",
        "wall_ten_years_ahead",
        "event_80_days_ago",
        "event_6_minutes_ahead",
        "event_ten_years_ahead",
    ],
)
async def test_a_stated_event_time_is_believed_only_within_the_clocks_bounds(
    clock: str, offset: timedelta, status: int
) -> None:
    response = await _post(clock, _at(offset))
    assert response.status_code == status, response.text
    if status == 422:
        fields = [field["field"] for field in response.json()["fields"]]
        assert fields == ["header.X-Event-Time"]
