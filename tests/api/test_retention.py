"""Retention: `triage purge` removes incident data past the agreement's periods, keeps the outcome
report's figures through de-identified statistics, and a dry run changes nothing."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.migration import upgrade_async
from api.partnership import load_partnership
from api.retention.service import PurgeResult, RetentionNotAllowed, purge_incident_data
from api.settings import DEMO_PARTNERSHIP_FILE, Settings, async_database_url
from models import (
    APPLICATION_ROLE,
    AccessNotification,
    BreakGlassReview,
    FlagLookup,
    IdempotencyRecord,
    IssuedToken,
    Retention,
)
from tests.api.test_cli import run_triage
from tests.api.test_reports import Q1, make_quarter
from tests.api.test_reports import settings as two_forces_settings
from tests.conftest import Exchanger, bearer
from tests.database import scratch_database
from tests.report_data import AUTHOR_ID, FREE_TEXT, Outcome, Subject, make_incident

settings = two_forces_settings
RETENTION = load_partnership(DEMO_PARTNERSHIP_FILE).agreement.retention
INCIDENT_TABLES = (
    "incident",
    "incident_subject",
    "assessment",
    "assessment_revision",
    "assessment_signature",
    "incident_outcome",
    "flag_lookup",
    "access_notification",
    "issued_token",
    "break_glass_review",
    "idempotency_record",
    "purged_prior_contact",
    "incident_fact",
)
GROUPINGS = ("month", "week", "outcome", "triage_mode", "area")
ORGANISATIONS = ("NSP", "SWP", "RQI", "Y05868")


def purge_time(cutoff: datetime, retention: Retention = RETENTION) -> datetime:
    """The moment at which incidents called before `cutoff` are past retention."""
    return cutoff + timedelta(days=retention.incident_days)


async def purge(connection: AsyncConnection, now: datetime) -> PurgeResult:
    """The purge in the test's transaction, as the connecting superuser (the schema owner)."""
    await connection.execute(text("RESET ROLE"))
    async with (
        AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session,
        session.begin(),
    ):
        return await purge_incident_data(session, RETENTION, now=now)


async def every_report(exchanger: Exchanger) -> dict[tuple[str, str], Any]:
    """Every organisation's report over the quarter, in every grouping."""
    reports: dict[tuple[str, str], Any] = {}
    for org in ORGANISATIONS:
        token = await exchanger.token("supervisor", org, "supervision")
        for group_by in GROUPINGS:
            response = await exchanger.client.get(
                "/v1/reports/outcomes", params=Q1 | {"group_by": group_by}, headers=bearer(token)
            )
            assert response.status_code == 200, response.text
            reports[org, group_by] = response.json()
    return reports


async def counts(connection: AsyncConnection) -> dict[str, int]:
    await connection.execute(text("RESET ROLE"))
    found = {}
    for table in (*INCIDENT_TABLES, "outcome_statistic", "person", "audit_event"):
        # Tokens not bound to an incident (the supervisors' here) are not incident data.
        bound = " WHERE incident_id IS NOT NULL" if table == "issued_token" else ""
        query = text(f"SELECT count(*) FROM {table}{bound}")
        found[table] = (await connection.execute(query)).scalar_one()
    return found


async def test_a_purged_period_reports_the_same_figures(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await make_quarter(connection)
    before = await every_report(exchanger)
    assert before["NSP", "month"]["total"]["incidents"] == 7

    result = await purge(connection, purge_time(datetime(2025, 4, 15, tzinfo=UTC)))
    assert result.statistics_written == 10  # every incident of the set
    assert result.deleted["incident"] == 10
    remaining = await counts(connection)
    assert {table: remaining[table] for table in INCIDENT_TABLES} == dict.fromkeys(
        INCIDENT_TABLES, 0
    )
    assert remaining["outcome_statistic"] == 10

    assert await every_report(exchanger) == before


async def test_purging_in_steps_keeps_repeat_contacts_of_the_incidents_kept(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """Purged on 11 January, A1 goes; D1 and A2 stay, and were repeat contacts through A1. Then
    on 1 February, then the rest: the figures never move."""
    made = await make_quarter(connection)
    before = await every_report(exchanger)

    first = await purge(connection, purge_time(datetime(2025, 1, 11, tzinfo=UTC)))
    assert (first.statistics_written, first.deleted["incident"]) == (2, 2)  # X2, A1
    # D1: NSP saw person 1 in A1; Y05868 did not. A2: both NSP and RQI did.
    assert first.prior_contacts_carried == 2
    await connection.execute(text("RESET ROLE"))
    carried = await connection.execute(
        text("SELECT incident_id, seen_by_force, seen_by_trust FROM purged_prior_contact")
    )
    assert {row.incident_id: (row.seen_by_force, row.seen_by_trust) for row in carried} == {
        made["D1"]: (True, False),
        made["A2"]: (True, True),
    }
    assert await every_report(exchanger) == before

    second = await purge(connection, purge_time(datetime(2025, 2, 1, tzinfo=UTC)))
    assert second.deleted["incident"] == 4  # D1, S1, A2, A3
    assert second.deleted["purged_prior_contact"] == 2
    assert await every_report(exchanger) == before

    await purge(connection, purge_time(datetime(2025, 6, 1, tzinfo=UTC)))
    assert await every_report(exchanger) == before


async def test_what_stays_names_no_one(exchanger: Exchanger, connection: AsyncConnection) -> None:
    await make_quarter(connection)
    people = (await counts(connection))["person"]
    await purge(connection, purge_time(datetime(2025, 4, 15, tzinfo=UTC)))
    await connection.execute(text("RESET ROLE"))
    columns = await connection.execute(
        text(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'outcome_statistic' ORDER BY ordinal_position"
        )
    )
    assert [row[0] for row in columns] == [
        "id",
        "organisation_code",
        "partner_trust_code",
        "call_date",
        "triage_mode",
        "area_code",
        "codes",
        "place_of_safety",
        "conveyance",
        "seconds_at_scene",
        "seconds_to_arrival",
        "assessed",
        "crisis_flag_consulted",
        "crisis_flag_changed_decision",
        "repeat_contact_force",
        "repeat_contact_trust",
        "purged_at",
        "lookups",
    ]
    dump = (
        await connection.execute(text("SELECT json_agg(s)::text FROM outcome_statistic s"))
    ).scalar_one()
    assert [word for word in FREE_TEXT if word in dump] == []
    assert "SECRET" not in dump
    # People stay: retained audit events name them, and a subject access request finds those.
    assert (await counts(connection))["person"] == people


async def incident_trail(
    connection: AsyncConnection, incident_id: uuid.UUID, person: uuid.UUID, *, at: datetime
) -> dict[str, uuid.UUID]:
    """A lookup with its notification, a bound token, a reviewed break-glass, and an audit event."""
    await connection.execute(text("RESET ROLE"))
    lookup, jti, glass_jti = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await connection.execute(
        insert(FlagLookup).values(
            id=lookup,
            incident_id=incident_id,
            user_id=AUTHOR_ID,
            organisation_code="NSP",
            person_id=person,
            known_to_services="yes",
            created_at=at,
        )
    )
    notification = uuid.uuid4()
    await connection.execute(
        insert(AccessNotification).values(
            id=notification,
            organisation_code="RQI",
            person_id=person,
            lookup_id=lookup,
            actor_user_id=AUTHOR_ID,
            actor_name="Report data officer",
            actor_role="officer",
            actor_organisation_code="NSP",
            incident_id=incident_id,
            cad_reference="LP-20250110-0001",
            purpose="street-triage",
            break_glass=False,
            created_at=at,
        )
    )
    for token, purpose in ((jti, "street-triage"), (glass_jti, "break-glass")):
        await connection.execute(
            insert(IssuedToken).values(
                jti=token,
                user_id=AUTHOR_ID,
                role="officer",
                organisation_code="NSP",
                purpose=purpose,
                scope="incident:read",
                incident_id=incident_id,
                issued_at=at,
                expires_at=at + timedelta(minutes=5),
            )
        )
    return {"lookup": lookup, "notification": notification, "token": jti, "glass": glass_jti}


async def break_glass(
    connection: AsyncConnection, incident_id: uuid.UUID, jti: uuid.UUID, *, pending: bool
) -> None:
    review = {
        "id": uuid.uuid4(),
        "token_jti": jti,
        "user_id": AUTHOR_ID,
        "organisation_code": "RQI",
        "incident_id": incident_id,
        "justification": "Needed the full plan: he was at height and the trust was closed.",
        "status": "pending" if pending else "reviewed",
        "created_at": datetime(2025, 1, 10, tzinfo=UTC),
    }
    if not pending:
        review |= {
            "reviewed_at": datetime(2025, 1, 12, tzinfo=UTC),
            "reviewed_by": AUTHOR_ID,
            "reviewer_name": "IG officer",
            "conclusion": "justified",
            "finding": "Justified: risk to life, trust closed.",
        }
    await connection.execute(insert(BreakGlassReview).values(**review))


async def person_of(connection: AsyncConnection, incident_id: uuid.UUID) -> uuid.UUID:
    found = await connection.execute(
        text("SELECT person_id FROM incident_subject WHERE incident_id = :id"), {"id": incident_id}
    )
    value: uuid.UUID = found.scalar_one()
    return value


async def test_everything_of_a_purged_incident_goes_and_the_rest_stays(
    connection: AsyncConnection,
) -> None:
    old_call = datetime(2019, 1, 10, 10, tzinfo=UTC)
    now = purge_time(datetime(2019, 2, 1, tzinfo=UTC))
    old = await make_incident(
        connection,
        called=old_call,
        arrival_minutes=10,
        outcome=Outcome(["advice_and_support"], minutes_at_scene=20),
        subjects=[Subject(7)],
    )
    kept = await make_incident(
        connection,
        called=now - timedelta(days=30),
        arrival_minutes=10,
        outcome=Outcome(["advice_and_support"], minutes_at_scene=20),
        subjects=[Subject(7)],
    )
    person = await person_of(connection, old)
    old_trail = await incident_trail(connection, old, person, at=old_call)
    await break_glass(connection, old, old_trail["glass"], pending=False)
    # On the kept incident: a notification past its own retention (365 days) goes, a recent stays.
    stale = await incident_trail(connection, kept, person, at=now - timedelta(days=400))
    fresh = await incident_trail(connection, kept, person, at=now - timedelta(days=10))
    for user, created in ((AUTHOR_ID, now - timedelta(hours=25)), (uuid.uuid4(), now)):
        await connection.execute(
            insert(IdempotencyRecord).values(
                organisation_code="NSP",
                user_id=user,
                key=f"key-{created.isoformat()}",
                route="POST /v1/incidents",
                request_hash=b"x",
                response_headers={},
                created_at=created,
            )
        )
    audit_before = (await counts(connection))["audit_event"]

    result = await purge(connection, now)

    assert result.incidents_held == 0
    assert result.deleted == {
        "access_notification": 2,  # the old incident's, and the stale one of the kept incident
        "flag_lookup": 1,
        "assessment_signature": 0,
        "assessment_revision": 0,
        "assessment": 0,
        "incident_fact": 1,
        "incident_outcome": 1,
        "incident_subject": 1,
        "purged_prior_contact": 0,
        "break_glass_review": 1,
        "issued_token": 2,
        "incident": 1,
        "idempotency_record": 1,
    }
    await connection.execute(text("RESET ROLE"))
    left = await connection.execute(text("SELECT id FROM access_notification"))
    assert [row.id for row in left] == [fresh["notification"]]
    assert (
        await connection.execute(text("SELECT count(*) FROM incident WHERE id = :id"), {"id": kept})
    ).scalar_one() == 1
    assert stale["lookup"]  # the kept incident's lookups stay with it
    assert (
        await connection.execute(
            text("SELECT count(*) FROM flag_lookup WHERE incident_id = :id"), {"id": kept}
        )
    ).scalar_one() == 2
    # The purge is itself audited; no audit event is removed.
    after = await counts(connection)
    assert after["audit_event"] == audit_before + 1
    event = (
        await connection.execute(
            text("SELECT details FROM audit_event WHERE action = 'retention.purge'")
        )
    ).scalar_one()
    assert event["deleted"] == result.deleted


async def test_a_pending_break_glass_review_holds_its_incident(
    connection: AsyncConnection,
) -> None:
    called = datetime(2019, 1, 10, 10, tzinfo=UTC)
    incident = await make_incident(connection, called=called, subjects=[Subject(8)])
    trail = await incident_trail(
        connection, incident, await person_of(connection, incident), at=called
    )
    await break_glass(connection, incident, trail["glass"], pending=True)
    result = await purge(connection, purge_time(datetime(2019, 2, 1, tzinfo=UTC)))
    assert result.incidents_held == 1
    assert result.deleted["incident"] == 0
    assert result.statistics_written == 0
    # Its access notification went on the notification retention nonetheless.
    assert result.deleted["access_notification"] == 1


async def test_a_dry_run_reports_the_same_counts_and_changes_nothing(
    connection: AsyncConnection,
) -> None:
    await make_quarter(connection)
    before = await counts(connection)
    now = purge_time(datetime(2025, 2, 1, tzinfo=UTC))
    dry = await connection.begin_nested()
    dry_result = await purge(connection, now)
    await dry.rollback()
    assert await counts(connection) == before
    real = await purge(connection, now)
    assert real == dry_result
    assert (await counts(connection))["incident"] == before["incident"] - 6


async def test_the_application_role_cannot_purge(connection: AsyncConnection) -> None:
    await make_quarter(connection)
    await connection.execute(text(f"SET LOCAL ROLE {APPLICATION_ROLE}"))
    async with (
        AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session,
        session.begin(),
    ):
        with pytest.raises(RetentionNotAllowed):
            await purge_incident_data(
                session, RETENTION, now=purge_time(datetime(2025, 6, 1, tzinfo=UTC))
            )


async def test_the_schema_owner_purges_through_forced_row_level_security(
    database_server_url: str,
) -> None:
    """In production the owner is no superuser: FORCE ROW LEVEL SECURITY hides every row from it
    too, except in the purge's own transaction. Here the schema belongs to such a role."""
    owner = f"triage_owner_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_server_url)
    try:
        # Roles belong to the server; the application's role may not be made yet.
        if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APPLICATION_ROLE):
            await admin.execute(f"CREATE ROLE {APPLICATION_ROLE} NOLOGIN")
        await admin.execute(f"CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS")
        await admin.execute(f"GRANT {APPLICATION_ROLE} TO {owner} WITH ADMIN OPTION")
        await _purge_as_owner(database_server_url, owner)
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {owner}")
        await admin.close()


async def _purge_as_owner(database_server_url: str, owner: str) -> None:
    async with scratch_database(database_server_url, prefix="triage_owner") as url:
        admin = await asyncpg.connect(url)
        try:
            await admin.execute(f"ALTER DATABASE {make_url(url).database} OWNER TO {owner}")
            await admin.execute(f"ALTER SCHEMA public OWNER TO {owner}")
        finally:
            await admin.close()
        owner_url = make_url(url).set(username=owner).render_as_string(hide_password=False)
        await upgrade_async(owner_url)
        engine = create_async_engine(async_database_url(owner_url))
        try:
            async with engine.connect() as connection:
                async with connection.begin():
                    privileged = await connection.execute(
                        text(
                            "SELECT rolsuper OR rolbypassrls FROM pg_roles"
                            " WHERE rolname = current_user"
                        )
                    )
                    assert privileged.scalar_one() is False
                    await connection.execute(
                        text("SELECT set_config('app.maintenance', 'retention', true)")
                    )
                    await _organisations(connection)
                    await make_quarter(connection)
                # Outside the purge, the owner sees no incident at all.
                async with connection.begin():
                    seen = await connection.execute(text("SELECT count(*) FROM incident"))
                    assert seen.scalar_one() == 0
                async with connection.begin():
                    result = await purge(connection, purge_time(datetime(2025, 4, 15, tzinfo=UTC)))
                assert result.deleted["incident"] == 10
                assert result.statistics_written == 10
                async with connection.begin():
                    await connection.execute(
                        text("SELECT set_config('app.maintenance', 'retention', true)")
                    )
                    left = await connection.execute(text("SELECT count(*) FROM incident"))
                    assert left.scalar_one() == 0
                    kept = await connection.execute(text("SELECT count(*) FROM outcome_statistic"))
                    assert kept.scalar_one() == 10
        finally:
            await engine.dispose()


@pytest.fixture
async def committed_database(database_server_url: str) -> AsyncIterator[str]:
    """Three incidents from 2019, long past six years, and one from last month."""
    async with scratch_database(database_server_url, prefix="triage_purge") as url:
        await upgrade_async(url)
        engine = create_async_engine(async_database_url(url))
        try:
            async with engine.begin() as connection:
                await _organisations(connection)
                for day in (3, 4, 5):
                    await make_incident(
                        connection,
                        called=datetime(2019, 3, day, 10, tzinfo=UTC),
                        arrival_minutes=12,
                        outcome=Outcome(["referral_cmht"], minutes_at_scene=25),
                        subjects=[Subject(day)],
                    )
                await make_incident(connection, called=datetime.now(UTC) - timedelta(days=30))
        finally:
            await engine.dispose()
        yield url


async def _organisations(connection: AsyncConnection) -> None:
    for code, kind in (
        ("NSP", "police_force"),
        ("SWP", "police_force"),
        ("RQI", "nhs_trust"),
        ("Y05868", "nhs_trust"),
    ):
        await connection.execute(
            text(
                "INSERT INTO organisation (id, code, name, kind, active, created_at, updated_at)"
                " VALUES (gen_random_uuid(), :code, :code, :kind, true, now(), now())"
            ),
            {"code": code, "kind": kind},
        )


async def test_triage_purge_from_the_command_line(
    committed_database: str, tmp_path: Path, settings: Settings
) -> None:
    """The real command, as an operator runs it: a dry run first, then the purge."""
    environment = {
        "TRIAGE_DATABASE_URL": committed_database,
        "TRIAGE_ENVIRONMENT": "development",
        "TRIAGE_KEYS_DIR": str(tmp_path / "keys"),
        "TRIAGE_LOG_LEVEL": "WARNING",
    }

    async def incidents() -> int:
        connection = await asyncpg.connect(committed_database)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM incident"))
        finally:
            await connection.close()

    dry = run_triage("purge", "--dry-run", "--json", cwd=tmp_path, **environment)
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True
    assert planned["deleted"]["incident"] == 3
    assert planned["statistics_written"] == 3
    # The audit trail's own purge runs in the same transaction: nothing here is eight years old.
    assert planned["audit_events"] == 0
    assert await incidents() == 4

    done = run_triage("purge", "--json", cwd=tmp_path, **environment)
    assert done.returncode == 0, done.stderr
    purged = json.loads(done.stdout)
    assert purged["dry_run"] is False
    assert purged["deleted"] == planned["deleted"]
    assert await incidents() == 1

    plain = run_triage("purge", "--dry-run", cwd=tmp_path, **environment)
    assert plain.returncode == 0, plain.stderr
    assert "would be deleted (dry run: nothing changed)" in plain.stdout
    assert "incident " in plain.stdout
    assert "audit_event" in plain.stdout
