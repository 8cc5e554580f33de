"""API3:2023 Broken Object Property Level Authorization.

Excessive data exposure: each role's answer is a projection of its own. An officer's crisis flag
has exactly the officer's keys and no clinical word; a practitioner's adds only the clinical part
and the document pointers. A supervisor, sweeping every route of the app with real ids, never sees
clinical content (assessment text, a plan's clinical section), nor the free text officers write
(the attendance reason's text, the outcome's referral notes).

Mass assignment: bodies that try to set what only the server sets (ids, organisation, revision,
status, author and recorder, signatures, review and audit fields such as `actor_*`) are refused
with 422 naming the field (the input models forbid unknown keys) and nothing is stored; where a
route takes no body, a body sent anyway is ignored and the stored row carries the server's values.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt as jose_jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from tests import lookups
from tests.api.test_lookup import OFFICER_KEYS, PLAN_KEYS
from tests.conftest import Exchanger, bearer
from tests.factories import (
    assessment_content,
    crisis_plan_payload,
    incident_payload,
    outcome_payload,
)
from tests.lookups import look_up, with_faked_partners
from tests.owasp.routes import protected_routes
from tests.partners import FakePartners
from tests.problems import problem, user_id

partners = lookups.partners
partner_transport = lookups.partner_transport

KNOWN_TO_RQI = "9000000009"
PRACTITIONER_KEYS = OFFICER_KEYS | {"documents"}
# What the faked RQI trust holds in the plan's clinical part.
RQI_CLINICAL = ("Anniversary of his brother's death", "Informal patient")

CLINICAL = "CLINICAL-MARKER"
ATTENDANCE_TEXT = "FREE-TEXT-ATTENDANCE-MARKER"
REFERRAL_NOTES = "FREE-TEXT-REFERRAL-MARKER"
PLACEHOLDER_USER = "00000000-0000-4000-8000-000000000001"
PAST = "2001-01-01T00:00:00+00:00"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def superuser(connection: AsyncConnection) -> AsyncConnection:
    """The test's connection as the connecting superuser, whatever role a request left it in."""
    await connection.execute(text("RESET ROLE"))
    return connection


# --- excessive data exposure ---------------------------------------------------------------------


async def test_officer_and_practitioner_answers_are_their_roles_projections(
    exchanger: Exchanger,
) -> None:
    opener = await exchanger.token("officer", "NSP", "street-triage")
    opened = ok(
        await exchanger.client.post(
            "/v1/incidents", json=incident_payload(), headers=bearer(opener)
        ),
        201,
    )
    incident_id = uuid.UUID(opened["id"])
    officer = await look_up(exchanger, incident_id, {"nhs_number": KNOWN_TO_RQI})
    answer = ok(officer)
    assert set(answer) == OFFICER_KEYS
    assert set(answer["person"]) == {
        "identification",
        "demographics_restricted",
        "nhs_number",
        "nhs_number_asked",
        "number_changed",
        "check",
    }
    [plan] = answer["plans"]
    assert set(plan) == PLAN_KEYS
    assert set(plan["crisis_contact"]) == {
        "team",
        "phone",
        "hours",
        "out_of_hours",
        "schedule",
        "out_of_hours_phone",
        "call_now",
    }
    assert set(plan["custodian"]) == {"organisation_code", "name"}
    assert all(
        set(source) == {"name", "kind", "status", "latency_ms", "under"}
        for source in answer["sources"]
    )
    for word in (*RQI_CLINICAL, "clinical", "documents", "triggers", "mha_status", "url"):
        assert word not in officer.text

    practitioner = ok(
        await look_up(
            exchanger, incident_id, {"nhs_number": KNOWN_TO_RQI}, "mh_practitioner", "RQI"
        )
    )
    assert set(practitioner) == PRACTITIONER_KEYS
    [practitioner_plan] = practitioner["plans"]
    assert set(practitioner_plan) == PLAN_KEYS | {"clinical"}
    assert practitioner_plan["clinical"]["triggers"] == RQI_CLINICAL[0]
    # Same facts as the officer's, plus the clinical part: nothing else differs.
    assert (answer["view"], practitioner["view"]) == ("officer", "practitioner")
    shared = OFFICER_KEYS - {"view", "lookup_id", "looked_up_at", "sources", "plans"}
    assert {key: practitioner[key] for key in shared} == {key: answer[key] for key in shared}
    police_part = {key: practitioner_plan[key] for key in PLAN_KEYS if key != "crisis_contact"}
    assert police_part == {key: plan[key] for key in PLAN_KEYS if key != "crisis_contact"}


@dataclass(frozen=True)
class MarkedScene:
    incident_id: uuid.UUID
    subject_id: uuid.UUID
    plan_id: uuid.UUID


async def marked_scene(exchanger: Exchanger) -> MarkedScene:
    """An incident whose every free text and clinical text holds a marker: the attendance reason's
    text, the assessment, the outcome's referral notes, and the person's crisis plan here."""
    client = exchanger.client
    nurse = bearer(await exchanger.token("mh_practitioner", "RQI", "crisis-planning"))
    plan = crisis_plan_payload(nhs_number=KNOWN_TO_RQI)
    for name in ("triggers", "early_signs", "what_helps", "mha_status", "access_notes"):
        plan["clinical"][name] = f"{CLINICAL}-{name}"
    plan_id = ok(await client.post("/v1/crisis-plans", json=plan, headers=nurse), 201)["id"]

    opener = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    payload = incident_payload(attendance_reason="other", attendance_reason_text=ATTENDANCE_TEXT)
    incident_id = uuid.UUID(
        ok(await client.post("/v1/incidents", json=payload, headers=opener), 201)["id"]
    )
    incident = f"/v1/incidents/{incident_id}"
    officer = bearer(
        await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    )
    subject = ok(
        await client.post(
            f"{incident}/subjects", json={"nhs_number": KNOWN_TO_RQI}, headers=officer
        ),
        201,
    )
    content = assessment_content(
        presenting_situation=f"{CLINICAL}-presenting",
        decision=f"{CLINICAL}-decision",
        decision_rationale=f"{CLINICAL}-rationale",
    )
    ok(
        await client.post(
            f"{incident}/subjects/{subject['id']}/assessment",
            json={"content": content},
            headers=officer,
        ),
        201,
    )
    ok(
        await client.put(
            f"{incident}/outcome",
            json=outcome_payload(referral_notes=REFERRAL_NOTES),
            headers=officer,
        ),
        201,
    )
    ok(await look_up(exchanger, incident_id, {"nhs_number": KNOWN_TO_RQI}))
    return MarkedScene(incident_id, uuid.UUID(subject["id"]), uuid.UUID(plan_id))


async def supervisor_sweep(app: FastAPI, exchanger: Exchanger) -> list[tuple[str, httpx.Response]]:
    """Supervisors of the force and of the named trust call every protected route with the
    scene's real ids, and read the incident, its outcome and the listing they may read."""
    scene = await marked_scene(exchanger)
    ids = {
        "incident_id": scene.incident_id,
        "subject_id": scene.subject_id,
        "plan_id": scene.plan_id,
    }
    answers = []
    for org in ("NSP", "RQI"):
        token = await exchanger.token("supervisor", org, "supervision")
        for route in protected_routes(app):
            response = await exchanger.client.request(
                route.method,
                route.url(**ids),
                json={} if route.has_body else None,
                headers=bearer(token),
                params={"from": "2020-01-01", "to": "2030-01-01"},
            )
            answers.append((f"{org} {route} -> {response.status_code}", response))
    readable = [label for label, response in answers if response.status_code == 200]
    assert any("GET /v1/incidents/{incident_id} " in label for label in readable)
    assert any("GET /v1/incidents/{incident_id}/outcome" in label for label in readable)
    return answers


def showing(answers: list[tuple[str, httpx.Response]], *words: str) -> list[str]:
    return [label for label, response in answers if any(word in response.text for word in words)]


async def test_a_supervisor_sees_no_clinical_content_through_any_route(
    app: FastAPI, exchanger: Exchanger
) -> None:
    answers = await supervisor_sweep(app, exchanger)
    assert showing(answers, CLINICAL, *RQI_CLINICAL, "presenting_situation", "clinical") == []


async def test_a_supervisor_never_reads_the_outcomes_referral_notes(
    app: FastAPI, exchanger: Exchanger
) -> None:
    answers = await supervisor_sweep(app, exchanger)
    assert showing(answers, REFERRAL_NOTES) == []


async def test_a_supervisor_never_reads_the_attendance_reasons_free_text(
    app: FastAPI, exchanger: Exchanger
) -> None:
    answers = await supervisor_sweep(app, exchanger)
    assert showing(answers, ATTENDANCE_TEXT) == []


# --- mass assignment -----------------------------------------------------------------------------


def refused_extra(response: httpx.Response, field: str) -> None:
    """422 naming the field as one the body may not carry."""
    body = problem(response, 422, "validation")
    located = {(param["location"], param["code"]) for param in body["invalid_params"]}
    assert (f"body.{field}", "extra_forbidden") in located, body


@dataclass(frozen=True)
class Scene:
    client: httpx.AsyncClient
    incident_id: uuid.UUID
    officer: str
    nurse: str

    @property
    def url(self) -> str:
        return f"/v1/incidents/{self.incident_id}"


async def make_scene(exchanger: Exchanger) -> Scene:
    opener = await exchanger.token("officer", "NSP", "street-triage")
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(opener)
    )
    incident_id = uuid.UUID(ok(opened, 201)["id"])
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    nurse = await exchanger.token(
        "mh_practitioner", "RQI", "street-triage", incident_id=incident_id
    )
    return Scene(exchanger.client, incident_id, officer, nurse)


async def add_subject(scene: Scene) -> str:
    added = await scene.client.post(
        f"{scene.url}/subjects", json={"description": "Man, 30s"}, headers=bearer(scene.officer)
    )
    subject_id: str = ok(added, 201)["id"]
    return subject_id


INCIDENT_SERVER_FIELDS: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "organisation_code": "RQI",
    "status": "closed",
    "opened_by": PLACEHOLDER_USER,
    "opened_at": PAST,
    "closed_at": PAST,
    "actor_user_id": PLACEHOLDER_USER,
    "actor_organisation_code": "RQI",
}


@pytest.mark.parametrize(("field", "value"), list(INCIDENT_SERVER_FIELDS.items()))
async def test_opening_an_incident_refuses_server_set_fields(
    exchanger: Exchanger, connection: AsyncConnection, field: str, value: Any
) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    body = incident_payload(cad_reference="MASS-ASSIGN-0001") | {field: value}
    response = await exchanger.client.post("/v1/incidents", json=body, headers=bearer(token))
    refused_extra(response, field)
    stored = await (await superuser(connection)).scalar(
        text("SELECT count(*) FROM incident WHERE cad_reference = 'MASS-ASSIGN-0001'")
    )
    assert stored == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", str(uuid.uuid4())),
        ("person_id", str(uuid.uuid4())),
        ("added_by", PLACEHOLDER_USER),
        ("incident_id", str(uuid.uuid4())),
    ],
)
async def test_adding_a_subject_refuses_server_set_fields(
    exchanger: Exchanger, connection: AsyncConnection, field: str, value: Any
) -> None:
    scene = await make_scene(exchanger)
    response = await scene.client.post(
        f"{scene.url}/subjects",
        json={"description": "Woman, 40s", field: value},
        headers=bearer(scene.officer),
    )
    refused_extra(response, field)
    stored = await (await superuser(connection)).scalar(
        text("SELECT count(*) FROM incident_subject WHERE incident_id = :id"),
        {"id": scene.incident_id},
    )
    assert stored == 0


ASSESSMENT_SERVER_FIELDS: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "revision": 7,
    "status": "locked",
    "locked_at": PAST,
    "signatures": [{"role": "mh_practitioner", "revision": 1, "signed_at": PAST}],
    "contributors": [],
    "author_id": PLACEHOLDER_USER,
}


@pytest.mark.parametrize(("field", "value"), list(ASSESSMENT_SERVER_FIELDS.items()))
async def test_starting_and_changing_an_assessment_refuse_server_set_fields(
    exchanger: Exchanger, connection: AsyncConnection, field: str, value: Any
) -> None:
    scene = await make_scene(exchanger)
    url = f"{scene.url}/subjects/{await add_subject(scene)}/assessment"
    body = {"content": assessment_content(), field: value}
    refused_extra(await scene.client.post(url, json=body, headers=bearer(scene.officer)), field)
    db = await superuser(connection)
    assert await db.scalar(text("SELECT count(*) FROM assessment")) == 0

    ok(
        await scene.client.post(
            url, json={"content": assessment_content()}, headers=bearer(scene.officer)
        ),
        201,
    )
    changed = await scene.client.put(
        url, json=body, headers=bearer(scene.officer) | {"If-Match": '"1"'}
    )
    refused_extra(changed, field)
    stored = (
        await (await superuser(connection)).execute(
            text("SELECT revision, status, locked_at FROM assessment")
        )
    ).one()
    assert tuple(stored) == (1, "draft", None)


async def test_a_signature_body_is_ignored_the_signer_is_the_token_holder(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """Signing takes no body: a body claiming the other role, another signer and revision is
    ignored, and the one signature stored is the officer's own, of revision 1."""
    scene = await make_scene(exchanger)
    url = f"{scene.url}/subjects/{await add_subject(scene)}/assessment"
    ok(
        await scene.client.post(
            url, json={"content": assessment_content()}, headers=bearer(scene.officer)
        ),
        201,
    )
    claimed = {
        "role": "mh_practitioner",
        "signer_id": user_id(scene.nurse),
        "revision": 9,
        "status": "locked",
    }
    signed = await scene.client.post(
        f"{url}/signatures", json=claimed, headers=bearer(scene.officer) | {"If-Match": '"1"'}
    )
    answer = ok(signed)
    assert answer["status"] == "draft"
    assert [(s["role"], s["revision"], s["signer"]["user_id"]) for s in answer["signatures"]] == [
        ("officer", 1, user_id(scene.officer))
    ]
    rows = (
        await (await superuser(connection)).execute(
            text(
                "SELECT role, revision, signer_id::text, organisation_code FROM assessment_signature"
            )
        )
    ).all()
    assert [tuple(row) for row in rows] == [("officer", 1, user_id(scene.officer), "NSP")]


OUTCOME_SERVER_FIELDS: dict[str, Any] = {
    "incident_id": str(uuid.uuid4()),
    "revision": 5,
    "recorded_by": PLACEHOLDER_USER,
    "recorded_at": PAST,
    "actor_role": "supervisor",
}


@pytest.mark.parametrize(("field", "value"), list(OUTCOME_SERVER_FIELDS.items()))
async def test_recording_an_outcome_refuses_server_set_fields(
    exchanger: Exchanger, connection: AsyncConnection, field: str, value: Any
) -> None:
    scene = await make_scene(exchanger)
    response = await scene.client.put(
        f"{scene.url}/outcome",
        json=outcome_payload() | {field: value},
        headers=bearer(scene.officer),
    )
    refused_extra(response, field)
    stored = await (await superuser(connection)).scalar(
        text("SELECT count(*) FROM incident_outcome WHERE incident_id = :id"),
        {"id": scene.incident_id},
    )
    assert stored == 0


async def test_a_close_body_is_ignored_the_server_sets_status_and_time(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    scene = await make_scene(exchanger)
    ok(
        await scene.client.put(
            f"{scene.url}/outcome", json=outcome_payload(), headers=bearer(scene.officer)
        ),
        201,
    )
    before = datetime.now(UTC)
    closed = await scene.client.post(
        f"{scene.url}/close",
        json={"status": "open", "closed_at": PAST, "organisation_code": "RQI"},
        headers=bearer(scene.officer),
    )
    assert ok(closed)["status"] == "closed"
    row = (
        await (await superuser(connection)).execute(
            text("SELECT status, closed_at, organisation_code FROM incident WHERE id = :id"),
            {"id": scene.incident_id},
        )
    ).one()
    assert row.status == "closed"
    assert row.closed_at >= before - timedelta(seconds=5)
    assert row.organisation_code == "NSP"


LOOKUP_SERVER_FIELDS: dict[str, Any] = {
    "organisation_code": "RQI",
    "user_id": PLACEHOLDER_USER,
    "actor_role": "mh_practitioner",
    "actor_organisation_code": "RQI",
    "purpose": "break-glass",
    "incident_id": str(uuid.uuid4()),
    "known_to_services": "no",
}


@pytest.mark.parametrize(("field", "value"), list(LOOKUP_SERVER_FIELDS.items()))
async def test_a_lookup_refuses_server_set_fields_and_asks_no_one(
    exchanger: Exchanger,
    connection: AsyncConnection,
    partners: FakePartners,
    field: str,
    value: Any,
) -> None:
    scene = await make_scene(exchanger)
    response = await scene.client.post(
        f"{scene.url}/flag-lookups",
        json={"nhs_number": KNOWN_TO_RQI, field: value},
        headers=bearer(scene.officer),
    )
    refused_extra(response, field)
    assert partners.requests == []
    db = await superuser(connection)
    assert await db.scalar(text("SELECT count(*) FROM flag_lookup")) == 0
    assert await db.scalar(text("SELECT count(*) FROM access_notification")) == 0


PLAN_SERVER_FIELDS: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "organisation_code": "Y05868",
    "status": "withdrawn",
    "revision": 4,
    "created_by": PLACEHOLDER_USER,
    "updated_by_name": "Someone else",
    "created_at": PAST,
    "withdrawn_at": PAST,
}


@pytest.mark.parametrize(("field", "value"), list(PLAN_SERVER_FIELDS.items()))
async def test_writing_a_crisis_plan_refuses_server_set_fields(
    exchanger: Exchanger, connection: AsyncConnection, field: str, value: Any
) -> None:
    client = exchanger.client
    nurse = await exchanger.token("mh_practitioner", "RQI", "crisis-planning")
    payload = crisis_plan_payload()
    refused_extra(
        await client.post("/v1/crisis-plans", json=payload | {field: value}, headers=bearer(nurse)),
        field,
    )
    db = await superuser(connection)
    assert await db.scalar(text("SELECT count(*) FROM crisis_plan")) == 0

    plan_id = ok(await client.post("/v1/crisis-plans", json=payload, headers=bearer(nurse)), 201)[
        "id"
    ]
    replacement = {key: value for key, value in payload.items() if key != "nhs_number"}
    replaced = await client.put(
        f"/v1/crisis-plans/{plan_id}",
        json=replacement | {field: value},
        headers=bearer(nurse) | {"If-Match": '"1"'},
    )
    refused_extra(replaced, field)
    withdrawn = await client.post(
        f"/v1/crisis-plans/{plan_id}/withdraw",
        json={"reason": "Moved away.", field: value},
        headers=bearer(nurse) | {"If-Match": '"1"'},
    )
    refused_extra(withdrawn, field)
    row = (
        await (await superuser(connection)).execute(
            text(
                "SELECT revision, status, organisation_code, created_by::text, updated_by_name"
                " FROM crisis_plan WHERE id = :id"
            ),
            {"id": plan_id},
        )
    ).one()
    assert tuple(row) == (1, "active", "RQI", user_id(nurse), "Test mh_practitioner of RQI")


async def test_marking_a_notification_read_ignores_a_body(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    scene = await make_scene(exchanger)
    ok(await look_up(exchanger, scene.incident_id, {"nhs_number": KNOWN_TO_RQI}))
    nurse = bearer(await exchanger.token("mh_practitioner", "RQI", "crisis-planning"))
    notification = ok(await exchanger.client.get("/v1/notifications", headers=nurse))["items"][0]
    before = datetime.now(UTC)
    marked = await exchanger.client.post(
        f"/v1/notifications/{notification['id']}/read",
        json={"read_at": PAST, "organisation_code": "Y05868", "break_glass": True},
        headers=nurse,
    )
    ok(marked)
    row = (
        await (await superuser(connection)).execute(
            text("SELECT read_at, organisation_code, break_glass FROM access_notification")
        )
    ).one()
    assert row.read_at >= before - timedelta(seconds=5)
    assert (row.organisation_code, row.break_glass) == ("RQI", False)


REVIEW_SERVER_FIELDS: dict[str, Any] = {
    "reviewed_by": PLACEHOLDER_USER,
    "reviewer_name": "Someone else",
    "reviewed_at": PAST,
    "organisation_code": "NSP",
    "token_jti": str(uuid.uuid4()),
    "actor_user_id": PLACEHOLDER_USER,
}


@pytest.mark.parametrize(("field", "value"), list(REVIEW_SERVER_FIELDS.items()))
async def test_completing_a_break_glass_review_refuses_server_set_fields(
    exchanger: Exchanger, connection: AsyncConnection, field: str, value: Any
) -> None:
    scene = await make_scene(exchanger)
    await exchanger.token(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=scene.incident_id,
        justification="Man on the railway bridge; plan held by another trust",
    )
    ig = bearer(await exchanger.token("ig_officer", "RQI", "audit"))
    review = ok(await exchanger.client.get("/v1/break-glass-reviews", headers=ig))["items"][0]
    body = {"conclusion": "justified", "finding": "Needed at the scene.", field: value}
    response = await exchanger.client.post(
        f"/v1/break-glass-reviews/{review['id']}", json=body, headers=ig
    )
    refused_extra(response, field)
    row = (
        await (await superuser(connection)).execute(
            text("SELECT status, reviewed_by, conclusion FROM break_glass_review")
        )
    ).one()
    assert tuple(row) == ("pending", None, None)


async def test_a_subject_access_request_cannot_name_another_organisation(
    exchanger: Exchanger,
) -> None:
    ig = await exchanger.token("ig_officer", "NSP", "audit")
    response = await exchanger.client.post(
        "/v1/subject-access-reports",
        json={"nhs_number": KNOWN_TO_RQI, "organisation_code": "RQI"},
        headers=bearer(ig),
    )
    refused_extra(response, "organisation_code")


async def test_a_token_exchange_ignores_claims_offered_in_the_form(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """Role, organisation, subject and incident come from the identity token and the request's
    own fields only; form fields named like claims change nothing, and `role` only chooses among
    the roles the identity token gives."""
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": exchanger.idp.token("officer", "NSP"),
        "subject_token_type": JWT_TOKEN_TYPE,
        "purpose": "street-triage",
        "org": "RQI",
        "sub": PLACEHOLDER_USER,
        "incident": str(uuid.uuid4()),
        "act": "admin",
    }
    response = await exchanger.client.post("/v1/token", data=form)
    token = ok(response)["access_token"]
    claims = jose_jwt.get_unverified_claims(token)
    assert (claims["role"], claims["org"], claims["scope"]) == ("officer", "NSP", "incident:open")
    assert "incident" not in claims
    assert claims["sub"] != PLACEHOLDER_USER
    row = (
        await (await superuser(connection)).execute(
            text("SELECT role, organisation_code, incident_id FROM issued_token WHERE jti = :jti"),
            {"jti": claims["jti"]},
        )
    ).one()
    assert tuple(row) == ("officer", "NSP", None)
    asking = form | {"subject_token": exchanger.idp.token("officer", "NSP"), "role": "ig_officer"}
    refused = await exchanger.client.post("/v1/token", data=asking)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
