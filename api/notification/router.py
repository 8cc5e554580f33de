"""The CP-IS rule for the notified team: every access to its crisis plans, and marking them read."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.dependencies import ResourcesDep, SessionDep
from api.errors import problem_responses
from api.notification import service
from api.pagination import InvalidCursor
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import NotificationFilter, NotificationPage, NotificationRead, Scope

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

CanRead = Annotated[Principal, Depends(Authorizer(Scope.notification_read))]

AUTH = (Unauthenticated, Forbidden)


@router.get(
    "",
    response_model=NotificationPage,
    responses=problem_responses(*AUTH, InvalidCursor),
)
async def list_notifications(
    principal: CanRead,
    session: SessionDep,
    resources: ResourcesDep,
    state: Annotated[
        NotificationFilter, Query(description="Unread, read, or all notifications.")
    ] = NotificationFilter.all,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
) -> NotificationPage:
    """Accesses to your organisation's crisis plans, newest first, with your unread count."""
    return await service.list_notifications(
        session, resources.partnership, principal, state=state, cursor=cursor, limit=limit
    )


@router.post(
    "/{notification_id}/read",
    response_model=NotificationRead,
    responses=problem_responses(*AUTH, service.NotificationNotFound),
)
async def mark_notification_read(
    notification_id: uuid.UUID, principal: CanRead, session: SessionDep, resources: ResourcesDep
) -> NotificationRead:
    """Mark one of your organisation's notifications read; marking it again keeps the first time."""
    return await service.mark_read(session, resources.partnership, principal, notification_id)
