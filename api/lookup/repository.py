"""SQL for lookups: quota counts, the lookup record, and notifications to custodians."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, text
from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import record
from models import AccessNotification, AuditEvent, FlagLookup


@dataclass(frozen=True)
class QuotaUsage:
    by_user: int
    by_organisation: int
    people: int
    person_seen: bool


# Concurrent lookups by one user, or on one incident, take turns from the quota check to the
# commit: without this, ten lookups sent at once all count the same rows and all pass. Taken in
# this order only, so two lookups never wait for each other crosswise.
TAKE_TURNS = text(
    "SELECT pg_advisory_xact_lock(7301, hashtext(:user_id)),"
    " pg_advisory_xact_lock(7302, hashtext(:incident_id))"
)


async def take_turns(session: AsyncSession, user_id: uuid.UUID, incident_id: uuid.UUID) -> None:
    """Hold the user's and the incident's lookup locks until the transaction ends.

    A statement of its own, before the counts: a statement's snapshot is taken when it starts, so
    counts in the same statement as the wait would miss the lookup that was waited for."""
    connection = await session.connection()
    await connection.execute(TAKE_TURNS, {"user_id": str(user_id), "incident_id": str(incident_id)})


# Written out once rather than built per request: this runs before every lookup. Each count is
# one index range; none reads the incident's whole history.
QUOTA_USAGE = text(
    """
    SELECT
      (SELECT count(*) FROM flag_lookup
        WHERE user_id = :user_id AND created_at >= :user_since) AS by_user,
      (SELECT count(*) FROM flag_lookup
        WHERE organisation_code = :organisation_code
          AND created_at >= :organisation_since) AS by_organisation,
      (SELECT count(DISTINCT person_id) FROM flag_lookup
        WHERE incident_id = :incident_id) AS people,
      EXISTS (SELECT 1 FROM flag_lookup JOIN person ON person.id = flag_lookup.person_id
        WHERE flag_lookup.incident_id = :incident_id
          AND person.nhs_number = :nhs_number) AS person_seen
    """
)


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
    connection = await session.connection()
    row = (
        await connection.execute(
            QUOTA_USAGE,
            {
                "user_id": user_id,
                "user_since": user_since,
                "organisation_code": organisation_code,
                "organisation_since": organisation_since,
                "incident_id": incident_id,
                "nhs_number": nhs_number,
            },
        )
    ).one()
    return QuotaUsage(
        by_user=row.by_user,
        by_organisation=row.by_organisation,
        people=row.people,
        person_seen=row.person_seen,
    )


async def save(
    session: AsyncSession,
    lookup: FlagLookup,
    notifications: list[AccessNotification],
    event: AuditEvent,
) -> None:
    """The lookup, its notifications and its audit event, in the request's transaction.

    Plain inserts, not the ORM's unit of work: the rows are never read back, and at the scene
    every millisecond of this is the officer's wait."""
    await session.exec(insert(FlagLookup).values(lookup.model_dump()))
    if notifications:
        await session.exec(
            insert(AccessNotification), params=[row.model_dump() for row in notifications]
        )
    await record(session, event)
