"""SQL for lookups: quota counts, the lookup record, and notifications to custodians."""

import uuid
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import AccessNotification, FlagLookup


async def lookups_by_user_since(session: AsyncSession, user_id: uuid.UUID, since: datetime) -> int:
    statement = select(func.count()).where(
        col(FlagLookup.user_id) == user_id, col(FlagLookup.created_at) >= since
    )
    return int((await session.exec(statement)).one())


async def lookups_by_organisation_since(
    session: AsyncSession, organisation_code: str, since: datetime
) -> int:
    statement = select(func.count()).where(
        col(FlagLookup.organisation_code) == organisation_code, col(FlagLookup.created_at) >= since
    )
    return int((await session.exec(statement)).one())


async def people_looked_up(session: AsyncSession, incident_id: uuid.UUID) -> set[uuid.UUID]:
    statement = select(col(FlagLookup.person_id)).where(
        col(FlagLookup.incident_id) == incident_id, col(FlagLookup.person_id).is_not(None)
    )
    return {person for person in (await session.exec(statement)).all() if person is not None}


async def add(session: AsyncSession, *rows: FlagLookup | AccessNotification) -> None:
    session.add_all(rows)
    await session.flush()
