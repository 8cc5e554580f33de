"""SQL for incidents. Every read is scoped to the asking organisation in the query itself."""

import uuid

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Incident


async def find_accessible_incident(
    session: AsyncSession, incident_id: uuid.UUID, organisation_code: str
) -> Incident | None:
    """The incident if it belongs to the organisation or names it as partner trust; else None."""
    statement = select(Incident).where(
        col(Incident.id) == incident_id,
        or_(
            col(Incident.organisation_code) == organisation_code,
            col(Incident.partner_trust_code) == organisation_code,
        ),
    )
    return (await session.exec(statement)).one_or_none()


async def add_incident(session: AsyncSession, incident: Incident) -> Incident:
    session.add(incident)
    await session.flush()
    return incident
