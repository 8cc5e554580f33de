"""The joint assessment of one subject: write, sign, amend, and read with its history."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from api import idempotency
from api.assessment import service
from api.dependencies import ResourcesDep, SessionDep
from api.errors import problem_responses
from api.etag import PreconditionFailed, PreconditionRequired, etag, version_check
from api.incident.service import (
    IncidentClosed,
    IncidentNotFound,
    InvalidIncidentRequest,
    SubjectNotFound,
)
from api.responses import ModelResponse
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import AssessmentRead, AssessmentWrite, RevisionRead, Scope

router = APIRouter(
    prefix="/v1/incidents/{incident_id}/subjects/{subject_id}/assessment", tags=["assessments"]
)

CanRead = Annotated[Principal, Depends(Authorizer(Scope.incident_read))]
CanWrite = Annotated[Principal, Depends(Authorizer(Scope.incident_write))]
CanChange = Annotated[Principal, Depends(Authorizer(Scope.incident_write, Scope.incident_amend))]

READ_PROBLEMS = (
    Unauthenticated,
    Forbidden,
    IncidentNotFound,
    SubjectNotFound,
    service.AssessmentNotFound,
)
VERSIONED = (PreconditionRequired, PreconditionFailed)


@router.post(
    "",
    status_code=201,
    response_model=AssessmentRead,
    responses=problem_responses(
        *READ_PROBLEMS,
        IncidentClosed,
        service.AssessmentExists,
        service.AmendmentReasonRequired,
        InvalidIncidentRequest,
        idempotency.IdempotencyKeyReused,
    ),
)
async def start_assessment(
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    payload: AssessmentWrite,
    principal: CanWrite,
    session: SessionDep,
    resources: ResourcesDep,
    request: Request,
) -> JSONResponse:
    """Start the subject's joint assessment (revision 1, a draft until both contributors sign)."""
    claimed = await idempotency.claim(session, request, principal)
    read = await service.start_assessment(
        session, resources.partnership, principal, incident_id, subject_id, payload
    )
    return claimed.respond(201, read, headers={"ETag": etag(read.revision)})


@router.get("", response_model=AssessmentRead, responses=problem_responses(*READ_PROBLEMS))
async def read_assessment(
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    principal: CanRead,
    session: SessionDep,
    response: Response,
) -> AssessmentRead:
    """The current revision, its status and signatures; the ETag is the revision to send back."""
    read = await service.read_assessment(session, principal, incident_id, subject_id)
    response.headers["ETag"] = etag(read.revision)
    return read


@router.put(
    "",
    response_model=AssessmentRead,
    responses=problem_responses(
        *READ_PROBLEMS,
        *VERSIONED,
        IncidentClosed,
        service.AmendmentReasonRequired,
        service.NotAContributor,
    ),
)
async def change_assessment(
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    payload: AssessmentWrite,
    principal: CanChange,
    session: SessionDep,
    resources: ResourcesDep,
    request: Request,
) -> ModelResponse:
    """Replace a draft, or amend a locked assessment with a reason; needs If-Match."""
    read = await service.change_assessment(
        session,
        resources.partnership,
        principal,
        incident_id,
        subject_id,
        payload,
        version_check(request),
    )
    return ModelResponse(read, headers={"ETag": etag(read.revision)})


@router.post(
    "/signatures",
    response_model=AssessmentRead,
    responses=problem_responses(
        *READ_PROBLEMS, *VERSIONED, IncidentClosed, service.AlreadySigned, service.NotAContributor
    ),
)
async def sign_assessment(
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    principal: CanWrite,
    session: SessionDep,
    request: Request,
) -> JSONResponse:
    """Sign the revision named by If-Match; the second contributor's signature locks it."""
    claimed = await idempotency.claim(session, request, principal)
    read = await service.sign_assessment(
        session, principal, incident_id, subject_id, version_check(request)
    )
    return claimed.respond(200, read, headers={"ETag": etag(read.revision)})


@router.get(
    "/revisions", response_model=list[RevisionRead], responses=problem_responses(*READ_PROBLEMS)
)
async def read_assessment_history(
    incident_id: uuid.UUID, subject_id: uuid.UUID, principal: CanRead, session: SessionDep
) -> list[RevisionRead]:
    """Every revision, oldest first, with its author and any amendment reason."""
    return await service.read_history(session, principal, incident_id, subject_id)
