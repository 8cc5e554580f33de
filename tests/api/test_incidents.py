"""Opening, listing and reading incidents, and recording who they are about."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import Exchanger, bearer
from tests.factories import at, incident_payload
from tests.problems import problem

NHS_NUMBER = "9000000009"


@pytest.fixture
async def officer(exchanger: Exchanger) -> str:
    return await exchanger.token("officer", "NSP", "street-triage")


async def test_open_incident_records_what_the_car_knows(
    exchanger: Exchanger, officer: str, connection: AsyncConnection
) -> None:
    payload = incident_payload(
        location={"latitude": 53.4808123, "longitude": -2.2426345},
        attendance_reason="other",
        attendance_reason_text="Welfare concern raised by a neighbour",
        triage_mode="phone",
        arrival_at=None,
    )
    response = await exchanger.client.post("/v1/incidents", json=payload, headers=bearer(officer))
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/v1/incidents/{body['id']}"
    assert body["organisation_code"] == "NSP"
    assert body["partner_trust_code"] == "RQI"
    assert body["status"] == "open"
    assert body["location"] == {"area_code": None, "latitude": 53.481, "longitude": -2.243}
    assert body["attendance_reason"] == "other"
    assert body["triage_mode"] == "phone"
    assert body["arrival_at"] is None
    event = await connection.scalar(
        text("SELECT action FROM audit_event WHERE incident_id = :id"),
        {"id": uuid.UUID(body["id"])},
    )
    assert event == "incident.open"


def _invalid(**changes: Any) -> dict[str, Any]:
    return incident_payload(**changes)


@pytest.mark.parametrize(
    ("payload", "location"),
    [
        (_invalid(arrival_at=at(60), time_of_call_at=at(30)), "body.arrival_at"),
        (
            _invalid(time_of_call_at=(datetime.now(UTC) + timedelta(hours=2)).isoformat()),
            "body.time_of_call_at",
        ),
        (_invalid(time_of_call_at="2026-11-21T02:00:00"), "body.time_of_call_at"),
        (
            _invalid(location={"area_code": "E01", "latitude": 53.1, "longitude": -2.1}),
            "body.location",
        ),
        (_invalid(location={"latitude": 53.1}), "body.location"),
        (_invalid(location={"latitude": 40.0, "longitude": -2.1}), "body.location.latitude"),
        (_invalid(location={"address": "1 High Street"}), "body.location.address"),
        (_invalid(attendance_reason="other"), "body"),
        (
            _invalid(attendance_reason="crime", attendance_reason_text="x"),
            "body.attendance_reason_text",
        ),
        (_invalid(triage_mode="carrier_pigeon"), "body.triage_mode"),
        (_invalid(cad_reference="lp 1"), "body.cad_reference"),
        (_invalid(status="closed"), "body.status"),
        (_invalid(organisation_code="SWP"), "body.organisation_code"),
        (_invalid(attendance_reason=None), "body.attendance_reason"),
    ],
)
async def test_invalid_incidents_are_refused_naming_the_field(
    exchanger: Exchanger, officer: str, payload: dict[str, Any], location: str
) -> None:
    response = await exchanger.client.post("/v1/incidents", json=payload, headers=bearer(officer))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    locations = [param["location"] for param in response.json()["invalid_params"]]
    assert location in locations
    assert "High Street" not in response.text


async def test_subjects_by_nhs_number_or_description(
    exchanger: Exchanger, officer: str, connection: AsyncConnection
) -> None:
    created = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(officer)
    )
    incident_id = created.json()["id"]
    bound = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    url = f"/v1/incidents/{incident_id}/subjects"

    identified = await exchanger.client.post(
        url, json={"nhs_number": NHS_NUMBER}, headers=bearer(bound)
    )
    assert identified.status_code == 201
    assert identified.json()["identified"] is True
    described = await exchanger.client.post(
        url, json={"description": "Second man, 20s, left before assessment"}, headers=bearer(bound)
    )
    assert described.status_code == 201
    again = await exchanger.client.post(url, json={"nhs_number": NHS_NUMBER}, headers=bearer(bound))
    assert again.status_code == 409

    listed = await exchanger.client.get(url, headers=bearer(bound))
    assert [s["nhs_number"] for s in listed.json()] == [NHS_NUMBER, None]

    # Stored once, however many incidents name the person; incidents refer to it by id.
    second = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(officer)
    )
    bound_second = await exchanger.token(
        "officer", "NSP", "street-triage", incident_id=second.json()["id"]
    )
    added = await exchanger.client.post(
        f"/v1/incidents/{second.json()['id']}/subjects",
        json={"nhs_number": NHS_NUMBER},
        headers=bearer(bound_second),
    )
    assert added.status_code == 201
    await connection.execute(text("RESET ROLE"))
    stored = await connection.scalar(
        text("SELECT count(*) FROM person WHERE nhs_number = :n"), {"n": NHS_NUMBER}
    )
    assert stored == 1
    subject_columns = await connection.scalar(
        text(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'incident_subject'"
            " AND column_name = 'nhs_number'"
        )
    )
    assert subject_columns == 0


@pytest.mark.parametrize(
    "body",
    [
        {"nhs_number": "9000000008"},  # fails Modulus 11
        {"nhs_number": "0000000000"},  # passes the arithmetic, belongs to no one
        {"nhs_number": "900000000"},
        {"nhs_number": NHS_NUMBER, "description": "Tall man in a red coat"},
        {},
    ],
)
async def test_invalid_subjects_are_refused_without_echo(
    exchanger: Exchanger, officer: str, body: dict[str, Any]
) -> None:
    created = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(officer)
    )
    bound = await exchanger.token(
        "officer", "NSP", "street-triage", incident_id=created.json()["id"]
    )
    response = await exchanger.client.post(
        f"/v1/incidents/{created.json()['id']}/subjects", json=body, headers=bearer(bound)
    )
    assert response.status_code == 422
    for value in body.values():
        assert value not in response.text


async def test_supervisors_cannot_list_people(exchanger: Exchanger, officer: str) -> None:
    created = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(officer)
    )
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    response = await exchanger.client.get(
        f"/v1/incidents/{created.json()['id']}/subjects", headers=bearer(supervisor)
    )
    assert response.status_code == 403


async def test_listing_pages_newest_call_first_with_filters(
    exchanger: Exchanger, officer: str
) -> None:
    marker = uuid.uuid4().hex[:6].upper()
    created: list[str] = []
    for minutes in (300, 240, 180, 120, 60):
        response = await exchanger.client.post(
            "/v1/incidents",
            json=incident_payload(
                cad_reference=f"LP-{marker}-{minutes}",
                time_of_call_at=at(minutes),
                arrival_at=at(minutes - 10),
            ),
            headers=bearer(officer),
        )
        created.append(response.json()["id"])
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    window = {"from": at(310), "to": at(50)}

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = window | {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (
            await exchanger.client.get("/v1/incidents", params=params, headers=bearer(supervisor))
        ).json()
        pages += 1
        seen += [
            item["id"] for item in page["items"] if item["cad_reference"].startswith(f"LP-{marker}")
        ]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    assert pages == 3

    narrowed = await exchanger.client.get(
        "/v1/incidents", params={"from": at(200), "to": at(100)}, headers=bearer(supervisor)
    )
    assert [
        i["id"] for i in narrowed.json()["items"] if i["cad_reference"].startswith(f"LP-{marker}")
    ] == [
        created[3],
        created[2],
    ]
    closed = await exchanger.client.get(
        "/v1/incidents", params=window | {"status": "closed"}, headers=bearer(supervisor)
    )
    assert not [i for i in closed.json()["items"] if i["cad_reference"].startswith(f"LP-{marker}")]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"status": "pending"},
        {"officer": "x"},
    ],
)
async def test_bad_listing_parameters_are_422(exchanger: Exchanger, params: dict[str, Any]) -> None:
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    response = await exchanger.client.get(
        "/v1/incidents", params=params, headers=bearer(supervisor)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_cursor_we_did_not_give_out_is_400(exchanger: Exchanger) -> None:
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    response = await exchanger.client.get(
        "/v1/incidents", params={"cursor": "not-a-cursor"}, headers=bearer(supervisor)
    )
    body = problem(response, 400, "invalid-cursor")
    assert "not-a-cursor" not in body["detail"]


async def test_unbound_officer_cannot_list_a_colleagues_incidents(
    exchanger: Exchanger, client: httpx.AsyncClient, officer: str
) -> None:
    response = await client.get(
        "/v1/incidents", params={"officer": str(uuid.uuid4())}, headers=bearer(officer)
    )
    assert response.status_code == 422


async def _incident_with_a_person(exchanger: Exchanger, officer: str) -> tuple[uuid.UUID, str]:
    """An incident about the person with NHS_NUMBER; its id and a token bound to it."""
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(officer)
    )
    incident_id = uuid.UUID(opened.json()["id"])
    bound = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    added = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"nhs_number": NHS_NUMBER},
        headers=bearer(bound),
    )
    assert added.status_code == 201
    return incident_id, bound


async def _events(connection: AsyncConnection, request_id: str) -> list[Any]:
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        text(
            "SELECT action, outcome, actor_user_id, actor_role, incident_id, person_id, details"
            " FROM audit_event WHERE request_id = :id"
        ),
        {"id": request_id},
    )
    return list(rows)


async def _person_id(connection: AsyncConnection) -> uuid.UUID:
    await connection.execute(text("RESET ROLE"))
    found = await connection.scalar(
        text("SELECT id FROM person WHERE nhs_number = :nhs"), {"nhs": NHS_NUMBER}
    )
    assert isinstance(found, uuid.UUID)
    return found


async def test_reading_an_incident_is_audited_naming_its_people(
    exchanger: Exchanger, officer: str, connection: AsyncConnection
) -> None:
    incident_id, bound = await _incident_with_a_person(exchanger, officer)
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    for token, role in ((bound, "officer"), (supervisor, "supervisor")):
        response = await exchanger.client.get(f"/v1/incidents/{incident_id}", headers=bearer(token))
        assert response.status_code == 200
        [event] = await _events(connection, response.headers["x-request-id"])
        assert (event.action, event.outcome, event.actor_role) == ("incident.read", "success", role)
        assert event.actor_user_id is not None
        assert event.incident_id == incident_id
        assert event.person_id == await _person_id(connection)


async def test_a_page_of_incidents_is_audited_once_with_the_ids_it_shows(
    exchanger: Exchanger, officer: str, connection: AsyncConnection
) -> None:
    first, _ = await _incident_with_a_person(exchanger, officer)
    second, _ = await _incident_with_a_person(exchanger, officer)
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    response = await exchanger.client.get(
        "/v1/incidents", params={"limit": 200}, headers=bearer(supervisor)
    )
    assert response.status_code == 200
    shown = {item["id"] for item in response.json()["items"]}
    assert {str(first), str(second)} <= shown
    [event] = await _events(connection, response.headers["x-request-id"])
    assert (event.action, event.outcome, event.actor_role) == (
        "incident.list",
        "success",
        "supervisor",
    )
    assert set(event.details["incident_ids"]) == shown
    # Both incidents are about the one person: named once, as the event's person.
    assert event.person_id == await _person_id(connection)
    assert NHS_NUMBER not in str(event.details)
