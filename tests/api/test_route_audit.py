"""Every route the OpenAPI document lists is classified here, and every route that returns personal
data writes an audit event naming the caller in the same request.

The table below is the classification. A route missing from it fails the test (a new route must
be classified the day it is added), as does an entry for a route that no longer exists. Each
`personal` route is then called once, with a valid token and real data (one scene: an NSP officer
and an RQI nurse working an incident, a crisis plan, a lookup, a break-glass access and its
review), and the audit trail must hold a successful event by that caller with that request's id.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.audit.sealer import seal_within
from api.settings import Settings
from tests import lookups
from tests.conftest import Exchanger, bearer
from tests.factories import (
    assessment_content,
    crisis_plan_payload,
    incident_payload,
    outcome_payload,
)
from tests.lookups import with_faked_partners

partners = lookups.partners
partner_transport = lookups.partner_transport


class Kind(StrEnum):
    personal = "personal"
    not_personal = "not_personal"


PERSONAL = (Kind.personal, "")

# (method, path) -> (kind, why not personal). `personal`: the answer carries personal data (a
# person's identifiers, the incident record, an assessment, a plan, who looked at whom), so a
# successful call must write an audit event naming the caller.
ROUTES: dict[tuple[str, str], tuple[Kind, str]] = {
    ("GET", "/healthz"): (Kind.not_personal, "public: process liveness only"),
    ("GET", "/readyz"): (Kind.not_personal, "public: database and migration readiness only"),
    ("GET", "/v1/agreement"): (Kind.not_personal, "public: the sharing agreement's terms"),
    ("POST", "/v1/token"): (Kind.not_personal, "public: issues a token (audited as token.issue)"),
    ("POST", "/v1/token/revoke"): (Kind.not_personal, "public: answers 200 whatever the token"),
    ("GET", "/.well-known/jwks.json"): (Kind.not_personal, "public: our public signing keys"),
    ("GET", "/auth/providers"): (Kind.not_personal, "public: the sign-in providers' names"),
    ("GET", "/auth/login"): (Kind.not_personal, "public: a redirect to the provider"),
    ("GET", "/auth/callback"): (Kind.not_personal, "public: starts a session (audited: sign_in)"),
    ("GET", "/auth/session"): (Kind.not_personal, "the signed-in member of staff, to themselves"),
    ("POST", "/auth/session/token"): (
        Kind.not_personal,
        "issues a token for the signed-in person (audited as token.issue)",
    ),
    ("POST", "/auth/logout"): (Kind.not_personal, "ends the session (audited as sign_out)"),
    ("GET", "/auth/jwks.json"): (Kind.not_personal, "public: our sign-in clients' public keys"),
    ("POST", "/v1/incidents"): PERSONAL,
    ("GET", "/v1/incidents"): PERSONAL,
    ("GET", "/v1/incidents/{incident_id}"): PERSONAL,
    ("POST", "/v1/incidents/{incident_id}/close"): PERSONAL,
    ("POST", "/v1/incidents/{incident_id}/subjects"): PERSONAL,
    ("GET", "/v1/incidents/{incident_id}/subjects"): PERSONAL,
    ("POST", "/v1/incidents/{incident_id}/subjects/{subject_id}/assessment"): PERSONAL,
    ("GET", "/v1/incidents/{incident_id}/subjects/{subject_id}/assessment"): PERSONAL,
    ("PUT", "/v1/incidents/{incident_id}/subjects/{subject_id}/assessment"): PERSONAL,
    ("POST", "/v1/incidents/{incident_id}/subjects/{subject_id}/assessment/signatures"): PERSONAL,
    ("GET", "/v1/incidents/{incident_id}/subjects/{subject_id}/assessment/revisions"): PERSONAL,
    ("PUT", "/v1/incidents/{incident_id}/outcome"): PERSONAL,
    ("GET", "/v1/incidents/{incident_id}/outcome"): PERSONAL,
    ("POST", "/v1/incidents/{incident_id}/flag-lookups"): PERSONAL,
    ("GET", "/v1/notifications"): PERSONAL,
    ("POST", "/v1/notifications/{notification_id}/read"): PERSONAL,
    ("POST", "/v1/crisis-plans"): PERSONAL,
    ("GET", "/v1/crisis-plans"): PERSONAL,
    ("POST", "/v1/crisis-plans/_search"): PERSONAL,
    ("GET", "/v1/crisis-plans/{plan_id}"): PERSONAL,
    ("PUT", "/v1/crisis-plans/{plan_id}"): PERSONAL,
    ("POST", "/v1/crisis-plans/{plan_id}/withdraw"): PERSONAL,
    ("GET", "/v1/crisis-plans/{plan_id}/versions"): PERSONAL,
    ("GET", "/v1/crisis-plans/{plan_id}/access-history"): PERSONAL,
    ("GET", "/v1/audit-events"): PERSONAL,
    ("GET", "/v1/audit-events/{event_id}/proof"): PERSONAL,
    ("GET", "/v1/audit/checkpoint"): (Kind.not_personal, "public: the log's signed size and root"),
    ("GET", "/v1/audit/checkpoint/key"): (Kind.not_personal, "public: the checkpoints' key"),
    ("GET", "/v1/audit/consistency"): (Kind.not_personal, "public: hashes that the log only grew"),
    ("POST", "/v1/subject-access-reports"): PERSONAL,
    ("GET", "/v1/break-glass-reviews"): PERSONAL,
    ("POST", "/v1/break-glass-reviews/{review_id}"): PERSONAL,
    ("GET", "/v1/crisis-plan-relationship-reviews"): PERSONAL,
    ("POST", "/v1/crisis-plan-relationship-reviews/{review_id}"): PERSONAL,
    # Counts by area and month can single out a person when they are small.
    ("GET", "/v1/reports/outcomes"): PERSONAL,
}

KNOWN_TO_RQI = "9000000009"
PLANNED_BY_STATEMENT = "9000000033"
# Without a record endpoint here, its practitioners state their relationship to write a plan.
STATING_TRUST = "Y05868"
JUSTIFICATION = "Man on the railway bridge; plan held by the Northshire trust"


def _without_the_stating_trusts_endpoint(document: dict[str, Any]) -> None:
    document["partners"] = [
        partner
        for partner in document["partners"]
        if partner.get("organisation_code") != STATING_TRUST
    ]


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path, _without_the_stating_trusts_endpoint)


def openapi_operations(app: FastAPI) -> set[tuple[str, str]]:
    document: dict[str, Any] = app.openapi()
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_route_in_the_openapi_document_is_classified(app: FastAPI) -> None:
    operations = openapi_operations(app)
    unclassified = sorted(operations - ROUTES.keys())
    assert unclassified == [], f"classify these routes in ROUTES: {unclassified}"
    assert sorted(ROUTES.keys() - operations) == [], "ROUTES names routes the app no longer has"
    for route, (kind, reason) in ROUTES.items():
        assert (kind == Kind.not_personal) == bool(reason), f"{route}: a reason, for not_personal"


class Scene:
    """Calls routes, remembering each call's response under its route template."""

    def __init__(self, exchanger: Exchanger) -> None:
        self.exchanger = exchanger
        self.calls: dict[tuple[str, str], httpx.Response] = {}

    async def call(
        self,
        method: str,
        template: str,
        token: str,
        *,
        ids: dict[str, Any] | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
        revision: int | None = None,
        status: int = 200,
    ) -> Any:
        headers = bearer(token)
        if revision is not None:
            headers["If-Match"] = f'"{revision}"'
        response = await self.exchanger.client.request(
            method, template.format(**(ids or {})), json=body, params=params, headers=headers
        )
        assert response.status_code == status, f"{method} {template}: {response.text}"
        self.calls[(method, template)] = response
        return response.json()


async def work_the_scene(exchanger: Exchanger) -> Scene:
    scene = Scene(exchanger)
    call = scene.call
    opener = await exchanger.token("officer", "NSP", "street-triage")
    incident = await call(
        "POST", "/v1/incidents", opener, body=incident_payload(partner_trust_code="RQI"), status=201
    )
    await call("GET", "/v1/incidents", opener)
    ids: dict[str, Any] = {"incident_id": incident["id"]}
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident["id"])
    subject = await call(
        "POST",
        "/v1/incidents/{incident_id}/subjects",
        officer,
        ids=ids,
        body={"nhs_number": KNOWN_TO_RQI},
        status=201,
    )
    ids["subject_id"] = subject["id"]
    await call("GET", "/v1/incidents/{incident_id}/subjects", officer, ids=ids)
    await call("GET", "/v1/incidents/{incident_id}", officer, ids=ids)
    assessment = "/v1/incidents/{incident_id}/subjects/{subject_id}/assessment"
    content = {"content": assessment_content()}
    await call("POST", assessment, officer, ids=ids, body=content, status=201)
    await call("GET", assessment, officer, ids=ids)
    await call("PUT", assessment, officer, ids=ids, body=content, revision=1)
    await call("POST", f"{assessment}/signatures", officer, ids=ids, revision=2)
    await call("GET", f"{assessment}/revisions", officer, ids=ids)
    outcome = "/v1/incidents/{incident_id}/outcome"
    await call("PUT", outcome, officer, ids=ids, body=outcome_payload(), status=201)
    await call("GET", outcome, officer, ids=ids)
    await call(
        "POST",
        "/v1/incidents/{incident_id}/flag-lookups",
        officer,
        ids=ids,
        body={"nhs_number": KNOWN_TO_RQI},
    )

    nurse = await exchanger.token("mh_practitioner", "RQI", "crisis-planning")
    plan_body = crisis_plan_payload(nhs_number=KNOWN_TO_RQI)
    plan = await call("POST", "/v1/crisis-plans", nurse, body=plan_body, status=201)
    ids["plan_id"] = plan["id"]
    await call("GET", "/v1/crisis-plans", nurse)
    await call("POST", "/v1/crisis-plans/_search", nurse, body={"nhs_number": KNOWN_TO_RQI})
    await call("GET", "/v1/crisis-plans/{plan_id}", nurse, ids=ids)
    rewritten = {name: value for name, value in plan_body.items() if name != "nhs_number"}
    await call("PUT", "/v1/crisis-plans/{plan_id}", nurse, ids=ids, body=rewritten, revision=1)
    await call("GET", "/v1/crisis-plans/{plan_id}/versions", nurse, ids=ids)
    await call("GET", "/v1/crisis-plans/{plan_id}/access-history", nurse, ids=ids)
    await call(
        "POST",
        "/v1/crisis-plans/{plan_id}/withdraw",
        nurse,
        ids=ids,
        body={"reason": "Discharged from the CMHT; plan no longer applies."},
        revision=2,
    )
    notifications = await call("GET", "/v1/notifications", nurse)
    ids["notification_id"] = notifications["items"][0]["id"]
    await call("POST", "/v1/notifications/{notification_id}/read", nurse, ids=ids)

    await exchanger.token(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident["id"],
        justification=JUSTIFICATION,
    )
    ig = await exchanger.token("ig_officer", "RQI", "audit")
    reviews = await call("GET", "/v1/break-glass-reviews", ig)
    ids["review_id"] = reviews["items"][0]["id"]
    await call(
        "POST",
        "/v1/break-glass-reviews/{review_id}",
        ig,
        ids=ids,
        body={"conclusion": "justified", "finding": "Plan needed at the scene; access minimal."},
    )
    await call("GET", "/v1/audit-events", ig)

    stating = await exchanger.token("mh_practitioner", STATING_TRUST, "crisis-planning")
    stated = crisis_plan_payload(nhs_number=PLANNED_BY_STATEMENT, relationship="care_coordinator")
    response = await exchanger.client.post("/v1/crisis-plans", json=stated, headers=bearer(stating))
    assert response.status_code == 201, response.text
    stating_ig = await exchanger.token("ig_officer", STATING_TRUST, "audit")
    relationships = "/v1/crisis-plan-relationship-reviews"
    pending = await call("GET", relationships, stating_ig)
    await call(
        "POST",
        relationships + "/{review_id}",
        stating_ig,
        ids={"review_id": pending["items"][0]["id"]},
        body={"conclusion": "confirmed", "finding": "The CMHT coordinates his care."},
    )
    await call("POST", "/v1/subject-access-reports", ig, body={"nhs_number": KNOWN_TO_RQI})

    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    today = datetime.now(UTC).date()
    period = {"from": (today - timedelta(days=31)).isoformat(), "to": today.isoformat()}
    await call("GET", "/v1/reports/outcomes", supervisor, params=period)

    # Last: closing revokes the officer's bound token.
    await call("POST", "/v1/incidents/{incident_id}/close", officer, ids=ids)
    return scene


async def audit_events_of_request(
    connection: AsyncConnection, request_id: str
) -> list[tuple[str, str, uuid.UUID | None]]:
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        text("SELECT action, outcome, actor_user_id FROM audit_event WHERE request_id = :id"),
        {"id": request_id},
    )
    return [(row.action, row.outcome, row.actor_user_id) for row in rows]


async def prove_an_event(app: FastAPI, scene: Scene, connection: AsyncConnection) -> None:
    """The scene's events sealed in the test's own transaction (the API's sealer sees only what
    commits), then an inclusion proof asked for."""
    await connection.execute(text("RESET ROLE"))
    for _ in range(50):  # the app's own sealer may hold the turn for a moment
        if await seal_within(connection, app.state.audit_log_keys) is not None:
            break
        await asyncio.sleep(0.05)
    ig = await scene.exchanger.token("ig_officer", "RQI", "audit")
    listed = await scene.call("GET", "/v1/audit-events", ig)
    await scene.call(
        "GET", "/v1/audit-events/{event_id}/proof", ig, ids={"event_id": listed["items"][-1]["id"]}
    )


async def test_every_personal_route_writes_an_audit_event_naming_the_caller(
    app: FastAPI, exchanger: Exchanger, connection: AsyncConnection
) -> None:
    scene = await work_the_scene(exchanger)
    await prove_an_event(app, scene, connection)
    personal = {route for route, (kind, _) in ROUTES.items() if kind == Kind.personal}
    assert sorted(personal - scene.calls.keys()) == [], "a personal route the scene never called"
    unaudited: list[str] = []
    for route in sorted(personal):
        response = scene.calls[route]
        events = await audit_events_of_request(connection, response.headers["x-request-id"])
        if not any(outcome == "success" and actor for _, outcome, actor in events):
            unaudited.append(f"{route[0]} {route[1]}: {events}")
    assert unaudited == []
