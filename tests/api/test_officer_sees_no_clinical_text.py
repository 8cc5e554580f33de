"""An officer never reads a crisis plan's clinical section, through any route of the app.

A nurse writes plans whose every clinical field holds a marker. An officer works a whole scene with
those people, then calls every route the officer's tokens could reach, with the scene's real ids
(also of things the officer may not see). No answer may carry a marker or a clinical field's name.
The table of calls must cover every route: a new route fails here until someone adds it, and so
decides what an officer gets from it.
"""

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from api.settings import Settings
from tests import lookups
from tests.api.test_crisis_plans import written
from tests.conftest import Exchanger, bearer
from tests.factories import (
    assessment_content,
    crisis_plan_payload,
    incident_payload,
    nhs_number,
    outcome_payload,
)
from tests.lookups import look_up, scene, with_faked_partners

partners = lookups.partners
partner_transport = lookups.partner_transport

KNOWN_TO_RQI = "9000000009"  # the faked RQI trust holds a plan for him too
KNOWN_ONLY_HERE = "9000000033"  # in PDS, held by no partner: only the plan written here
PEOPLE = (KNOWN_TO_RQI, KNOWN_ONLY_HERE)

CLINICAL_TEXT_FIELDS = (
    "triggers",
    "early_signs",
    "what_helps",
    "what_to_avoid",
    "mha_status",
    "care_coordinator",
    "dependants",
    "access_notes",
    "safeguarding",
)
MARKER = "CLINICAL-MARKER"
MARKERS = (
    *(f"{MARKER}-{name}" for name in CLINICAL_TEXT_FIELDS),
    f"{MARKER}-information_sharing",
    f"{MARKER}-actions-when",
    f"{MARKER}-actions-action",
)
# `actions` is left out: the word is too common to mean the plan's section; its text is marked.
CLINICAL_NAMES = (*CLINICAL_TEXT_FIELDS, "information_sharing", "clinical")
POLICE_ADVICE = "POLICE-VISIBLE-advice"

# Public routes: they carry no personal data and take no bearer token, so an officer's token
# changes nothing there. The agreement names the data class `crisis_plan_clinical` on purpose.
PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/v1/agreement"),
    ("POST", "/v1/token"),
    ("POST", "/v1/token/revoke"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/dashboard"),  # a page without data: the report it draws is called with a token
    # Browser sign-in: they take a session cookie, not a bearer token, and carry no health data.
    ("GET", "/auth/providers"),
    ("GET", "/auth/login"),
    ("GET", "/auth/callback"),
    ("GET", "/auth/session"),
    ("POST", "/auth/session/token"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/jwks.json"),
    # The audit log's checkpoint, its key and consistency proofs: hashes, no personal data.
    ("GET", "/v1/audit/checkpoint"),
    ("GET", "/v1/audit/checkpoint/key"),
    ("GET", "/v1/audit/consistency"),
    # The tablet app and the agreement page, and the documentation: pages without data.
    ("GET", "/app"),
    ("GET", "/app/{file_name}"),
    ("GET", "/agreement"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/docs/assets/{name}"),
    ("GET", "/redoc"),
}

INCIDENT = "/v1/incidents/{incident_id}"
ASSESSMENT = f"{INCIDENT}/subjects/{{subject_id}}/assessment"
PLANS = "/v1/crisis-plans"
PLAN = f"{PLANS}/{{plan_id}}"
CLOSE = ("POST", f"{INCIDENT}/close")


@dataclass(frozen=True)
class Call:
    """One call of a route: its template, filled with the scene's ids, and a valid body."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    if_match: str | None = None

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path


# Every protected route, in an order that leaves something to read: reads, then writes, and the
# close last, since it ends the incident and revokes the tokens bound to it.
CALLS = (
    Call("GET", "/v1/incidents"),
    Call("POST", "/v1/incidents", incident_payload()),
    Call("GET", INCIDENT),
    Call("GET", f"{INCIDENT}/subjects"),
    Call("POST", f"{INCIDENT}/subjects", {"description": "Woman with him, red scarf"}),
    Call("GET", ASSESSMENT),
    Call("GET", f"{ASSESSMENT}/revisions"),
    Call("POST", ASSESSMENT, {"content": assessment_content()}),
    Call("POST", f"{ASSESSMENT}/signatures", if_match='"1"'),
    Call("PUT", ASSESSMENT, {"content": assessment_content()}, if_match='"1"'),
    Call("GET", f"{INCIDENT}/outcome"),
    Call("PUT", f"{INCIDENT}/outcome", outcome_payload(), if_match='"1"'),
    Call("POST", f"{INCIDENT}/flag-lookups", {"nhs_number": KNOWN_TO_RQI}),
    Call("GET", "/v1/notifications"),
    Call("POST", "/v1/notifications/{notification_id}/read"),
    Call("GET", PLANS),
    Call("POST", PLANS, crisis_plan_payload(nhs_number=nhs_number(123456789))),
    Call("POST", f"{PLANS}/_search", {"nhs_number": KNOWN_TO_RQI}),
    Call("GET", PLAN),
    Call("GET", f"{PLAN}/versions"),
    Call("GET", f"{PLAN}/access-history"),
    Call("PUT", PLAN, written(crisis_plan_payload()), if_match='"1"'),
    Call("POST", f"{PLAN}/withdraw", {"reason": "Moved out of the area."}, if_match='"1"'),
    Call("GET", "/v1/audit-events"),
    Call("GET", "/v1/audit-events/{event_id}/proof"),
    Call("POST", "/v1/subject-access-reports", {"nhs_number": KNOWN_TO_RQI}),
    Call("GET", "/v1/break-glass-reviews"),
    Call(
        "POST",
        "/v1/break-glass-reviews/{review_id}",
        {"conclusion": "justified", "finding": "Plan needed at the scene."},
    ),
    Call("GET", "/v1/crisis-plan-relationship-reviews"),
    Call(
        "POST",
        "/v1/crisis-plan-relationship-reviews/{review_id}",
        {"conclusion": "confirmed", "finding": "Care coordinator confirmed with the team."},
    ),
    Call("GET", "/v1/reports/outcomes"),
    Call(*CLOSE),
)
# What a token bound to the open incident must read, so the sweep is not all refusals.
BOUND_READS = {
    ("GET", INCIDENT),
    ("GET", f"{INCIDENT}/subjects"),
    ("GET", ASSESSMENT),
    ("GET", f"{ASSESSMENT}/revisions"),
    ("GET", f"{INCIDENT}/outcome"),
    ("POST", f"{INCIDENT}/flag-lookups"),
    CLOSE,
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


@dataclass
class Answer:
    """One response the officer got, the call it answered, and with which token (`label`)."""

    label: str
    call: Call
    response: httpx.Response

    def forbidden_words(self) -> list[str]:
        headers = "\n".join(f"{name}: {value}" for name, value in self.response.headers.items())
        seen = f"{headers}\n{self.response.text}"
        return [word for word in (*MARKERS, *CLINICAL_NAMES) if word in seen]


@dataclass
class Scene:
    incident_id: uuid.UUID
    subject_id: uuid.UUID
    plan_id: uuid.UUID
    notification_id: uuid.UUID
    lookups: dict[str, httpx.Response]
    answers: list[Answer] = field(default_factory=list)

    @property
    def ids(self) -> dict[str, uuid.UUID]:
        return {
            "incident_id": self.incident_id,
            "subject_id": self.subject_id,
            "plan_id": self.plan_id,
            "notification_id": self.notification_id,
            # No break-glass happened: the officer is refused before any review is looked up.
            "review_id": uuid.UUID(int=0),
            "event_id": uuid.UUID(int=0),
        }


def marked_plan(nhs: str) -> dict[str, Any]:
    """A complete plan whose every clinical text is a marker, and whose approach advice is not."""
    payload = crisis_plan_payload(nhs_number=nhs)
    clinical: dict[str, Any] = {name: f"{MARKER}-{name}" for name in CLINICAL_TEXT_FIELDS}
    clinical["information_sharing"] = {
        "consent": "refused",
        "reason_without_consent": f"{MARKER}-information_sharing",
    }
    clinical["actions"] = [{"when": f"{MARKER}-actions-when", "action": f"{MARKER}-actions-action"}]
    payload["clinical"] = clinical
    payload["police"] = payload["police"] | {"approach_advice": POLICE_ADVICE}
    return payload


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every APIRoute; since FastAPI 0.137 `app.routes` is a tree of included
    routers, which `iter_route_contexts` flattens."""
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path is not None
        for method in context.methods or ()
    }


def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def work_the_scene(exchanger: Exchanger) -> Scene:
    """A nurse of RQI writes both plans; an officer opens an incident, adds both people, looks them
    up, writes the assessment and the outcome. Every answer the officer got is kept."""
    client = exchanger.client
    nurse = bearer(await exchanger.token("mh_practitioner", "RQI", "crisis-planning"))
    plan_ids = [
        created(await client.post(PLANS, json=marked_plan(nhs), headers=nurse))["id"]
        for nhs in PEOPLE
    ]

    incident_id = await scene(exchanger)
    officer = bearer(
        await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    )
    incident = f"/v1/incidents/{incident_id}"
    answers: list[Answer] = []
    found: dict[str, httpx.Response] = {}
    subject_ids = []
    for nhs in PEOPLE:
        added = await client.post(f"{incident}/subjects", json={"nhs_number": nhs}, headers=officer)
        subject_ids.append(created(added)["id"])
        answers.append(Answer("scene", Call("POST", f"{INCIDENT}/subjects"), added))
        found[nhs] = await look_up(exchanger, incident_id, {"nhs_number": nhs})
        created(found[nhs], 200)
        answers.append(Answer("scene", Call("POST", f"{INCIDENT}/flag-lookups"), found[nhs]))
    assessed = await client.post(
        f"{incident}/subjects/{subject_ids[0]}/assessment",
        json={"content": assessment_content()},
        headers=officer,
    )
    created(assessed)
    answers.append(Answer("scene", Call("POST", ASSESSMENT), assessed))
    outcome = await client.put(f"{incident}/outcome", json=outcome_payload(), headers=officer)
    created(outcome)
    answers.append(Answer("scene", Call("PUT", f"{INCIDENT}/outcome"), outcome))

    # The lookup notified RQI; the nurse sees the notification the officer must not mark.
    notifications = created(await client.get("/v1/notifications", headers=nurse), 200)
    assert notifications["items"], "the officer's lookup notified no one"
    return Scene(
        incident_id=incident_id,
        subject_id=uuid.UUID(subject_ids[0]),
        plan_id=uuid.UUID(plan_ids[0]),
        notification_id=uuid.UUID(notifications["items"][0]["id"]),
        lookups=found,
        answers=answers,
    )


async def sweep(exchanger: Exchanger, label: str, token: str, scene: Scene) -> list[Answer]:
    """Every call of the table with this token, in order."""
    answers = []
    for call in CALLS:
        headers = bearer(token)
        if call.if_match is not None:
            headers["If-Match"] = call.if_match
        response = await exchanger.client.request(
            call.method, call.path.format(**scene.ids), json=call.body, headers=headers
        )
        answers.append(Answer(label, call, response))
    return answers


def local_status(lookup: httpx.Response) -> str:
    status: str = next(s["status"] for s in lookup.json()["sources"] if s["name"] == "local")
    return status


def test_the_table_calls_every_route_but_the_public_ones(app: FastAPI) -> None:
    routes = api_routes(app)
    assert PUBLIC_ROUTES - routes == set(), "a public route listed here no longer exists"
    called = [call.route for call in CALLS]
    assert len(called) == len(set(called)), "a route is called twice"
    assert set(called) == routes - PUBLIC_ROUTES


async def test_no_route_gives_an_officer_clinical_text(exchanger: Exchanger) -> None:
    scene = await work_the_scene(exchanger)
    answers = list(scene.answers)
    unbound = await exchanger.token("officer", "NSP", "street-triage")
    answers += await sweep(exchanger, "unbound", unbound, scene)
    bound = await exchanger.token("officer", "NSP", "street-triage", incident_id=scene.incident_id)
    answers += await sweep(exchanger, "bound", bound, scene)
    # After the close, a token bound to the incident still reads it.
    after_close = await exchanger.token(
        "officer", "NSP", "street-triage", incident_id=scene.incident_id
    )
    answers += await sweep(exchanger, "closed", after_close, scene)

    def summary(answer: Answer) -> str:
        call = answer.call
        return f"{answer.label} {call.method} {call.path} -> {answer.response.status_code}"

    leaks = [f"{summary(a)}: {a.forbidden_words()}" for a in answers if a.forbidden_words()]
    assert leaks == []
    assert [summary(a) for a in answers if a.response.status_code >= 500] == []
    plan_answers = [a for a in answers if a.call.path.startswith(PLANS)]
    assert plan_answers
    assert [summary(a) for a in plan_answers if a.response.status_code not in (403, 404)] == []
    bound_reads = {a.call.route: a.response.status_code for a in answers if a.label == "bound"}
    assert {route: bound_reads[route] for route in BOUND_READS} == dict.fromkeys(BOUND_READS, 200)


async def test_the_officers_lookups_read_the_plans_written_here(exchanger: Exchanger) -> None:
    """The lookups of the scene read both plans, so the clinical text was there to leak."""
    scene = await work_the_scene(exchanger)
    for nhs in PEOPLE:
        assert local_status(scene.lookups[nhs]) == "found"
    answer = scene.lookups[KNOWN_ONLY_HERE]
    assert POLICE_ADVICE in answer.text
    assert [plan["approach_advice"] for plan in answer.json()["plans"]] == [POLICE_ADVICE]
