"""The incident's outcome: created once, replaced with If-Match, validated, closed, audited."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.audit_trail import incident_events
from tests.conftest import Committing, Exchanger, bearer
from tests.factories import at, incident_payload, outcome_payload
from tests.problems import problem, user_id

DETENTION: dict[str, Any] = {
    "codes": ["s136_detention"],
    "place_of_safety": "health_based_place_of_safety",
    "conveyance": "ambulance",
}


@dataclass
class Scene:
    client: httpx.AsyncClient
    incident_id: uuid.UUID
    officer: str
    nurse: str

    @property
    def incident_url(self) -> str:
        return f"/v1/incidents/{self.incident_id}"

    @property
    def url(self) -> str:
        return f"{self.incident_url}/outcome"

    async def put(
        self, payload: dict[str, Any], if_match: str | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = bearer(token or self.officer)
        if if_match is not None:
            headers["If-Match"] = if_match
        return await self.client.put(self.url, json=payload, headers=headers)

    async def get(self, token: str | None = None) -> httpx.Response:
        return await self.client.get(self.url, headers=bearer(token or self.officer))

    async def close(self, token: str | None = None) -> httpx.Response:
        return await self.client.post(
            f"{self.incident_url}/close", headers=bearer(token or self.officer)
        )


async def open_incident(exchanger: Exchanger, **overrides: Any) -> uuid.UUID:
    token = await exchanger.token("officer", "NSP", "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(**overrides), headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def make_scene(exchanger: Exchanger, **overrides: Any) -> Scene:
    incident_id = await open_incident(exchanger, **overrides)
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    nurse = await exchanger.token(
        "mh_practitioner", "RQI", "street-triage", incident_id=incident_id
    )
    return Scene(exchanger.client, incident_id, officer, nurse)


def same_instant(returned: str | None, sent: str) -> bool:
    assert returned is not None
    return datetime.fromisoformat(returned) == datetime.fromisoformat(sent)


async def outcome_events(
    connection: AsyncConnection, incident_id: uuid.UUID
) -> list[tuple[str, str | None, dict[str, Any]]]:
    return await incident_events(connection, incident_id, "outcome.")


# Recording and replacing


async def test_first_put_creates_the_outcome(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    payload = outcome_payload(referral_notes="Crisis team to call tomorrow morning.")
    created = await scene.put(payload)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    body = created.json()
    assert body["incident_id"] == str(scene.incident_id)
    assert body["codes"] == ["s136_considered_not_used", "referral_crisis_team"]
    assert body["place_of_safety"] is None
    assert body["conveyance"] is None
    assert body["referral_notes"] == "Crisis team to call tomorrow morning."
    assert same_instant(body["left_scene_at"], payload["left_scene_at"])
    assert same_instant(body["handover_at"], payload["handover_at"])
    assert body["revision"] == 1
    assert body["recorded_by"] == user_id(scene.officer)
    assert datetime.fromisoformat(body["recorded_at"]).tzinfo is not None

    read = await scene.get(scene.nurse)
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == body


async def test_if_match_on_the_first_put_is_412(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    refused = await scene.put(outcome_payload(), if_match='"1"')
    body = problem(refused, 412, "precondition-failed")
    assert (
        body["detail"] == "There is no version of this record yet; send no If-Match to create it."
    )
    problem(await scene.get(), 404, "outcome-not-found")


async def test_replacing_needs_the_current_etag(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    first = await scene.put(outcome_payload(referral_notes="Crisis team to call."))
    assert first.status_code == 201

    missing = await scene.put(outcome_payload())
    body = problem(missing, 428, "precondition-required")
    assert body["detail"] == "Send If-Match with the ETag of the version you are changing."

    # A weak tag never matches (RFC 9110 compares If-Match strongly).
    for stale in ('"0"', '"2"', 'W/"1"'):
        refused = await scene.put(outcome_payload(), if_match=stale, token=scene.nurse)
        problem(refused, 412, "precondition-failed")
        assert refused.headers["etag"] == '"1"', stale

    replacement = DETENTION | {"left_scene_at": at(3)}
    replaced = await scene.put(replacement, if_match='"1"', token=scene.nurse)
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == '"2"'
    body = replaced.json()
    assert body["revision"] == 2
    assert body["codes"] == ["s136_detention"]
    assert (body["place_of_safety"], body["conveyance"]) == (
        "health_based_place_of_safety",
        "ambulance",
    )
    # A PUT replaces the whole outcome: what it leaves out is cleared.
    assert body["referral_notes"] is None
    assert body["handover_at"] is None
    assert same_instant(body["left_scene_at"], replacement["left_scene_at"])
    assert body["recorded_by"] == user_id(scene.nurse)

    read = await scene.get()
    assert read.headers["etag"] == '"2"'
    assert read.json() == body
    problem(await scene.put(outcome_payload(), if_match='"1"'), 412, "precondition-failed")


async def test_time_a_little_ahead_is_accepted(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    created = await scene.put(outcome_payload(handover_at=at(-2)))
    assert created.status_code == 201, created.text


# Validation


def far_future() -> str:
    return (datetime.now(UTC) + timedelta(hours=2)).isoformat()


@pytest.mark.parametrize(
    ("payload", "location", "code"),
    [
        ({"codes": ["s136_detention"]}, "body", "value_error"),
        (
            {"codes": ["s136_detention"], "place_of_safety": "police_station"},
            "body",
            "value_error",
        ),
        ({"codes": ["advice_and_support"], "place_of_safety": "other"}, "body", "value_error"),
        ({"codes": ["advice_and_support"], "conveyance": "other"}, "body", "value_error"),
        (
            DETENTION | {"codes": ["s136_detention", "s136_considered_not_used"]},
            "body",
            "value_error",
        ),
        ({"codes": ["referral_gp", "referral_gp"]}, "body", "value_error"),
        ({"codes": ["referral_gp", "sectioned"]}, "body.codes.1", "enum"),
        ({"codes": []}, "body.codes", "too_short"),
        (
            {"codes": ["referral_gp"], "place_of_safety": "garden_shed"},
            "body.place_of_safety",
            "enum",
        ),
        (
            {"codes": ["referral_gp"], "nhs_number": "9000000009"},
            "body.nhs_number",
            "extra_forbidden",
        ),
        (
            {"codes": ["referral_gp"], "referral_notes": "x" * 1001},
            "body.referral_notes",
            "string_too_long",
        ),
    ],
)
async def test_inconsistent_outcome_is_422(
    exchanger: Exchanger, payload: dict[str, Any], location: str, code: str
) -> None:
    scene = await make_scene(exchanger)
    response = await scene.put(payload)
    body = problem(response, 422, "validation")
    assert body["detail"] == "One or more values are missing or invalid."
    assert [(p["location"], p["code"]) for p in body["invalid_params"]] == [(location, code)]
    for secret in ("9000000009", "sectioned", "garden_shed", "x" * 100):
        assert secret not in response.text
    problem(await scene.get(), 404, "outcome-not-found")


@pytest.mark.parametrize("field", ["left_scene_at", "handover_at"])
async def test_time_far_ahead_or_without_offset_is_422(exchanger: Exchanger, field: str) -> None:
    scene = await make_scene(exchanger)
    ahead = problem(await scene.put(outcome_payload(**{field: far_future()})), 422, "validation")
    assert [(p["location"], p["code"], p["message"]) for p in ahead["invalid_params"]] == [
        (f"body.{field}", "value_error", "Value error, is in the future")
    ]
    naive_time = at(5)[:19]
    naive = await scene.put(outcome_payload(**{field: naive_time}))
    body = problem(naive, 422, "validation")
    assert [(p["location"], p["code"], p["message"]) for p in body["invalid_params"]] == [
        (f"body.{field}", "value_error", "Value error, must include a time zone offset")
    ]
    assert naive_time not in naive.text
    problem(await scene.get(), 404, "outcome-not-found")


@pytest.mark.parametrize("field", ["left_scene_at", "handover_at"])
async def test_time_before_arrival_is_422(exchanger: Exchanger, field: str) -> None:
    scene = await make_scene(exchanger)  # called 50 minutes ago, arrived 35 minutes ago
    response = await scene.put(outcome_payload(**{field: at(40)}))
    body = problem(response, 422, "validation")
    assert body["detail"] == f"{field} is before the arrival time."
    assert "invalid_params" not in body
    problem(await scene.get(), 404, "outcome-not-found")
    # The arrival time itself is the earliest allowed.
    assert (await scene.put(outcome_payload(**{field: at(34)}))).status_code == 201


async def test_without_arrival_the_floor_is_the_time_of_call(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger, arrival_at=None, triage_mode="phone")
    response = await scene.put(outcome_payload(left_scene_at=at(55)))
    body = problem(response, 422, "validation")
    assert body["detail"] == "left_scene_at is before the time of call."
    assert (await scene.put(outcome_payload(left_scene_at=at(45)))).status_code == 201


# Who may read and write it


async def test_reading_before_any_outcome_is_404(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    body = problem(await scene.get(), 404, "outcome-not-found")
    assert "detail" not in body
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    problem(await scene.get(supervisor), 404, "outcome-not-found")


async def test_contributors_and_supervisors_of_named_organisations_read_it(
    exchanger: Exchanger,
) -> None:
    scene = await make_scene(exchanger)
    created = await scene.put(outcome_payload())
    assert created.status_code == 201
    for token in (scene.officer, scene.nurse):
        read = await scene.get(token)
        assert read.status_code == 200
        assert read.json() == created.json()
    for org in ("NSP", "RQI"):
        supervisor = await exchanger.token("supervisor", org, "supervision")
        read = await scene.get(supervisor)
        assert read.status_code == 200, org
        assert read.headers["etag"] == '"1"'
        assert read.json() == created.json()

    # A trust the incident does not name cannot tell it exists.
    stranger = await exchanger.token("supervisor", "Y05868", "supervision")
    body = problem(await scene.get(stranger), 404, "incident-not-found")
    assert "codes" not in body
    absent = await scene.client.get(
        f"/v1/incidents/{uuid.uuid4()}/outcome", headers=bearer(stranger)
    )
    assert absent.json() == {**body, "request_id": absent.headers["x-request-id"]}


async def test_token_bound_to_another_incident_is_refused(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.put(outcome_payload())).status_code == 201
    other = await make_scene(exchanger)
    problem(await scene.get(other.officer), 403, "forbidden")
    problem(await scene.put(outcome_payload(), if_match='"1"', token=other.nurse), 403, "forbidden")
    assert (await scene.get()).json()["revision"] == 1


async def test_supervisor_cannot_record_an_outcome(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    refused = await scene.put(outcome_payload(), token=supervisor)
    problem(refused, 403, "forbidden")
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="street-triage", error="insufficient_scope", scope="incident:write"'
    )
    problem(await scene.get(), 404, "outcome-not-found")


# Closing


async def test_closing_needs_an_outcome_and_freezes_it(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    missing = await scene.close()
    body = problem(missing, 409, "outcome-missing")
    assert body["type"].endswith("/outcome-missing")
    assert body["detail"] == "Record the outcome before closing the incident."
    still_open = await scene.client.get(scene.incident_url, headers=bearer(scene.officer))
    assert still_open.json()["status"] == "open"

    assert (await scene.put(outcome_payload())).status_code == 201
    closed = await scene.close(scene.nurse)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"

    problem(await scene.put(outcome_payload(), if_match='"1"'), 401, "unauthenticated")
    rebound = await exchanger.request(
        "officer", "NSP", "street-triage", incident_id=scene.incident_id
    )
    assert rebound.status_code == 200
    assert rebound.json()["scope"] == "incident:amend incident:read"
    token = rebound.json()["access_token"]
    for if_match in ('"1"', None):
        refused = await scene.put(DETENTION, if_match=if_match, token=token)
        problem(refused, 403, "forbidden")
        assert refused.headers["www-authenticate"] == (
            'Bearer realm="street-triage", error="insufficient_scope", scope="incident:write"'
        )
    read = await scene.get(token)
    assert read.status_code == 200
    assert (read.json()["revision"], read.json()["codes"]) == (
        1,
        ["s136_considered_not_used", "referral_crisis_team"],
    )


# Concurrency


@pytest.fixture
def committing_exchanger(committing: Committing) -> Exchanger:
    return committing.exchanger


async def test_sequential_writers_with_the_same_etag(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.put(outcome_payload())).status_code == 201
    first = await scene.put(DETENTION, if_match='"1"')
    second = await scene.put(outcome_payload(), if_match='"1"', token=scene.nurse)
    assert first.status_code == 200, first.text
    problem(second, 412, "precondition-failed")
    assert second.headers["etag"] == '"2"'
    assert (await scene.get()).json()["codes"] == ["s136_detention"]


async def test_concurrent_writers_exactly_one_wins(committing_exchanger: Exchanger) -> None:
    scene = await make_scene(committing_exchanger)
    # Two first recordings at once: one creates, the other finds it and must name its version.
    created = await asyncio.gather(
        scene.put(outcome_payload()), scene.put(DETENTION, token=scene.nurse)
    )
    assert sorted(r.status_code for r in created) == [201, 428], [r.text for r in created]

    replaced = await asyncio.gather(
        *(scene.put(outcome_payload(referral_notes=f"Note {n}"), if_match='"1"') for n in range(6))
    )
    assert sorted(r.status_code for r in replaced) == [200] + [412] * 5, [r.text for r in replaced]
    (winner,) = (r for r in replaced if r.status_code == 200)
    for loser in replaced:
        if loser is not winner:
            problem(loser, 412, "precondition-failed")
            assert loser.headers["etag"] == '"2"'
    read = await scene.get()
    assert read.json() == winner.json()
    assert read.json()["revision"] == 2


# Audit


async def test_writes_and_reads_are_audited(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.get()).status_code == 404  # nothing read, nothing audited
    assert (await scene.put(outcome_payload())).status_code == 201
    assert (await scene.put(outcome_payload())).status_code == 428
    assert (await scene.get(scene.nurse)).status_code == 200
    assert (await scene.put(DETENTION, if_match='"1"', token=scene.nurse)).status_code == 200
    supervisor = await exchanger.token("supervisor", "RQI", "supervision")
    assert (await scene.get(supervisor)).status_code == 200

    assert await outcome_events(connection, scene.incident_id) == [
        ("outcome.write", "officer", {"revision": 1}),
        ("outcome.read", "mh_practitioner", {}),
        ("outcome.write", "mh_practitioner", {"revision": 2}),
        ("outcome.read", "supervisor", {}),
    ]


async def test_if_match_star_replaces_whatever_version_exists(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.put(outcome_payload(), if_match="*")).status_code == 412  # none exists yet
    assert (await scene.put(outcome_payload())).status_code == 201
    replaced = await scene.put(outcome_payload(referral_notes="Crisis team to call."), if_match="*")
    assert replaced.status_code == 200
    assert replaced.headers["etag"] == '"2"'
