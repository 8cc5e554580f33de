"""API1:2023 Broken Object Level Authorization.

Every object of one organisation (incident, subject, assessment, outcome, crisis plan, access
notification, break-glass review, and the lookups recorded in the audit) is asked for by its real
id by callers of the other organisations of a partnership of two police forces (NSP, SWP) and two
trusts (RQI, Y05868), each holding a token whose scope would open the route were the object theirs.
Each gets a 404, the same body a random UUID gets, and nothing of the object; writes change
nothing. A token bound to one incident and pointed at another's path is refused the same way
whether that other incident exists or not (the binding check, 403, comes before any lookup), so no
answer tells a caller that an id is real. Random UUIDs are 404 on every route taking an id. A
subject access report by an organisation that never dealt with a person reads as one about
someone never recorded.
"""

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from tests import lookups
from tests.conftest import Exchanger, bearer
from tests.factories import (
    CAD_REFERENCE,
    assessment_content,
    crisis_plan_payload,
    incident_payload,
    outcome_payload,
)
from tests.lookups import look_up, with_faked_partners
from tests.owasp.routes import protected_routes
from tests.partners import FakePartners
from tests.problems import problem

partners = lookups.partners
partner_transport = lookups.partner_transport

KNOWN_TO_RQI = "9000000009"
# RQI writes his plan here too: a trust writes plans only for people its records know.
PLANNED_HERE = KNOWN_TO_RQI
PLAN_MARKER = "BOLA-PLAN-MARKER"
JUSTIFICATION = "Man on the railway bridge; plan held by the Northshire trust"
OTHER_FORCE = "SWP"
FOREIGN_SUPERVISORS = ("SWP", "Y05868")


def _second_force(document: dict[str, Any]) -> None:
    document["organisations"].append(
        {"code": OTHER_FORCE, "name": "Southmoor Police", "kind": "police_force"}
    )


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path, _second_force)


@dataclass(frozen=True)
class Objects:
    """What NSP and RQI made at one scene, by id."""

    incident_id: uuid.UUID
    subject_id: uuid.UUID
    plan_id: uuid.UUID
    notification_id: uuid.UUID
    review_id: uuid.UUID
    lookup_id: uuid.UUID


def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def open_incident(exchanger: Exchanger, force: str, trust: str) -> uuid.UUID:
    token = await exchanger.token("officer", force, "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(partner_trust_code=trust), headers=bearer(token)
    )
    return uuid.UUID(created(response)["id"])


async def make_objects(exchanger: Exchanger) -> Objects:
    """An NSP officer works an incident naming RQI: a subject, an assessment, an outcome, a
    lookup (which notifies RQI); an RQI nurse writes a plan; an RQI practitioner breaks glass."""
    client = exchanger.client
    incident_id = await open_incident(exchanger, "NSP", "RQI")
    incident = f"/v1/incidents/{incident_id}"
    officer = bearer(
        await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    )
    subject = created(
        await client.post(
            f"{incident}/subjects", json={"nhs_number": KNOWN_TO_RQI}, headers=officer
        )
    )
    created(
        await client.post(
            f"{incident}/subjects/{subject['id']}/assessment",
            json={"content": assessment_content()},
            headers=officer,
        )
    )
    created(await client.put(f"{incident}/outcome", json=outcome_payload(), headers=officer))
    lookup = created(await look_up(exchanger, incident_id, {"nhs_number": KNOWN_TO_RQI}), 200)

    nurse = bearer(await exchanger.token("mh_practitioner", "RQI", "crisis-planning"))
    plan_body = crisis_plan_payload(nhs_number=PLANNED_HERE)
    plan_body["police"]["approach_advice"] = PLAN_MARKER
    plan = created(await client.post("/v1/crisis-plans", json=plan_body, headers=nurse))
    notifications = created(await client.get("/v1/notifications", headers=nurse), 200)
    assert len(notifications["items"]) == 1

    await exchanger.token(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident_id,
        justification=JUSTIFICATION,
    )
    ig = bearer(await exchanger.token("ig_officer", "RQI", "audit"))
    reviews = created(await client.get("/v1/break-glass-reviews", headers=ig), 200)
    assert len(reviews["items"]) == 1
    return Objects(
        incident_id=incident_id,
        subject_id=uuid.UUID(subject["id"]),
        plan_id=uuid.UUID(plan["id"]),
        notification_id=uuid.UUID(notifications["items"][0]["id"]),
        review_id=uuid.UUID(reviews["items"][0]["id"]),
        lookup_id=uuid.UUID(lookup["lookup_id"]),
    )


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body.pop("request_id") == response.headers["x-request-id"]
    return body


def assert_same_refusal(real: httpx.Response, random: httpx.Response, objects: Objects) -> None:
    """The answer about a real object of another organisation is the answer about no object."""
    assert real.status_code == random.status_code, (real.text, random.text)
    assert real.status_code in (403, 404), real.text
    assert real.headers["content-type"] == "application/problem+json"
    assert without_request_id(real) == without_request_id(random)
    assert real.headers.get("www-authenticate") == random.headers.get("www-authenticate")
    assert real.headers.get("etag") is None
    for secret in (CAD_REFERENCE, KNOWN_TO_RQI, PLANNED_HERE, PLAN_MARKER, *ids_of(objects)):
        assert secret not in real.text


def ids_of(objects: Objects) -> list[str]:
    return [str(value) for value in vars(objects).values()]


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    token: str,
    body: Any = None,
    if_match: str | None = None,
) -> httpx.Response:
    headers = bearer(token)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await client.request(method, url, json=body, headers=headers)


async def test_another_organisations_supervisor_gets_404_for_the_incident_and_outcome(
    exchanger: Exchanger,
) -> None:
    objects = await make_objects(exchanger)
    client = exchanger.client
    for org in FOREIGN_SUPERVISORS:
        token = await exchanger.token("supervisor", org, "supervision")
        for template, slug in (
            ("/v1/incidents/{}", "incident-not-found"),
            ("/v1/incidents/{}/outcome", "incident-not-found"),
        ):
            real = await request(client, "GET", template.format(objects.incident_id), token)
            problem(real, 404, slug)
            random = await request(client, "GET", template.format(uuid.uuid4()), token)
            assert_same_refusal(real, random, objects)
        listed = await request(client, "GET", "/v1/incidents?limit=200", token)
        assert listed.status_code == 200
        assert str(objects.incident_id) not in listed.text
    # The control: the owning force's supervisor reads both.
    own = await exchanger.token("supervisor", "NSP", "supervision")
    for template in ("/v1/incidents/{}", "/v1/incidents/{}/outcome"):
        url = template.format(objects.incident_id)
        assert (await request(client, "GET", url, own)).status_code == 200


@pytest.mark.parametrize(
    ("role", "org", "purpose", "extra"),
    [
        ("officer", OTHER_FORCE, "street-triage", {}),
        ("mh_practitioner", "Y05868", "street-triage", {}),
        ("mh_practitioner", "Y05868", "break-glass", {"justification": JUSTIFICATION}),
    ],
)
async def test_a_token_bound_to_another_organisations_incident_is_never_issued(
    exchanger: Exchanger, role: str, org: str, purpose: str, extra: dict[str, str]
) -> None:
    objects = await make_objects(exchanger)
    real = await exchanger.request(role, org, purpose, incident_id=objects.incident_id, **extra)
    random = await exchanger.request(role, org, purpose, incident_id=uuid.uuid4(), **extra)
    assert real.status_code == 400
    assert real.json()["error"] == "invalid_target"
    assert without_request_id(real) == without_request_id(random)
    assert "access_token" not in real.text


async def test_children_of_another_forces_incident_are_404_under_ones_own_incident(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """The foreign subject's id under the caller's own incident, where its token is valid."""
    objects = await make_objects(exchanger)
    client = exchanger.client
    own_incident = await open_incident(exchanger, OTHER_FORCE, "Y05868")
    token = await exchanger.token("officer", OTHER_FORCE, "street-triage", incident_id=own_incident)
    assessment = f"/v1/incidents/{own_incident}/subjects/{{}}/assessment"
    calls: list[tuple[str, str, Any, str | None]] = [
        ("GET", assessment, None, None),
        ("GET", f"{assessment}/revisions", None, None),
        ("POST", assessment, {"content": assessment_content()}, None),
        ("PUT", assessment, {"content": assessment_content(decision="Changed.")}, '"1"'),
        ("POST", f"{assessment}/signatures", None, '"1"'),
    ]
    for method, template, body, if_match in calls:
        real = await request(
            client, method, template.format(objects.subject_id), token, body, if_match
        )
        problem(real, 404, "subject-not-found")
        random = await request(client, method, template.format(uuid.uuid4()), token, body, if_match)
        assert_same_refusal(real, random, objects)

    await connection.execute(text("RESET ROLE"))
    stored = (
        await connection.execute(
            text(
                "SELECT a.revision, a.status, count(s.id) AS signatures FROM assessment a"
                " LEFT JOIN assessment_signature s ON s.assessment_id = a.id"
                " WHERE a.subject_id = :subject GROUP BY a.id"
            ),
            {"subject": objects.subject_id},
        )
    ).all()
    assert [tuple(row) for row in stored] == [(1, "draft", 0)]


async def test_a_token_bound_elsewhere_is_refused_alike_for_real_and_random_incidents(
    app: FastAPI, exchanger: Exchanger, partners: FakePartners
) -> None:
    """Every route acting on one incident, pointed at the NSP incident by an SWP token bound to
    its own: the same refusal as for an incident that does not exist, and no partner asked."""
    objects = await make_objects(exchanger)
    client = exchanger.client
    own_incident = await open_incident(exchanger, OTHER_FORCE, "Y05868")
    token = await exchanger.token("officer", OTHER_FORCE, "street-triage", incident_id=own_incident)
    partners.requests.clear()
    swept = 0
    for route in protected_routes(app):
        if "{incident_id}" not in route.path:
            continue
        body = {"nhs_number": KNOWN_TO_RQI} if route.has_body else None
        real = await request(
            client,
            route.method,
            route.url(incident_id=objects.incident_id, subject_id=objects.subject_id),
            token,
            body,
        )
        random = await request(client, route.method, route.url(), token, body)
        assert_same_refusal(real, random, objects)
        swept += 1
    assert swept >= 10
    assert partners.requests == []


async def test_another_trusts_practitioner_gets_404_for_a_crisis_plan_and_changes_nothing(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    objects = await make_objects(exchanger)
    client = exchanger.client
    stranger = await exchanger.token("mh_practitioner", "Y05868", "crisis-planning")
    plan = "/v1/crisis-plans/{}"
    replacement = crisis_plan_payload()
    replacement.pop("nhs_number")
    calls: list[tuple[str, str, Any, str | None]] = [
        ("GET", plan, None, None),
        ("GET", f"{plan}/versions", None, None),
        ("GET", f"{plan}/access-history", None, None),
        ("PUT", plan, replacement, '"1"'),
        ("POST", f"{plan}/withdraw", {"reason": "Not ours to withdraw."}, '"1"'),
    ]
    for method, template, body, if_match in calls:
        real = await request(
            client, method, template.format(objects.plan_id), stranger, body, if_match
        )
        problem(real, 404, "crisis-plan-not-found")
        random = await request(
            client, method, template.format(uuid.uuid4()), stranger, body, if_match
        )
        assert_same_refusal(real, random, objects)

    found = await request(
        client, "POST", "/v1/crisis-plans/_search", stranger, {"nhs_number": PLANNED_HERE}
    )
    assert found.status_code == 200
    assert found.json() == []
    listed = await request(client, "GET", "/v1/crisis-plans?status=all&limit=100", stranger)
    assert listed.status_code == 200
    assert str(objects.plan_id) not in listed.text

    await connection.execute(text("RESET ROLE"))
    stored = (
        await connection.execute(
            text("SELECT revision, status, organisation_code FROM crisis_plan WHERE id = :id"),
            {"id": objects.plan_id},
        )
    ).one()
    assert tuple(stored) == (1, "active", "RQI")


async def test_another_trusts_practitioner_gets_404_for_a_notification_and_marks_nothing(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    objects = await make_objects(exchanger)
    client = exchanger.client
    stranger = await exchanger.token("mh_practitioner", "Y05868", "crisis-planning")
    template = "/v1/notifications/{}/read"
    real = await request(client, "POST", template.format(objects.notification_id), stranger)
    problem(real, 404, "notification-not-found")
    random = await request(client, "POST", template.format(uuid.uuid4()), stranger)
    assert_same_refusal(real, random, objects)
    listed = await request(client, "GET", "/v1/notifications?state=all&limit=100", stranger)
    assert listed.status_code == 200
    assert listed.json()["items"] == []

    await connection.execute(text("RESET ROLE"))
    read_at = await connection.scalar(
        text("SELECT read_at FROM access_notification WHERE id = :id"),
        {"id": objects.notification_id},
    )
    assert read_at is None


async def test_another_organisations_ig_officer_gets_404_for_a_break_glass_review(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """The review belongs to the practitioner's organisation (RQI); NSP named the incident's
    force and Y05868 is another trust: neither completes nor lists it."""
    objects = await make_objects(exchanger)
    client = exchanger.client
    finding = {"conclusion": "justified", "finding": "Needed at the scene."}
    template = "/v1/break-glass-reviews/{}"
    for org in ("NSP", "Y05868"):
        ig = await exchanger.token("ig_officer", org, "audit")
        real = await request(client, "POST", template.format(objects.review_id), ig, finding)
        problem(real, 404, "break-glass-review-not-found")
        random = await request(client, "POST", template.format(uuid.uuid4()), ig, finding)
        assert_same_refusal(real, random, objects)
        for status in ("pending", "reviewed"):
            listed = await request(client, "GET", f"/v1/break-glass-reviews?status={status}", ig)
            assert listed.status_code == 200
            assert listed.json()["items"] == []

    await connection.execute(text("RESET ROLE"))
    status = await connection.scalar(
        text("SELECT status FROM break_glass_review WHERE id = :id"), {"id": objects.review_id}
    )
    assert status == "pending"


async def test_lookups_of_another_force_are_not_in_the_audit_an_ig_officer_reads(
    exchanger: Exchanger,
) -> None:
    """The lookup is an NSP officer's; SWP's IG officer filtering on its incident finds nothing,
    NSP's finds it (the control)."""
    objects = await make_objects(exchanger)
    client = exchanger.client
    query = f"/v1/audit-events?incident_id={objects.incident_id}&limit=200"
    stranger = await exchanger.token("ig_officer", OTHER_FORCE, "audit")
    foreign = await request(client, "GET", query, stranger)
    assert foreign.status_code == 200
    assert foreign.json()["items"] == []
    assert str(objects.lookup_id) not in foreign.text
    own = await exchanger.token("ig_officer", "NSP", "audit")
    mine = await request(client, "GET", query, own)
    assert mine.status_code == 200
    assert str(objects.lookup_id) in mine.text


@pytest.mark.parametrize(
    ("role", "org", "purpose", "template", "method", "slug"),
    [
        ("supervisor", "NSP", "supervision", "/v1/incidents/{}", "GET", "incident-not-found"),
        (
            "supervisor",
            "NSP",
            "supervision",
            "/v1/incidents/{}/outcome",
            "GET",
            "incident-not-found",
        ),
        (
            "mh_practitioner",
            "RQI",
            "crisis-planning",
            "/v1/crisis-plans/{}",
            "GET",
            "crisis-plan-not-found",
        ),
        (
            "mh_practitioner",
            "RQI",
            "crisis-planning",
            "/v1/crisis-plans/{}/versions",
            "GET",
            "crisis-plan-not-found",
        ),
        (
            "mh_practitioner",
            "RQI",
            "crisis-planning",
            "/v1/crisis-plans/{}/access-history",
            "GET",
            "crisis-plan-not-found",
        ),
        (
            "mh_practitioner",
            "RQI",
            "crisis-planning",
            "/v1/notifications/{}/read",
            "POST",
            "notification-not-found",
        ),
    ],
)
async def test_random_ids_are_404(
    exchanger: Exchanger,
    role: str,
    org: str,
    purpose: str,
    template: str,
    method: str,
    slug: str,
) -> None:
    token = await exchanger.token(role, org, purpose)
    response = await request(exchanger.client, method, template.format(uuid.uuid4()), token)
    problem(response, 404, slug)


async def test_random_subject_of_ones_own_incident_is_404(exchanger: Exchanger) -> None:
    incident_id = await open_incident(exchanger, "NSP", "RQI")
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    url = f"/v1/incidents/{incident_id}/subjects/{uuid.uuid4()}/assessment"
    problem(await request(exchanger.client, "GET", url, token), 404, "subject-not-found")
    outcome = await request(exchanger.client, "GET", f"/v1/incidents/{incident_id}/outcome", token)
    problem(outcome, 404, "outcome-not-found")


def report_without_moment(response: httpx.Response) -> dict[str, Any]:
    body = created(response, 200)
    body.pop("generated_at")
    body.pop("nhs_number")
    return body


async def test_a_subject_access_report_does_not_tell_a_stranger_the_person_is_recorded(
    exchanger: Exchanger,
) -> None:
    """Y05868 never dealt with the person NSP looked up: its report on them is the report on
    someone never recorded at all."""
    await make_objects(exchanger)
    client = exchanger.client
    stranger = await exchanger.token("ig_officer", "Y05868", "audit")
    url = "/v1/subject-access-reports"
    recorded = await request(client, "POST", url, stranger, {"nhs_number": KNOWN_TO_RQI})
    never = await request(client, "POST", url, stranger, {"nhs_number": "9434765919"})
    assert report_without_moment(never)["known"] is False
    assert report_without_moment(recorded) == report_without_moment(never)


# Idempotent replays (trust boundaries, audited reads): a stored response is an object of the
# organisation and incident it was made for, and a retry is not a way around either.


async def test_a_stored_response_is_never_replayed_to_another_organisation_or_incident(
    exchanger: Exchanger,
) -> None:
    client = exchanger.client
    nurse = exchanger.idp.token("mh_practitioner", "RQI", sub="bola-nurse-who-moved")
    rqi = await exchanger.token("mh_practitioner", "RQI", "crisis-planning", subject_token=nurse)
    plan_key = {"Idempotency-Key": "bola-plan-1"}
    plan_body = crisis_plan_payload(nhs_number=KNOWN_TO_RQI)
    plan = created(
        await client.post("/v1/crisis-plans", json=plan_body, headers=bearer(rqi) | plan_key)
    )
    # The same identity, now acting for another trust, with the same key and body.
    moved = exchanger.idp.token("mh_practitioner", "Y05868", sub="bola-nurse-who-moved")
    y05868 = await exchanger.token(
        "mh_practitioner", "Y05868", "crisis-planning", subject_token=moved
    )
    again = await client.post("/v1/crisis-plans", json=plan_body, headers=bearer(y05868) | plan_key)
    assert "idempotent-replayed" not in again.headers
    assert plan["id"] not in again.text

    incident_id = await open_incident(exchanger, "NSP", "RQI")
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    subject_key = {"Idempotency-Key": "bola-subject-1"}
    url = f"/v1/incidents/{incident_id}/subjects"
    created(
        await client.post(
            url, json={"nhs_number": KNOWN_TO_RQI}, headers=bearer(officer) | subject_key
        )
    )
    elsewhere = await open_incident(exchanger, "NSP", "RQI")
    rebound = await exchanger.token("officer", "NSP", "street-triage", incident_id=elsewhere)
    replay = await client.post(
        url, json={"nhs_number": KNOWN_TO_RQI}, headers=bearer(rebound) | subject_key
    )
    problem(replay, 403, "forbidden")
    assert KNOWN_TO_RQI not in replay.text


# Crisis plans need a relationship (issue 13, item 2): writing a plan is object-level access to
# the person. A second trust, with valid credentials, may not write one for the first trust's
# patient when its own records do not know them, and nothing it sends says whose patient it is.


async def test_a_trust_cannot_write_a_crisis_plan_for_a_person_outside_its_care(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    client = exchanger.client
    second = await exchanger.token("mh_practitioner", "Y05868", "crisis-planning")
    body = crisis_plan_payload(nhs_number=KNOWN_TO_RQI)
    body["police"]["approach_advice"] = "Advice from a trust that does not care for him."
    for stated in (None, "care_coordinator"):
        attempt = body if stated is None else body | {"relationship": stated}
        refused = await client.post("/v1/crisis-plans", json=attempt, headers=bearer(second))
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/no-care-relationship")
        assert KNOWN_TO_RQI not in refused.text
    await connection.execute(text("RESET ROLE"))
    written = await connection.scalar(
        text("SELECT count(*) FROM crisis_plan WHERE organisation_code = 'Y05868'")
    )
    assert written == 0
