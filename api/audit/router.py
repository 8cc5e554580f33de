"""Information governance: who saw what, when and why; subject access reports; break-glass reviews;
and the audit log's public face: its signed checkpoint, verifier key and consistency proofs.

The information governance routes need `audit:read` (the `audit` purpose, `ig_officer` role) and
answer only for the caller's own organisation. The log's routes (`log_router`) are public: a
checkpoint and hashes disclose no personal data, and partners' witnesses must reach them.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from api.audit import service
from api.audit.schemas import (
    AuditEventPage,
    BreakGlassReviewPage,
    BreakGlassReviewRead,
    BreakGlassReviewStatusFilter,
    BreakGlassReviewWrite,
    ConsistencyProof,
    InclusionProof,
    SubjectAccessReport,
    SubjectAccessRequest,
)
from api.audit.sealer import LogKeys
from api.dependencies import ResourcesDep, SessionDep
from api.errors import problem_responses
from api.pagination import InvalidCursor
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import AuditAction, AuditOutcome, Scope
from models.validation import PlausibleDatetime

router = APIRouter(tags=["information governance"])
log_router = APIRouter(tags=["audit log"])

CanAudit = Annotated[Principal, Depends(Authorizer(Scope.audit_read))]

AUTH = (Unauthenticated, Forbidden)
Cursor = Annotated[str | None, Query(max_length=200)]


@router.get(
    "/v1/audit-events",
    response_model=AuditEventPage,
    responses=problem_responses(*AUTH, InvalidCursor),
)
async def list_audit_events(
    principal: CanAudit,
    session: SessionDep,
    person_id: Annotated[
        uuid.UUID | None,
        Query(description="Events about this person (an id, never an NHS number, in a URL)."),
    ] = None,
    actor_user_id: Annotated[uuid.UUID | None, Query(description="Events by this user.")] = None,
    incident_id: Annotated[uuid.UUID | None, Query()] = None,
    token_jti: Annotated[
        uuid.UUID | None, Query(description="Events done with this token (a break-glass, say).")
    ] = None,
    action: Annotated[AuditAction | None, Query()] = None,
    outcome: Annotated[AuditOutcome | None, Query()] = None,
    occurred_from: Annotated[
        PlausibleDatetime | None, Query(alias="from", description="Events at or after.")
    ] = None,
    occurred_to: Annotated[
        PlausibleDatetime | None, Query(alias="to", description="Events before.")
    ] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
) -> AuditEventPage:
    """Audit events by your organisation's staff, newest first; reading them is audited too."""
    return await service.list_events(
        session,
        principal,
        service.EventQuery(
            person_id=person_id,
            actor_user_id=actor_user_id,
            incident_id=incident_id,
            token_jti=token_jti,
            action=action,
            outcome=outcome,
            occurred_from=occurred_from,
            occurred_to=occurred_to,
        ),
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/v1/audit-events/{event_id}/proof",
    response_model=InclusionProof,
    responses=problem_responses(*AUTH, service.ProofNotFound, service.NoCheckpoint),
)
async def prove_audit_event(
    event_id: uuid.UUID, principal: CanAudit, session: SessionDep
) -> InclusionProof:
    """Proof that one of your organisation's events is in the log, against its latest checkpoint."""
    return await service.event_proof(session, principal, event_id)


@router.post(
    "/v1/subject-access-reports",
    response_model=SubjectAccessReport,
    responses=problem_responses(*AUTH),
)
async def report_subject_access(
    payload: SubjectAccessRequest,
    principal: CanAudit,
    session: SessionDep,
    resources: ResourcesDep,
) -> SubjectAccessReport:
    """Your organisation's accesses to one person's data, and others' it was notified of, by count.

    The rule: each organisation answers a subject access request for what it controls. The report
    lists every audit event about the person by your organisation's staff, and counts, by
    organisation, the accesses other organisations made to data your organisation holds on the
    person (the access notifications sent to it), so the person can ask those controllers for the
    detail.
    """
    return await service.subject_access_report(session, resources.partnership, principal, payload)


@router.get(
    "/v1/break-glass-reviews",
    response_model=BreakGlassReviewPage,
    responses=problem_responses(*AUTH, InvalidCursor),
)
async def list_break_glass_reviews(
    principal: CanAudit,
    session: SessionDep,
    status: Annotated[
        BreakGlassReviewStatusFilter,
        Query(description="`pending` (the queue, the default) or `reviewed`."),
    ] = BreakGlassReviewStatusFilter.pending,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
) -> BreakGlassReviewPage:
    """Break-glass accesses by your organisation's practitioners to review (or reviewed), newest first."""
    return await service.list_break_glass_reviews(
        session, principal, status=status, cursor=cursor, limit=limit
    )


@router.post(
    "/v1/break-glass-reviews/{review_id}",
    response_model=BreakGlassReviewRead,
    responses=problem_responses(
        *AUTH,
        service.BreakGlassReviewNotFound,
        service.BreakGlassSelfReview,
        service.BreakGlassReviewCompleted,
    ),
)
async def complete_break_glass_review(
    review_id: uuid.UUID,
    payload: BreakGlassReviewWrite,
    principal: CanAudit,
    session: SessionDep,
) -> BreakGlassReviewRead:
    """Complete a pending review with its conclusion and finding; a review is completed once."""
    return await service.complete_break_glass_review(session, principal, review_id, payload)


def log_keys(request: Request) -> LogKeys:
    keys: LogKeys = request.app.state.audit_log_keys
    return keys


LogKeysDep = Annotated[LogKeys, Depends(log_keys)]
PLAIN: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {}}}}


@log_router.get(
    "/v1/audit/checkpoint",
    response_class=PlainTextResponse,
    responses={**PLAIN, **problem_responses(service.NoCheckpoint)},
)
async def read_audit_checkpoint(session: SessionDep) -> PlainTextResponse:
    """The audit log's latest checkpoint: a C2SP signed note of its size and root hash."""
    checkpoint = await service.latest_checkpoint(await session.connection())
    return PlainTextResponse(checkpoint.note, headers={"cache-control": "no-store"})


@log_router.get("/v1/audit/checkpoint/key", response_class=PlainTextResponse, responses=PLAIN)
async def read_audit_checkpoint_key(keys: LogKeysDep) -> PlainTextResponse:
    """The key that verifies the log's checkpoints, as a signed-note verifier key (vkey)."""
    return PlainTextResponse(keys.signer.verifier.vkey + "\n")


@log_router.get(
    "/v1/audit/consistency",
    response_model=ConsistencyProof,
    responses=problem_responses(service.InvalidTreeSizes, service.NoCheckpoint),
)
async def prove_audit_consistency(
    session: SessionDep,
    first: Annotated[int, Query(ge=0, description="The smaller tree size.")],
    second: Annotated[int, Query(ge=0, description="The larger, at most the latest checkpoint's.")],
) -> ConsistencyProof:
    """Proof that the log at `first` leaves is a prefix of the log at `second` (hashes only)."""
    return await service.consistency_proof(await session.connection(), first, second)
