"""Intake takes amounts, times and text only in the published form: anything else is a 422.

Before, ``"1e3"`` was accepted and published as ``"1E+3"``, breaking the schema every consumer
reads, and a NUL in a description was answered 202 and then lost in the dead-letter topic.
"""

from __future__ import annotations

import httpx
import pytest

from intake.publisher import RecordingPublisher
from tests.unit.intake.conftest import bearer, filing

# 10.00 in full-width digits: digits to Decimal(), not to the schema.
FULL_WIDTH_TEN = "\uff11\uff10.\uff10\uff10"


def _fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_failed"
    return {item["field"]: item["message"] for item in body["fields"]}


async def _refused(
    client: httpx.AsyncClient, publisher: RecordingPublisher, body: dict[str, object]
) -> dict[str, str]:
    response = await client.post("/v1/claims", json=body, headers=bearer("buyer"))
    fields = _fields(response)
    assert publisher.published == []
    return fields


@pytest.mark.parametrize(
    "amount",
    ["1e3", "1E+3", "+10.00", " 10.00", ".5", "10.", "10_0", FULL_WIDTH_TEN, "Infinity",
     "NaN", "0x10", "1,00", "1234567890123"],
)  # fmt: skip
async def test_an_amount_not_in_the_published_form_is_a_422_on_the_amount(
    client: httpx.AsyncClient, publisher: RecordingPublisher, amount: str
) -> None:
    body = filing(amount={"amount": amount, "currency": "EUR"})
    fields = await _refused(client, publisher, body)
    assert "1 to 12 digits" in fields["body.amount.amount"]


async def test_an_amount_as_a_json_number_is_a_422_on_the_amount(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = filing(amount={"amount": 50, "currency": "EUR"})
    assert "as a string" in (await _refused(client, publisher, body))["body.amount.amount"]


@pytest.mark.parametrize(
    "contacted_at",
    ["2026-03-10 08:00:00Z", "2026-03-10T08:00Z", "2026-03-10", "2026-03-10T08:00:00+0100",
     "1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "9999-12-31T23:59:59Z", 1773129600],
)  # fmt: skip
async def test_a_time_not_in_rfc_3339_form_or_out_of_range_is_a_422_on_the_time(
    client: httpx.AsyncClient, publisher: RecordingPublisher, contacted_at: object
) -> None:
    body = filing(contact={"contacted_at": contacted_at})
    assert "body.contact.contacted_at" in await _refused(client, publisher, body)


@pytest.mark.parametrize("character", ["\x00", "\x08", "\x1b", "\x7f", "\x85"])
async def test_a_control_character_in_the_description_is_a_422_on_it(
    client: httpx.AsyncClient, publisher: RecordingPublisher, character: str
) -> None:
    body = filing(description=f"The parcel{character} never arrived.")
    fields = await _refused(client, publisher, body)
    assert "control characters are not allowed" in fields["body.description"]


async def test_a_lone_surrogate_in_the_body_is_a_422_not_a_500(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    content = (
        b'{"order_id": "114-3941689-8772232", "reason": "not_received",'
        b' "amount": {"amount": "50.00", "currency": "EUR"},'
        b' "description": "The parcel \\ud800 never arrived."}'
    )
    response = await client.post(
        "/v1/claims", content=content,
        headers={**bearer("buyer"), "content-type": "application/json"},
    )  # fmt: skip
    assert _fields(response)
    assert publisher.published == []


async def test_a_description_with_line_breaks_and_accents_is_accepted(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = filing(description="Le colis n'est jamais arrivé.\r\n\tJ'ai écrit au vendeur.")
    response = await client.post("/v1/claims", json=body, headers=bearer("buyer"))
    assert response.status_code == 202, response.text
    assert len(publisher.published) == 1


async def test_a_carrier_with_a_newline_is_a_422_on_the_carrier(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post(
        "/v1/claims/clm-1/response",
        json={"order_id": "o-1", "response": {"action": "replacement_sent", "carrier": "ups\n",
              "tracking_id": "1Z999", "estimated_delivery": "2026-03-20T18:00:00Z"}},
        headers=bearer("seller"),
    )  # fmt: skip
    fields = _fields(response)
    assert "control characters are not allowed" in fields["body.response.replacement_sent.carrier"]
    assert publisher.published == []


@pytest.mark.parametrize("event_time", ["2026-03-12 09:00:00Z", "9999-12-31T23:59:59Z"])
async def test_an_event_time_not_in_form_or_range_is_a_422_on_its_header(
    client: httpx.AsyncClient, publisher: RecordingPublisher, event_time: str
) -> None:
    headers = bearer("service") | {"X-On-Behalf-Of": "buyer:buyer-0042", "X-Event-Time": event_time}
    response = await client.post("/v1/claims", json=filing(), headers=headers)
    assert "header.X-Event-Time" in _fields(response)
    assert publisher.published == []


async def test_an_amount_in_the_published_form_is_published_as_sent(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = filing(amount={"amount": "1000", "currency": "EUR"})
    response = await client.post("/v1/claims", json=body, headers=bearer("buyer"))
    assert response.status_code == 202, response.text
    (envelope,) = publisher.published
    assert '"amount":"1000"' in envelope.model_dump_json()
