"""SQL for incidents and their subjects. Every read is scoped to the asking organisation in the
query itself; row-level security in PostgreSQL is the second lock behind it."""

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Incident, IncidentStatus, IncidentSubject, Person, utcnow


def _visible_to(organisation_code: str) -> ColumnElement[bool]:
    return or_(
        col(Incident.organisation_code) == organisation_code,
        col(Incident.partner_trust_code) == organisation_code,
    )


async def find_accessible_incident(
    session: AsyncSession,
    incident_id: uuid.UUID,
    organisation_code: str,
    *,
    for_update: bool = False,
) -> Incident | None:
    """The incident if it belongs to the organisation or names it as partner trust; else None."""
    statement = select(Incident).where(
        col(Incident.id) == incident_id, _visible_to(organisation_code)
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).one_or_none()


async def add(session: AsyncSession, row: Incident | IncidentSubject) -> None:
    session.add(row)
    await session.flush()


async def list_incidents(
    session: AsyncSession,
    *,
    organisation_code: str,
    opened_by: uuid.UUID | None,
    status: IncidentStatus | None,
    called_from: datetime | None,
    called_to: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Incident]:
    """Newest call first; keyset pagination on (time_of_call_at, id)."""
    statement = select(Incident).where(_visible_to(organisation_code))
    if opened_by is not None:
        statement = statement.where(col(Incident.opened_by) == opened_by)
    if status is not None:
        statement = statement.where(col(Incident.status) == status)
    if called_from is not None:
        statement = statement.where(col(Incident.time_of_call_at) >= called_from)
    if called_to is not None:
        statement = statement.where(col(Incident.time_of_call_at) < called_to)
    if after is not None:
        statement = statement.where(
            tuple_(col(Incident.time_of_call_at), col(Incident.id)) < tuple_(after[0], after[1])
        )
    statement = statement.order_by(col(Incident.time_of_call_at).desc(), col(Incident.id).desc())
    return list((await session.exec(statement.limit(limit))).all())


async def person_for(session: AsyncSession, nhs_number: str) -> Person:
    """The one row for this NHS number, created if new; safe under concurrent first sightings.

    Most people asked about have been asked about before: one round trip finds them."""
    by_number = select(Person).where(col(Person.nhs_number) == nhs_number)
    found = (await session.exec(by_number)).first()
    if found is not None:
        return found
    await session.exec(
        insert(Person)
        .values(id=uuid.uuid4(), nhs_number=nhs_number, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[col(Person.nhs_number)])
    )
    return (await session.exec(by_number)).one()


async def subjects_of(
    session: AsyncSession, incident_id: uuid.UUID
) -> list[tuple[IncidentSubject, str | None]]:
    statement = (
        select(IncidentSubject, col(Person.nhs_number))
        .join(Person, col(Person.id) == col(IncidentSubject.person_id), isouter=True)
        .where(col(IncidentSubject.incident_id) == incident_id)
        .order_by(col(IncidentSubject.added_at), col(IncidentSubject.id))
    )
    return [(subject, nhs) for subject, nhs in (await session.exec(statement)).all()]


async def subject_person_ids(session: AsyncSession, incident_id: uuid.UUID) -> list[uuid.UUID]:
    """The identified people the incident is about, for its audit events."""
    statement = select(col(IncidentSubject.person_id)).where(
        col(IncidentSubject.incident_id) == incident_id,
        col(IncidentSubject.person_id).is_not(None),
    )
    return [person_id for person_id in (await session.exec(statement)).all() if person_id]


async def subject_person_ids_of(
    session: AsyncSession, incident_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """The identified people a page of incidents is about, for the listing's audit event."""
    if not incident_ids:
        return []
    statement = (
        select(col(IncidentSubject.person_id))
        .where(
            col(IncidentSubject.incident_id).in_(incident_ids),
            col(IncidentSubject.person_id).is_not(None),
        )
        .distinct()
    )
    return [person_id for person_id in (await session.exec(statement)).all() if person_id]


async def find_subject(
    session: AsyncSession, incident_id: uuid.UUID, subject_id: uuid.UUID
) -> IncidentSubject | None:
    statement = select(IncidentSubject).where(
        col(IncidentSubject.id) == subject_id, col(IncidentSubject.incident_id) == incident_id
    )
    return (await session.exec(statement)).one_or_none()


async def subject_for_person(
    session: AsyncSession, incident_id: uuid.UUID, person_id: uuid.UUID
) -> IncidentSubject | None:
    statement = select(IncidentSubject).where(
        col(IncidentSubject.incident_id) == incident_id, col(IncidentSubject.person_id) == person_id
    )
    return (await session.exec(statement)).one_or_none()


# Concurrent opens by one user take turns from the quota count to the commit, as lookups do
# (api.lookup.repository.incident_taking_turn): otherwise ten opens sent at once all count the
# same rows.
TAKE_OPENING_TURN = text("SELECT pg_advisory_xact_lock(7303, hashtext(:user_id))")


async def take_opening_turn(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Hold the user's incident-opening lock until the transaction ends. A statement of its own,
    before the count, so the count's snapshot sees the open that was waited for."""
    connection = await session.connection()
    await connection.execute(TAKE_OPENING_TURN, {"user_id": str(user_id)})


async def opened_since(
    session: AsyncSession, user_id: uuid.UUID, since: datetime
) -> tuple[int, datetime | None]:
    """How many incidents the user has opened since then, and when the first of them was."""
    statement = select(func.count(), func.min(col(Incident.opened_at))).where(
        col(Incident.opened_by) == user_id, col(Incident.opened_at) >= since
    )
    count, first = (await session.exec(statement)).one()
    return count, first
