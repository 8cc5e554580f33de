"""SQL for lookups: the incident and the lookup's turn, quota counts, the person, the lookup
record with its notifications and audit event.

The lookup is the hot path at the scene: these statements go to the driver's connection inside the
request's transaction (`api.database.driver_connection`), skipping the ORM's statement building and
result processing, which cost more than the statements themselves (bench/README.md)."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import events_json
from api.database import driver_connection
from models import AccessNotification, AuditEvent, FlagLookup, IncidentStatus, utcnow


@dataclass(frozen=True)
class LookupIncident:
    status: IncidentStatus
    cad_reference: str


@dataclass(frozen=True)
class QuotaUsage:
    by_user: int
    by_organisation: int
    people: int
    person_seen: bool


# The incident as the caller's organisation may see it (its own, or naming it as partner trust),
# and the lookup's turn: concurrent lookups by one user, or on one incident, take turns from the
# quota check to the commit; without this, ten lookups sent at once all count the same rows and all
# pass. The locks are taken in this order only, so two lookups never wait for each other crosswise,
# and only when the incident is visible. The counts come in a statement of their own, after this
# one: a statement's snapshot is taken when it starts, so counts in the same statement as the wait
# would miss the lookup that was waited for.
_INCIDENT_AND_TURN = (
    "SELECT incident.status, incident.cad_reference,"
    " pg_advisory_xact_lock(7301, hashtext($3)), pg_advisory_xact_lock(7302, hashtext($4))"
    " FROM incident"
    " WHERE incident.id = $1"
    " AND (incident.organisation_code = $2 OR incident.partner_trust_code = $2)"
)


async def incident_taking_turn(
    session: AsyncSession, incident_id: uuid.UUID, organisation_code: str, user_id: uuid.UUID
) -> LookupIncident | None:
    """The incident if the organisation may see it, holding the user's and the incident's lookup
    locks until the transaction ends; None (and no lock) if it may not."""
    connection = await driver_connection(session)
    row = await connection.fetchrow(
        _INCIDENT_AND_TURN, incident_id, organisation_code, str(user_id), str(incident_id)
    )
    if row is None:
        return None
    return LookupIncident(IncidentStatus(row["status"]), row["cad_reference"])


# Each count is one index range; none reads the incident's whole history.
_QUOTA_USAGE = """
    SELECT
      (SELECT count(*) FROM flag_lookup
        WHERE user_id = $1 AND created_at >= $2) AS by_user,
      (SELECT count(*) FROM flag_lookup
        WHERE organisation_code = $3 AND created_at >= $4) AS by_organisation,
      (SELECT count(DISTINCT person_id) FROM flag_lookup
        WHERE incident_id = $5) AS people,
      EXISTS (SELECT 1 FROM flag_lookup JOIN person ON person.id = flag_lookup.person_id
        WHERE flag_lookup.incident_id = $5 AND person.nhs_number = $6) AS person_seen
    """


async def quota_usage(
    session: AsyncSession,
    user_id: uuid.UUID,
    organisation_code: str,
    incident_id: uuid.UUID,
    nhs_number: str | None,
    *,
    user_since: datetime,
    organisation_since: datetime,
) -> QuotaUsage:
    """Every quota's count in one round trip."""
    connection = await driver_connection(session)
    row = await connection.fetchrow(
        _QUOTA_USAGE,
        user_id,
        user_since,
        organisation_code,
        organisation_since,
        incident_id,
        nhs_number,
    )
    assert row is not None  # an aggregate always answers
    return QuotaUsage(
        by_user=row["by_user"],
        by_organisation=row["by_organisation"],
        people=row["people"],
        person_seen=row["person_seen"],
    )


_PERSON_BY_NUMBER = "SELECT id FROM person WHERE nhs_number = $1"
_ADD_PERSON = (
    "INSERT INTO person (id, nhs_number, created_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (nhs_number) DO NOTHING"
)


async def person_id_for(session: AsyncSession, nhs_number: str) -> uuid.UUID:
    """The one person row's id for this NHS number, created if new; safe under concurrent first
    sightings (a conflicting insert waits for the other transaction, then the row is read).

    Most people asked about have been asked about before: one round trip finds them."""
    connection = await driver_connection(session)
    found: uuid.UUID | None = await connection.fetchval(_PERSON_BY_NUMBER, nhs_number)
    if found is not None:
        return found
    await connection.execute(_ADD_PERSON, uuid.uuid4(), nhs_number, utcnow())
    made: uuid.UUID = await connection.fetchval(_PERSON_BY_NUMBER, nhs_number)
    return made


# The lookup record, its notifications and its audit event in one round trip. Rows travel as JSON
# and are expanded by the table's own row type, so every column is written as the model holds it.
# The notifications' reference to the lookup is checked at the end of the statement, when the
# lookup row is there.
_SAVE = (
    "WITH recorded AS ("
    " INSERT INTO flag_lookup SELECT * FROM jsonb_populate_record(NULL::flag_lookup, $1::jsonb)),"
    " notified AS ("
    " INSERT INTO access_notification"
    " SELECT * FROM jsonb_populate_recordset(NULL::access_notification, $2::jsonb))"
    " SELECT audit_append($3::jsonb)"
)


async def save(
    session: AsyncSession,
    lookup: FlagLookup,
    notifications: list[AccessNotification],
    event: AuditEvent,
) -> None:
    """The lookup, its notifications and its audit event, in the request's transaction: the audit
    event commits or rolls back with the disclosure it describes."""
    connection = await driver_connection(session)
    await connection.execute(
        _SAVE,
        lookup.model_dump_json(),
        json.dumps([row.model_dump(mode="json") for row in notifications]),
        events_json(event),
    )
