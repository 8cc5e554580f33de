"""The notified team's view of accesses to its crisis plans: list them, mark them read.

Every listing and every mark is itself audited: the list discloses who was looked up.
"""

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import people, principal_event, record
from api.errors import ServiceError
from api.notification import repository
from api.pagination import decode_cursor, page_of
from auth.principal import Principal
from models import (
    AccessNotification,
    AuditAction,
    DataClass,
    NotificationFilter,
    NotificationPage,
    NotificationRead,
    Partnership,
    utcnow,
)

DEFAULT_PAGE_SIZE = 25  # CP-IS shows the last 25 accesses
MAX_PAGE_SIZE = 100
# A notification says who accessed the person's data: the audit trail, as CP-IS shows it.
AUDIT_TRAIL = [DataClass.audit_trail.value]


class NotificationNotFound(ServiceError):
    status = 404
    type_slug = "notification-not-found"
    title = "Notification not found"


async def list_notifications(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    *,
    state: NotificationFilter,
    cursor: str | None,
    limit: int,
) -> NotificationPage:
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.list_notifications(
        session,
        organisation_code=principal.organisation_code,
        state=state,
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = page_of(rows, limit, lambda found: (found[0].created_at, found[0].id))
    unread = await repository.count_unread(session, principal.organisation_code)
    person_id, about = _disclosed([row for row, _ in page])
    await record(
        session,
        principal_event(
            AuditAction.notification_list,
            principal,
            None,
            {"state": state.value, **about},
            person_id=person_id,
            data_classes=AUDIT_TRAIL if page else (),
        ),
    )
    names = _organisation_names(partnership)
    return NotificationPage(
        items=[_read(row, nhs, names) for row, nhs in page],
        next_cursor=next_cursor,
        unread=unread,
    )


async def mark_read(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    notification_id: uuid.UUID,
) -> NotificationRead:
    """Mark read once; later calls keep the first read_at. Not ours, or no such id: 404 alike."""
    newly_read = await repository.mark_read(
        session, notification_id, principal.organisation_code, utcnow()
    )
    found = await repository.find_notification(
        session, notification_id, principal.organisation_code
    )
    if found is None:
        raise NotificationNotFound()
    row, nhs = found
    person_id, about = _disclosed([row])
    await record(
        session,
        principal_event(
            AuditAction.notification_read,
            principal,
            None,
            {**about, "newly_read": newly_read},
            person_id=person_id,
            data_classes=AUDIT_TRAIL,
        ),
    )
    return _read(row, nhs, _organisation_names(partnership))


def _disclosed(rows: list[AccessNotification]) -> tuple[uuid.UUID | None, dict[str, Any]]:
    """The person the notifications are about (or, for several, none, and their ids in the
    details), with the notifications' ids. Ids only: an audit event never carries an NHS number."""
    person_id, about = people([row.person_id for row in rows])
    return person_id, {"notification_ids": [str(row.id) for row in rows], **about}


def _organisation_names(partnership: Partnership) -> dict[str, str]:
    return {org.code: org.name for org in partnership.organisations}


def _read(row: AccessNotification, nhs_number: str, names: dict[str, str]) -> NotificationRead:
    return NotificationRead.from_row(row, nhs_number, names.get(row.actor_organisation_code))
