"""The audit trail: every event carries the full record, on an append-only hash chain that
`triage audit verify` walks; its retention purge; and the information governance API over it."""

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import audit_event, record
from api.audit.service import BreakKind, link_hash, purge_audit_events, verify_chain
from api.migration import upgrade_async
from api.settings import Settings, async_database_url
from models import APPLICATION_ROLE, GENESIS_HASH, AuditAction, AuditOutcome, utcnow
from tests import lookups
from tests.api.test_cli import run_triage
from tests.conftest import Committing, Exchanger, bearer
from tests.database import scratch_database
from tests.factories import crisis_plan_payload, incident_payload
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


@pytest.fixture
async def chain_url(database_server_url: str) -> AsyncIterator[str]:
    """A database of its own: nothing else has written to its chain."""
    async with scratch_database(database_server_url, prefix="triage_chain") as url:
        await upgrade_async(url)
        yield url


@pytest.fixture
async def chain_engine(chain_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(async_database_url(chain_url))
    yield engine
    await engine.dispose()


async def ig(exchanger: Exchanger, org: str) -> dict[str, str]:
    return bearer(await exchanger.token("ig_officer", org, "audit"))


async def superuser(connection: AsyncConnection) -> AsyncConnection:
    """The test connection as the connecting superuser, whatever role a request left it in."""
    await connection.execute(text("RESET ROLE"))
    return connection


async def chain(connection: AsyncConnection) -> list[Any]:
    rows = await (await superuser(connection)).execute(
        text("SELECT seq, prev_hash, hash FROM audit_event ORDER BY seq")
    )
    return list(rows)


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


# The chain


async def test_events_form_a_gapless_chain_that_verifies(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    links = await chain(connection)
    assert len(links) >= 6
    assert [link.seq for link in links] == list(range(links[0].seq, links[0].seq + len(links)))
    for before, after in itertools.pairwise(links):
        assert after.prev_hash == before.hash
    if links[0].seq == 1:
        assert links[0].prev_hash == GENESIS_HASH

    report = await verify_chain(connection, batch=3)  # several batches
    assert report.ok, report.problem
    assert report.events == report.head_seq == links[-1].seq
    assert report.head_hash == links[-1].hash


async def test_concurrent_writers_keep_one_gapless_valid_chain(committing: Committing) -> None:
    exchanger = committing.exchanger
    officers = [await exchanger.token("officer", "NSP", "street-triage") for _ in range(10)]
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")

    async def open_incident(token: str) -> int:
        response = await exchanger.client.post(
            "/v1/incidents", json=incident_payload(), headers=bearer(token)
        )
        return response.status_code

    # Ten opens (each writes in its transaction) and ten refusals (each rolls back, then writes
    # its refusal in a transaction of its own), all at once, each on its own connection.
    statuses = await asyncio.gather(
        *(open_incident(token) for token in [*officers, *[supervisor] * 10])
    )
    assert sorted(statuses) == [201] * 10 + [403] * 10

    engine = create_async_engine(async_database_url(committing.url))
    try:
        async with engine.connect() as connection:
            counts = (
                await connection.execute(
                    text(
                        "SELECT count(*) AS events, max(seq) AS last,"
                        " count(*) FILTER (WHERE action = 'incident.open') AS opened,"
                        " count(*) FILTER (WHERE action = 'access.refuse') AS refused"
                        " FROM audit_event"
                    )
                )
            ).one()
            report = await verify_chain(connection)
    finally:
        await engine.dispose()
    assert (counts.opened, counts.refused) == (10, 10)
    assert counts.events == counts.last  # gapless from 1
    assert report.ok, report.problem
    assert report.events == report.head_seq == counts.events


async def test_the_database_refuses_to_rewrite_the_chain_even_for_its_owner(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    await superuser(connection)
    for statement in (
        "UPDATE audit_event SET reason = 'x'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "DELETE FROM audit_chain_head",
        "INSERT INTO audit_chain_head (id, seq, hash) VALUES (true, 0, 'x')",
        "TRUNCATE audit_chain_head",
    ):
        nested = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(text(statement))
        await nested.rollback()


async def test_the_application_role_only_appends(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    await connection.execute(text(f"SET LOCAL ROLE {APPLICATION_ROLE}"))
    for statement in (
        # Not even an insert: events are appended through audit_append, which numbers them.
        "INSERT INTO audit_event (id, seq, prev_hash, hash, occurred_at, action, outcome,"
        " data_classes, source_systems, details) VALUES (gen_random_uuid(), 999999, 'x', 'x',"
        " now(), 'token.issue', 'success', '[]', '[]', '{}')",
        "UPDATE audit_event SET reason = 'x'",
        "UPDATE audit_chain_head SET seq = 0",
        "DELETE FROM audit_chain_head",
        "INSERT INTO audit_chain_anchor (seq, hash, events_purged, occurred_before, purged_at)"
        " VALUES (1, 'x', 1, now(), now())",
    ):
        nested = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(statement))
        await nested.rollback()
    await connection.execute(text("RESET ROLE"))


async def tampered(connection: AsyncConnection, statement: str, **params: Any) -> None:
    """Change the chain behind the application's back: as superuser, with the trigger off."""
    await superuser(connection)
    await connection.execute(
        text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    )
    await connection.execute(text(statement), params)
    await connection.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))


async def test_a_changed_row_is_found_with_its_seq(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    links = await chain(connection)
    target = links[len(links) // 2].seq
    await tampered(
        connection, "UPDATE audit_event SET actor_role = 'supervisor' WHERE seq = :s", s=target
    )
    report = await verify_chain(connection, batch=4)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (target, BreakKind.changed_row)
    assert report.events == target - links[0].seq


async def test_a_deleted_row_is_found_as_a_missing_seq(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    links = await chain(connection)
    target = links[len(links) // 2].seq
    await tampered(connection, "DELETE FROM audit_event WHERE seq = :s", s=target)
    report = await verify_chain(connection)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (target, BreakKind.missing_seq)


async def test_the_last_events_deleted_are_found_from_the_head(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    links = await chain(connection)
    await tampered(connection, "DELETE FROM audit_event WHERE seq >= :s", s=links[-2].seq)
    report = await verify_chain(connection)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (links[-2].seq, BreakKind.missing_seq)


async def test_a_row_replaced_with_a_consistent_hash_breaks_the_next_link(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await some_events(exchanger)
    links = await chain(connection)
    target = links[len(links) // 2]
    await tampered(
        connection, "UPDATE audit_event SET reason = 'forged' WHERE seq = :s", s=target.seq
    )
    canonical = await connection.scalar(
        text("SELECT audit_event_canonical(audit_event) FROM audit_event WHERE seq = :s"),
        {"s": target.seq},
    )
    forged = link_hash(target.prev_hash, canonical)
    await tampered(
        connection, "UPDATE audit_event SET hash = :h WHERE seq = :s", h=forged, s=target.seq
    )
    report = await verify_chain(connection)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (target.seq + 1, BreakKind.broken_link)


# Retention


async def append_aged(connection: AsyncConnection, ages_in_days: list[int]) -> None:
    """Events that occurred this many days ago, appended in this order."""
    now = utcnow()
    aged = []
    for days in ages_in_days:
        event = audit_event(AuditAction.token_issue, AuditOutcome.success, details={"age": days})
        event.occurred_at = now - timedelta(days=days)
        aged.append(event)
    async with AsyncSession(bind=connection) as session, session.begin():
        await record(session, *aged)


async def test_purge_removes_only_the_old_start_of_the_chain_and_leaves_an_anchor(
    chain_engine: AsyncEngine,
) -> None:
    cutoff = utcnow() - timedelta(days=100)
    async with chain_engine.begin() as connection:
        # The fourth is old too, but follows one still within retention: it waits for it.
        await append_aged(connection, [400, 300, 10, 200])
        assert await purge_audit_events(connection, cutoff, dry_run=True) == 2
        assert await connection.scalar(text("SELECT count(*) FROM audit_event")) == 4

        assert await purge_audit_events(connection, cutoff, dry_run=False) == 2
        remaining = (
            await connection.execute(
                text("SELECT seq, action, details FROM audit_event ORDER BY seq")
            )
        ).all()
        assert [(row.seq, row.details.get("age")) for row in remaining[:2]] == [(3, 10), (4, 200)]
        purge = remaining[-1]
        assert (purge.seq, purge.action) == (5, "audit.purge")
        assert (purge.details["through_seq"], purge.details["events"]) == (2, 2)
        anchor = (
            await connection.execute(text("SELECT seq, events_purged FROM audit_chain_anchor"))
        ).one()
        assert (anchor.seq, anchor.events_purged) == (2, 2)

        report = await verify_chain(connection)
        assert report.ok, report.problem
        assert (report.anchor_seq, report.first_seq, report.events) == (2, 3, 3)
        # Nothing more is past retention at the start: a second purge removes nothing.
        assert await purge_audit_events(connection, cutoff, dry_run=False) == 0


async def test_purge_of_an_empty_chain_removes_nothing(chain_engine: AsyncEngine) -> None:
    async with chain_engine.begin() as connection:
        assert await purge_audit_events(connection, utcnow(), dry_run=False) == 0
        assert (await verify_chain(connection)).ok


async def test_triage_audit_verify_and_purge(
    chain_engine: AsyncEngine, chain_url: str, tmp_path: Path
) -> None:
    async with chain_engine.begin() as connection:
        await append_aged(connection, [4000, 3000, 1])
    env = {"TRIAGE_ENVIRONMENT": "development", "TRIAGE_DATABASE_URL": chain_url}

    verified = run_triage("audit", "verify", cwd=tmp_path, **env)
    assert verified.returncode == 0, verified.stderr
    assert "audit chain OK: 3 events" in verified.stdout

    # The demo agreement keeps audit events eight years: the first two are past it.
    dry = run_triage("audit", "purge", "--dry-run", cwd=tmp_path, **env)
    assert dry.returncode == 0, dry.stderr
    assert ": 2 would be removed" in dry.stdout
    purged = run_triage("audit", "purge", cwd=tmp_path, **env)
    assert purged.returncode == 0, purged.stderr
    assert ": 2 removed" in purged.stdout
    verified = run_triage("audit", "verify", cwd=tmp_path, **env)
    assert verified.returncode == 0, verified.stderr
    assert "2 events from the purge anchor at seq 2" in verified.stdout

    async with chain_engine.begin() as connection:
        await tampered(connection, "UPDATE audit_event SET reason = 'x' WHERE seq = 3")
    broken = run_triage("audit", "verify", cwd=tmp_path, **env)
    assert broken.returncode == 1
    assert "BROKEN at seq 3: changed_row" in broken.stderr


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
