"""The incident's outcome."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.dependencies import SessionDep
from api.errors import problem_responses
from api.etag import (
    PreconditionFailed,
    PreconditionRequired,
    etag,
    require_no_if_match,
    version_check,
)
from api.incident.service import IncidentClosed, IncidentNotFound, InvalidIncidentRequest
from api.outcome import service
from api.responses import ModelResponse
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import OutcomeRead, OutcomeWrite, Scope

router = APIRouter(prefix="/v1/incidents/{incident_id}/outcome", tags=["outcomes"])

CanRead = Annotated[Principal, Depends(Authorizer(Scope.incident_read, Scope.incident_review))]
CanWrite = Annotated[Principal, Depends(Authorizer(Scope.incident_write))]


@router.put(
    "",
    response_model=OutcomeRead,
    responses={
        201: {"model": OutcomeRead, "description": "Recorded for the first time"},
        **problem_responses(
            Unauthenticated,
            Forbidden,
            IncidentNotFound,
            IncidentClosed,
            InvalidIncidentRequest,
            PreconditionRequired,
            PreconditionFailed,
        ),
    },
)
async def record_outcome(
    incident_id: uuid.UUID,
    payload: OutcomeWrite,
    principal: CanWrite,
    session: SessionDep,
    request: Request,
) -> ModelResponse:
    """Record the outcome (201 the first time), or replace it with If-Match (200)."""
    outcome, created = await service.record_outcome(
        session,
        principal,
        incident_id,
        payload,
        check_version=version_check(request),
        check_new=lambda: require_no_if_match(request),
    )
    return ModelResponse(
        outcome, status_code=201 if created else 200, headers={"ETag": etag(outcome.revision)}
    )


@router.get(
    "",
    response_model=OutcomeRead,
    responses=problem_responses(
        Unauthenticated, Forbidden, IncidentNotFound, service.OutcomeNotFound
    ),
)
async def read_outcome(
    incident_id: uuid.UUID, principal: CanRead, session: SessionDep, response: Response
) -> OutcomeRead:
    """The outcome and its timings; the ETag is the revision to send back with a change."""
    outcome = await service.read_outcome(session, principal, incident_id)
    response.headers["ETag"] = etag(outcome.revision)
    return outcome
