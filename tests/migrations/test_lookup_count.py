"""An incident's count of lookups in its report facts stays exact when a lookup and another write
to the incident (its outcome) commit at the same time: the refresh run for the outcome must not
write back a count taken before the lookup committed (migration 0017)."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.migration import upgrade_async
from tests.database import scratch_database


@pytest.fixture
async def database(database_server_url: str) -> AsyncIterator[str]:
    async with scratch_database(database_server_url, prefix="triage_lookup_count") as url:
        await upgrade_async(url)
        yield url


async def an_incident(connection: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    user, incident = uuid.uuid4(), uuid.uuid4()
    await connection.execute(
        "INSERT INTO organisation (id, code, name, kind, active, created_at, updated_at)"
        " VALUES ($1, 'NSP', 'Force', 'police_force', true, now(), now())",
        uuid.uuid4(),
    )
    await connection.execute(
        "INSERT INTO user_account (id, issuer, subject, display_name, role, organisation_code,"
        " active, first_seen_at, last_seen_at)"
        " VALUES ($1, 'issuer', $2, 'Officer', 'officer', 'NSP', true, now(), now())",
        user,
        str(user),
    )
    await connection.execute(
        "INSERT INTO incident (id, cad_reference, organisation_code, status, time_of_call_at,"
        " attendance_reason, triage_mode, opened_by, location_area_code)"
        " VALUES ($1, 'CAD1', 'NSP', 'open', now(), 'other', 'phone', $2, 'E01')",
        incident,
        user,
    )
    return user, incident


async def look_up(connection: asyncpg.Connection, incident: uuid.UUID, user: uuid.UUID) -> None:
    await connection.execute(
        "INSERT INTO flag_lookup (id, incident_id, user_id, organisation_code,"
        " known_to_services, created_at) VALUES ($1, $2, $3, 'NSP', 'no', now())",
        uuid.uuid4(),
        incident,
        user,
    )


async def test_a_lookup_committing_during_an_outcome_write_is_counted(database: str) -> None:
    admin, outcome_writer, officer = [await asyncpg.connect(database) for _ in range(3)]
    try:
        user, incident = await an_incident(admin)
        await look_up(admin, incident, user)
        # The lookup has counted itself and holds the incident's fact row, uncommitted.
        await officer.execute("BEGIN")
        await look_up(officer, incident, user)
        # The outcome's refresh reads the lookups before that one commits, then waits for the row.
        await outcome_writer.execute("BEGIN")
        writing = asyncio.ensure_future(
            outcome_writer.execute(
                "INSERT INTO incident_outcome (incident_id, codes, revision, recorded_by,"
                " recorded_at) VALUES ($1, '[\"advice_and_support\"]'::jsonb, 1, $2, now())",
                incident,
                user,
            )
        )
        await asyncio.sleep(0.5)
        await officer.execute("COMMIT")
        await writing
        await outcome_writer.execute("COMMIT")
        await look_up(admin, incident, user)
        counted = await admin.fetchval(
            "SELECT lookups FROM incident_fact WHERE incident_id = $1", incident
        )
        made = await admin.fetchval(
            "SELECT count(*) FROM flag_lookup WHERE incident_id = $1", incident
        )
        assert (counted, made) == (3, 3)
        codes = await admin.fetchval(
            "SELECT codes FROM incident_fact WHERE incident_id = $1", incident
        )
        assert "advice_and_support" in codes  # the outcome's own refresh still landed
    finally:
        for connection in (admin, outcome_writer, officer):
            await connection.close()
