"""Incidents: opened by the triage car, bound to by tokens, closed to end every bound token."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from api.dependencies import ResourcesDep, SessionDep
from api.errors import problem_responses
from api.incident import service
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import IncidentCreate, IncidentRead, Scope

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

CanOpen = Annotated[Principal, Depends(Authorizer(Scope.incident_open))]
CanRead = Annotated[Principal, Depends(Authorizer(Scope.incident_read, Scope.incident_review))]
CanWrite = Annotated[Principal, Depends(Authorizer(Scope.incident_write))]


@router.post(
    "",
    status_code=201,
    response_model=IncidentRead,
    responses=problem_responses(Unauthenticated, Forbidden, service.UnknownPartnerTrust),
)
async def open_incident(
    payload: IncidentCreate, principal: CanOpen, session: SessionDep, resources: ResourcesDep
) -> IncidentRead:
    """Open an incident for the caller's organisation (street-triage purpose, unbound token)."""
    incident = await service.open_incident(session, resources.partnership, principal, payload)
    return IncidentRead.model_validate(incident, from_attributes=True)


@router.get(
    "/{incident_id}",
    response_model=IncidentRead,
    responses=problem_responses(Unauthenticated, Forbidden, service.IncidentNotFound),
)
async def read_incident(
    incident_id: uuid.UUID, principal: CanRead, session: SessionDep
) -> IncidentRead:
    """Read an incident of the caller's organisation, or one naming the caller's trust."""
    incident = await service.read_incident(session, principal, incident_id)
    return IncidentRead.model_validate(incident, from_attributes=True)


@router.post(
    "/{incident_id}/close",
    response_model=IncidentRead,
    responses=problem_responses(
        Unauthenticated, Forbidden, service.IncidentNotFound, service.IncidentClosed
    ),
)
async def close_incident(
    incident_id: uuid.UUID, principal: CanWrite, session: SessionDep
) -> IncidentRead:
    """Close the incident; every token bound to it is revoked at once."""
    incident = await service.close_incident(session, principal, incident_id)
    return IncidentRead.model_validate(incident, from_attributes=True)
