"""SQL for access notifications. Every statement names the notified organisation itself;
row-level security (only the notified organisation reads and marks its rows) is the second lock."""

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import AccessNotification, NotificationFilter, Person


def _addressed_to(organisation_code: str) -> ColumnElement[bool]:
    return col(AccessNotification.organisation_code) == organisation_code


async def list_notifications(
    session: AsyncSession,
    *,
    organisation_code: str,
    state: NotificationFilter,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[AccessNotification, str]]:
    """Newest first, each with the person's NHS number; keyset pagination on (created_at, id)."""
    statement = (
        select(AccessNotification, col(Person.nhs_number))
        .join(Person, col(Person.id) == col(AccessNotification.person_id))
        .where(_addressed_to(organisation_code))
    )
    if state == NotificationFilter.unread:
        statement = statement.where(col(AccessNotification.read_at).is_(None))
    elif state == NotificationFilter.read:
        statement = statement.where(col(AccessNotification.read_at).is_not(None))
    if after is not None:
        statement = statement.where(
            tuple_(col(AccessNotification.created_at), col(AccessNotification.id))
            < tuple_(after[0], after[1])
        )
    statement = statement.order_by(
        col(AccessNotification.created_at).desc(), col(AccessNotification.id).desc()
    ).limit(limit)
    return [(row, nhs) for row, nhs in (await session.exec(statement)).all()]


async def count_unread(session: AsyncSession, organisation_code: str) -> int:
    statement = select(func.count()).where(
        _addressed_to(organisation_code), col(AccessNotification.read_at).is_(None)
    )
    return int((await session.exec(statement)).one())


async def find_notification(
    session: AsyncSession, notification_id: uuid.UUID, organisation_code: str
) -> tuple[AccessNotification, str] | None:
    statement = (
        select(AccessNotification, col(Person.nhs_number))
        .join(Person, col(Person.id) == col(AccessNotification.person_id))
        .where(col(AccessNotification.id) == notification_id, _addressed_to(organisation_code))
    )
    found = (await session.exec(statement)).one_or_none()
    return None if found is None else (found[0], found[1])


async def mark_read(
    session: AsyncSession, notification_id: uuid.UUID, organisation_code: str, at: datetime
) -> bool:
    """Set read_at if it is unset; whether this call set it. Two at once: the row lock makes the
    second wait and then find read_at set, so the first time stands."""
    statement = (
        update(AccessNotification)
        .where(
            col(AccessNotification.id) == notification_id,
            _addressed_to(organisation_code),
            col(AccessNotification.read_at).is_(None),
        )
        .values(read_at=at)
        .execution_options(synchronize_session=False)
    )
    result = await session.exec(statement)
    return bool(result.rowcount)
