"""The audit trail: every event carries the full record; and the information governance API over
it. The log itself (sealing, proofs, verification, retention, witnesses) is tested in
test_transparency_log.py."""

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from models import APPLICATION_ROLE
from tests import lookups
from tests.conftest import Exchanger, bearer
from tests.factories import crisis_plan_payload
from tests.lookups import look_up, scene, with_faked_partners
from tests.problems import problem

partners = lookups.partners
partner_transport = lookups.partner_transport

# Known to no partner: whatever a lookup finds comes from the plan written here, by RQI.
ONLY_HERE = "9000000033"
JUSTIFICATION = "Person on railway bridge; crisis plan held by another trust"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


async def ig(exchanger: Exchanger, org: str) -> dict[str, str]:
    return bearer(await exchanger.token("ig_officer", org, "audit"))


async def superuser(connection: AsyncConnection) -> AsyncConnection:
    """The test connection as the connecting superuser, whatever role a request left it in."""
    await connection.execute(text("RESET ROLE"))
    return connection


async def write_plan(exchanger: Exchanger, nhs: str = ONLY_HERE) -> dict[str, Any]:
    nurse = await exchanger.token("mh_practitioner", "RQI", "crisis-planning")
    response = await exchanger.client.post(
        "/v1/crisis-plans", json=crisis_plan_payload(nhs_number=nhs), headers=bearer(nurse)
    )
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def person_id_of(connection: AsyncConnection, nhs: str) -> uuid.UUID:
    found = await (await superuser(connection)).scalar(
        text("SELECT id FROM person WHERE nhs_number = :n"), {"n": nhs}
    )
    assert isinstance(found, uuid.UUID)
    return found


async def some_events(exchanger: Exchanger) -> uuid.UUID:
    """A plan written by RQI, an incident by NSP, a lookup of the plan's person: the incident."""
    await write_plan(exchanger)
    incident_id = await scene(exchanger)
    answered = await look_up(exchanger, incident_id, {"nhs_number": ONLY_HERE})
    assert answered.status_code == 200, answered.text
    return incident_id


async def events(
    exchanger: Exchanger, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await exchanger.client.get("/v1/audit-events", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# The record each event carries


async def test_a_lookup_event_carries_the_full_record(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await some_events(exchanger)
    person_id = await person_id_of(connection, ONLY_HERE)
    row = (
        await connection.execute(
            text(
                "SELECT occurred_at, actor_user_id, actor_name, actor_role, actor_organisation_code,"
                " purpose, person_id, incident_id, action, outcome, reason, request_id,"
                " data_classes, source_systems, details::text AS details"
                " FROM audit_event WHERE action = 'crisis_flag.lookup'"
                " AND incident_id = :incident"
            ),
            {"incident": incident_id},
        )
    ).one()
    assert row.occurred_at.tzinfo is not None
    assert row.actor_user_id is not None
    assert (row.actor_name, row.actor_role, row.actor_organisation_code) == (
        "Test officer of NSP",
        "officer",
        "NSP",
    )
    assert (row.purpose, row.person_id, row.incident_id) == (
        "street-triage",
        person_id,
        incident_id,
    )
    assert (row.outcome, row.reason) == ("success", None)
    assert row.request_id
    assert "crisis_flag" in row.data_classes
    assert "local" in row.source_systems
    assert ONLY_HERE not in row.details
    assert "person_id" not in row.details


async def test_subject_assessment_and_plan_events_name_the_person(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    plan = await write_plan(exchanger)
    incident_id = await scene(exchanger)
    officer = bearer(
        await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    )
    subjects = f"/v1/incidents/{incident_id}/subjects"
    added = await exchanger.client.post(subjects, json={"nhs_number": ONLY_HERE}, headers=officer)
    assert added.status_code == 201
    assert (await exchanger.client.get(subjects, headers=officer)).status_code == 200
    assert (
        await exchanger.client.get(f"/v1/incidents/{incident_id}/outcome", headers=officer)
    ).status_code == 404  # no outcome yet: nothing disclosed, nothing recorded
    person_id = await person_id_of(connection, ONLY_HERE)
    rows = (
        await connection.execute(
            text(
                "SELECT action, data_classes FROM audit_event WHERE person_id = :person"
                " ORDER BY seq"
            ),
            {"person": person_id},
        )
    ).all()
    assert [(row.action, row.data_classes) for row in rows] == [
        ("crisis_plan.create", ["crisis_plan_clinical"]),
        ("subject.add", ["incident_record"]),
        ("subject.read", ["incident_record"]),
    ]
    assert plan["nhs_number"] == ONLY_HERE


# The information governance API


async def test_an_ig_officer_sees_only_their_own_organisations_events(
    exchanger: Exchanger,
) -> None:
    incident_id = await some_events(exchanger)
    police = await events(exchanger, await ig(exchanger, "NSP"), limit=200)
    trust = await events(exchanger, await ig(exchanger, "RQI"), limit=200)
    assert {item["actor"]["organisation_code"] for item in police} == {"NSP"}
    assert {item["actor"]["organisation_code"] for item in trust} == {"RQI"}
    assert "crisis_flag.lookup" in {item["action"] for item in police}
    assert "crisis_plan.create" in {item["action"] for item in trust}
    assert str(incident_id) not in str(trust)
    # Newest first, by seq.
    seqs = [item["seq"] for item in police]
    assert seqs == sorted(seqs, reverse=True)


async def test_the_database_shows_the_application_role_only_its_tenants_events(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    await connection.execute(text(f"SET LOCAL ROLE {APPLICATION_ROLE}"))
    await connection.execute(text("SELECT set_config('app.org', 'RQI', true)"))
    organisations = set(
        (
            await connection.execute(
                text("SELECT DISTINCT actor_organisation_code FROM audit_event")
            )
        ).scalars()
    )
    await connection.execute(text("RESET ROLE"))
    assert organisations == {"RQI"}


async def test_filters_and_pages(exchanger: Exchanger, connection: AsyncConnection) -> None:
    incident_id = await some_events(exchanger)
    person_id = await person_id_of(connection, ONLY_HERE)
    refused = await exchanger.client.get(
        "/v1/crisis-plans", headers=bearer(await exchanger.token("officer", "NSP", "street-triage"))
    )
    assert refused.status_code == 403
    headers = await ig(exchanger, "NSP")

    about = await events(exchanger, headers, person_id=str(person_id))
    assert [item["action"] for item in about] == ["crisis_flag.lookup"]
    lookup = about[0]
    assert lookup["person_id"] == str(person_id)
    assert lookup["actor"]["name"] == "Test officer of NSP"
    assert lookup["data_classes"][0] == "crisis_flag"

    by_incident = await events(exchanger, headers, incident_id=str(incident_id))
    assert {item["incident_id"] for item in by_incident} == {str(incident_id)}
    assert {"incident.open", "crisis_flag.lookup", "token.issue"} <= {
        item["action"] for item in by_incident
    }
    denied = await events(exchanger, headers, outcome="denied")
    assert [(item["action"], item["reason"]) for item in denied] == [
        ("access.refuse", "scope_insufficient")
    ]
    by_actor = await events(exchanger, headers, actor_user_id=lookup["actor"]["user_id"])
    assert {item["actor"]["user_id"] for item in by_actor} == {lookup["actor"]["user_id"]}
    opened = await events(exchanger, headers, action="incident.open")
    assert {item["action"] for item in opened} == {"incident.open"}
    later = await events(exchanger, headers, **{"from": lookup["occurred_at"]})
    assert all(item["occurred_at"] >= lookup["occurred_at"] for item in later)
    before = await events(exchanger, headers, to=lookup["occurred_at"])
    assert lookup["id"] not in {item["id"] for item in before}

    everything = await events(exchanger, headers, limit=200)
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = await exchanger.client.get("/v1/audit-events", params=params, headers=headers)
        assert page.status_code == 200
        pages += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    # Paging starts with the newest event, the audit.read of the listing just before, and goes
    # back from there: the reads of the later pages are newer than their cursors.
    assert pages[0]["action"] == "audit.read"
    assert [item["id"] for item in pages[1:]] == [item["id"] for item in everything]

    problem(
        await exchanger.client.get(
            "/v1/audit-events", params={"cursor": "not-a-cursor"}, headers=headers
        ),
        400,
        "invalid-cursor",
    )
    # An NHS number is never a filter: a person is named by id only.
    wrong = await exchanger.client.get(
        "/v1/audit-events", params={"person_id": ONLY_HERE}, headers=headers
    )
    assert wrong.status_code == 422
    assert ONLY_HERE not in wrong.text
    capped = await exchanger.client.get("/v1/audit-events", params={"limit": 1000}, headers=headers)
    assert capped.status_code == 422


async def test_reading_the_audit_is_audited(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    person_id = await person_id_of(connection, ONLY_HERE)
    read = await exchanger.client.get(
        "/v1/audit-events",
        params={"person_id": str(person_id), "action": "crisis_flag.lookup"},
        headers=await ig(exchanger, "NSP"),
    )
    assert read.status_code == 200
    row = (
        await (await superuser(connection)).execute(
            text(
                "SELECT actor_role, person_id, data_classes, details FROM audit_event"
                " WHERE action = 'audit.read' AND request_id = :r"
            ),
            {"r": read.headers["x-request-id"]},
        )
    ).one()
    assert (row.actor_role, row.person_id, row.data_classes) == (
        "ig_officer",
        person_id,
        ["audit_trail"],
    )
    assert row.details["filters"] == {"action": "crisis_flag.lookup"}
    [seq] = {item["seq"] for item in read.json()["items"]}
    assert row.details["seqs"] == [seq, seq]


async def test_only_information_governance_reads_the_audit(exchanger: Exchanger) -> None:
    for role, org, purpose in (
        ("officer", "NSP", "street-triage"),
        ("supervisor", "RQI", "supervision"),
        ("mh_practitioner", "RQI", "crisis-planning"),
    ):
        headers = bearer(await exchanger.token(role, org, purpose))
        for method, url, body in (
            ("GET", "/v1/audit-events", None),
            ("POST", "/v1/subject-access-reports", {"nhs_number": ONLY_HERE}),
            ("GET", "/v1/break-glass-reviews", None),
        ):
            response = await exchanger.client.request(method, url, json=body, headers=headers)
            problem(response, 403, "forbidden")


async def test_a_subject_access_report_answers_for_the_callers_organisation(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    person_id = await person_id_of(connection, ONLY_HERE)
    url = "/v1/subject-access-reports"

    trust = await exchanger.client.post(
        url, json={"nhs_number": ONLY_HERE}, headers=await ig(exchanger, "RQI")
    )
    assert trust.status_code == 200, trust.text
    report = trust.json()
    assert (report["known"], report["person_id"], report["organisation_code"]) == (
        True,
        str(person_id),
        "RQI",
    )
    assert [event["action"] for event in report["events"]] == ["crisis_plan.create"]
    assert (report["event_count"], report["complete"]) == (1, True)
    # NSP's officer looked up a person whose plan RQI holds: RQI counts it, NSP answers for it.
    [other] = report["other_organisations"]
    assert (other["organisation_code"], other["accesses"], other["break_glass"]) == ("NSP", 1, 0)
    assert other["organisation_name"] == "Northshire Police"

    police = (
        await exchanger.client.post(
            url, json={"nhs_number": ONLY_HERE}, headers=await ig(exchanger, "NSP")
        )
    ).json()
    assert [event["action"] for event in police["events"]] == ["crisis_flag.lookup"]
    assert police["other_organisations"] == []

    unknown = (
        await exchanger.client.post(
            url, json={"nhs_number": "9000000009"}, headers=await ig(exchanger, "NSP")
        )
    ).json()
    assert (unknown["known"], unknown["events"], unknown["event_count"]) == (False, [], 0)

    invalid = await exchanger.client.post(
        url, json={"nhs_number": "9000000000"}, headers=await ig(exchanger, "NSP")
    )
    problem(invalid, 422, "validation")
    assert "9000000000" not in invalid.text

    # Each report is audited, naming the person by id and never by number.
    rows = (
        await (await superuser(connection)).execute(
            text(
                "SELECT actor_organisation_code, person_id, details::text AS details"
                " FROM audit_event WHERE action = 'audit.subject_access_report' ORDER BY seq"
            )
        )
    ).all()
    assert [(row.actor_organisation_code, row.person_id) for row in rows] == [
        ("RQI", person_id),
        ("NSP", person_id),
        ("NSP", None),
    ]
    assert all(ONLY_HERE not in row.details and "9000000009" not in row.details for row in rows)


async def break_glass(exchanger: Exchanger) -> tuple[uuid.UUID, str]:
    """A practitioner of RQI breaks the glass at an NSP incident: the incident and the token."""
    incident_id = await scene(exchanger)
    token = await exchanger.token(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident_id,
        justification=JUSTIFICATION,
    )
    return incident_id, token


async def reviews(exchanger: Exchanger, org: str, status: str = "pending") -> list[dict[str, Any]]:
    response = await exchanger.client.get(
        "/v1/break-glass-reviews", params={"status": status}, headers=await ig(exchanger, org)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_practitioners_organisation_reviews_a_break_glass_once(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id, token = await break_glass(exchanger)
    looked = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/flag-lookups",
        json={"nhs_number": ONLY_HERE},
        headers=bearer(token),
    )
    assert looked.status_code == 200

    # Only the practitioner's own organisation reviews their conduct.
    assert await reviews(exchanger, "NSP") == []
    assert await reviews(exchanger, "Y05868") == []
    [pending] = await reviews(exchanger, "RQI")
    assert pending["status"] == "pending"
    assert pending["practitioner"]["name"] == "Test mh_practitioner of RQI"
    assert (pending["incident_id"], pending["justification"]) == (str(incident_id), JUSTIFICATION)
    assert (pending["reviewer"], pending["conclusion"], pending["finding"]) == (None, None, None)

    # What was done with the token, for the reviewer to judge.
    used = await events(exchanger, await ig(exchanger, "RQI"), token_jti=pending["token_jti"])
    assert {item["action"] for item in used} == {"token.issue", "break_glass", "crisis_flag.lookup"}

    url = f"/v1/break-glass-reviews/{pending['id']}"
    body = {"conclusion": "justified", "finding": "Plan needed at the scene; access was minimal."}
    problem(
        await exchanger.client.post(url, json=body, headers=await ig(exchanger, "Y05868")),
        404,
        "break-glass-review-not-found",
    )
    problem(
        await exchanger.client.post(
            url, json=body | {"status": "pending"}, headers=await ig(exchanger, "RQI")
        ),
        422,
        "validation",
    )
    done = await exchanger.client.post(url, json=body, headers=await ig(exchanger, "RQI"))
    assert done.status_code == 200, done.text
    reviewed = done.json()
    assert (reviewed["status"], reviewed["conclusion"], reviewed["finding"]) == (
        "reviewed",
        "justified",
        body["finding"],
    )
    assert reviewed["reviewer"]["name"] == "Test ig_officer of RQI"
    assert reviewed["reviewed_at"] is not None

    again = await exchanger.client.post(
        url, json=body | {"conclusion": "unjustified"}, headers=await ig(exchanger, "RQI")
    )
    problem(again, 409, "break-glass-review-completed")
    assert await reviews(exchanger, "RQI") == []
    assert [item["id"] for item in await reviews(exchanger, "RQI", "reviewed")] == [pending["id"]]
    problem(
        await exchanger.client.post(
            f"/v1/break-glass-reviews/{uuid.uuid4()}", json=body, headers=await ig(exchanger, "RQI")
        ),
        404,
        "break-glass-review-not-found",
    )

    [(incident, details)] = (
        await (await superuser(connection)).execute(
            text(
                "SELECT incident_id, details FROM audit_event"
                " WHERE action = 'break_glass.review' AND actor_organisation_code = 'RQI'"
            )
        )
    ).all()
    assert incident == incident_id
    assert (details["review_id"], details["conclusion"]) == (pending["id"], "justified")


async def test_break_glass_reviews_page_newest_first(exchanger: Exchanger) -> None:
    for _ in range(3):
        await break_glass(exchanger)
    headers = await ig(exchanger, "RQI")
    first = await exchanger.client.get(
        "/v1/break-glass-reviews", params={"limit": 2}, headers=headers
    )
    assert first.status_code == 200
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    second = await exchanger.client.get(
        "/v1/break-glass-reviews", params={"limit": 2, "cursor": cursor}, headers=headers
    )
    items = first.json()["items"] + second.json()["items"]
    assert second.json()["next_cursor"] is None
    assert len({item["id"] for item in items}) == 3
    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)
