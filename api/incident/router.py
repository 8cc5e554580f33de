"""Incidents and their subjects: opened by the triage car, bound to by tokens, closed at the end."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from api import idempotency
from api.audit.repository import principal_event, record_refusal
from api.dependencies import ResourcesDep, SessionDep
from api.errors import problem_responses
from api.incident import service
from api.pagination import InvalidCursor
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import (
    AuditAction,
    AuditOutcome,
    IncidentCreate,
    IncidentPage,
    IncidentRead,
    IncidentStatus,
    Scope,
    SubjectCreate,
    SubjectRead,
)
from models.validation import PlausibleDatetime

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

CanOpen = Annotated[Principal, Depends(Authorizer(Scope.incident_open))]
CanList = Annotated[Principal, Depends(Authorizer(Scope.incident_review, Scope.incident_open))]
CanRead = Annotated[Principal, Depends(Authorizer(Scope.incident_read, Scope.incident_review))]
CanReadPeople = Annotated[Principal, Depends(Authorizer(Scope.incident_read))]
CanWrite = Annotated[Principal, Depends(Authorizer(Scope.incident_write))]

AUTH = (Unauthenticated, Forbidden)
WRITE_PROBLEMS = (
    *AUTH,
    service.IncidentNotFound,
    service.IncidentClosed,
    idempotency.InvalidIdempotencyKey,
    idempotency.IdempotencyKeyReused,
    idempotency.IdempotencyInProgress,
)


@router.post(
    "",
    status_code=201,
    response_model=IncidentRead,
    responses=problem_responses(
        *AUTH,
        service.InvalidIncidentRequest,
        service.IncidentQuotaExceeded,
        idempotency.InvalidIdempotencyKey,
        idempotency.IdempotencyKeyReused,
    ),
)
async def open_incident(
    payload: IncidentCreate,
    principal: CanOpen,
    session: SessionDep,
    resources: ResourcesDep,
    request: Request,
) -> JSONResponse:
    """Open an incident for the caller's organisation (street-triage purpose, unbound token)."""
    claimed = await idempotency.claim(session, request, principal)
    try:
        incident = await service.open_incident(session, resources.partnership, principal, payload)
    except service.IncidentQuotaExceeded as exc:
        record_refusal(
            session,
            principal_event(
                AuditAction.incident_open,
                principal,
                None,
                outcome=AuditOutcome.denied,
                reason="quota",
                route="/v1/incidents",
            ),
        )
        raise exc from None
    return claimed.respond(
        201, IncidentRead.from_row(incident), headers={"Location": f"/v1/incidents/{incident.id}"}
    )


@router.get(
    "",
    response_model=IncidentPage,
    responses=problem_responses(*AUTH, service.InvalidIncidentRequest, InvalidCursor),
)
async def list_incidents(
    principal: CanList,
    session: SessionDep,
    status: IncidentStatus | None = None,
    officer: Annotated[
        uuid.UUID | None, Query(description="User id of the officer who opened it.")
    ] = None,
    called_from: Annotated[
        PlausibleDatetime | None, Query(alias="from", description="Calls at or after.")
    ] = None,
    called_to: Annotated[
        PlausibleDatetime | None, Query(alias="to", description="Calls before.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 50,
) -> IncidentPage:
    """Incidents of the caller's organisation, newest call first (supervision), or the caller's own."""
    rows, next_cursor = await service.list_incidents(
        session,
        principal,
        status=status,
        officer=officer,
        called_from=called_from,
        called_to=called_to,
        cursor=cursor,
        limit=limit,
    )
    free_text = service.shows_free_text(principal)
    return IncidentPage(
        items=[IncidentRead.from_row(row, free_text=free_text) for row in rows],
        next_cursor=next_cursor,
    )


@router.get(
    "/{incident_id}",
    response_model=IncidentRead,
    responses=problem_responses(*AUTH, service.IncidentNotFound),
)
async def read_incident(
    incident_id: uuid.UUID, principal: CanRead, session: SessionDep
) -> IncidentRead:
    """Read an incident of the caller's organisation, or one naming the caller's trust."""
    incident = await service.show_incident(session, principal, incident_id)
    return IncidentRead.from_row(incident, free_text=service.shows_free_text(principal))


@router.post(
    "/{incident_id}/close",
    response_model=IncidentRead,
    responses=problem_responses(*WRITE_PROBLEMS, service.OutcomeMissing),
)
async def close_incident(
    incident_id: uuid.UUID, principal: CanWrite, session: SessionDep, request: Request
) -> JSONResponse:
    """Close the incident once its outcome is recorded; every token bound to it is revoked."""
    claimed = await idempotency.claim(session, request, principal)
    incident = await service.close_incident(session, principal, incident_id)
    return claimed.respond(200, IncidentRead.from_row(incident))


@router.post(
    "/{incident_id}/subjects",
    status_code=201,
    response_model=SubjectRead,
    responses=problem_responses(*WRITE_PROBLEMS, service.SubjectExists),
)
async def add_subject(
    incident_id: uuid.UUID,
    payload: SubjectCreate,
    principal: CanWrite,
    session: SessionDep,
    request: Request,
) -> JSONResponse:
    """Add a person to the incident: by NHS number (in the body, never the URL) or description."""
    claimed = await idempotency.claim(session, request, principal)
    subject = await service.add_subject(session, principal, incident_id, payload)
    return claimed.respond(201, subject)


@router.get(
    "/{incident_id}/subjects",
    response_model=list[SubjectRead],
    responses=problem_responses(*AUTH, service.IncidentNotFound),
)
async def list_subjects(
    incident_id: uuid.UUID, principal: CanReadPeople, session: SessionDep
) -> list[SubjectRead]:
    """The people this incident is about (bound token only: it shows NHS numbers)."""
    return await service.list_subjects(session, principal, incident_id)
