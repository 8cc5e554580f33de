"""Crisis plans written by a trust's practitioners. No NHS number is ever in a URL: it goes in the
body of a create or a search."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api import idempotency
from api.audit.repository import principal_event, record_refusal
from api.crisis_plan import service
from api.dependencies import ResourcesDep, SessionDep
from api.errors import problem_responses
from api.etag import PreconditionFailed, PreconditionRequired, etag, version_check
from api.pagination import InvalidCursor
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import (
    AuditAction,
    AuditOutcome,
    CrisisPlanAccess,
    CrisisPlanCreate,
    CrisisPlanPage,
    CrisisPlanRead,
    CrisisPlanSearch,
    CrisisPlanStatusFilter,
    CrisisPlanVersionRead,
    CrisisPlanWithdraw,
    CrisisPlanWrite,
    Scope,
)
from models.crisis_plan import (
    RelationshipReviewPage,
    RelationshipReviewRead,
    RelationshipReviewStatusFilter,
    RelationshipReviewWrite,
)

router = APIRouter(prefix="/v1/crisis-plans", tags=["crisis plans"])


async def _planner(
    request: Request, resources: ResourcesDep, session: SessionDep, principal: Principal
) -> Principal:
    """The principal, if the agreement lets its organisation and role keep crisis plans; a refusal
    is audited on its own, as the Authorizer's are, since the request's transaction rolls back."""
    try:
        service.require_planner(resources.partnership, principal)
    except service.NotACrisisPlanner:
        record_refusal(
            session,
            principal_event(
                AuditAction.access_refuse,
                principal,
                None,
                outcome=AuditOutcome.denied,
                reason="not_a_crisis_planner",
                route=getattr(request.scope.get("route"), "path", None),
            ),
        )
        raise
    return principal


async def _reader(
    request: Request,
    resources: ResourcesDep,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Authorizer(Scope.crisis_plan_read))],
) -> Principal:
    return await _planner(request, resources, session, principal)


async def _writer(
    request: Request,
    resources: ResourcesDep,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Authorizer(Scope.crisis_plan_write))],
) -> Principal:
    return await _planner(request, resources, session, principal)


CanRead = Annotated[Principal, Depends(_reader)]
CanWrite = Annotated[Principal, Depends(_writer)]

# Both refusals are 403; the generic one names it in OpenAPI.
AUTH = (Unauthenticated, service.NotACrisisPlanner, Forbidden)
READ_PROBLEMS = (*AUTH, service.CrisisPlanNotFound)
IDEMPOTENCY = (
    idempotency.InvalidIdempotencyKey,
    idempotency.IdempotencyKeyReused,
    idempotency.IdempotencyInProgress,
)
CHANGE_PROBLEMS = (
    *READ_PROBLEMS,
    *IDEMPOTENCY,
    PreconditionRequired,
    PreconditionFailed,
    service.CrisisPlanWithdrawn,
)


def _location(plan: CrisisPlanRead) -> str:
    return f"{router.prefix}/{plan.id}"


@router.post(
    "",
    status_code=201,
    response_model=CrisisPlanRead,
    responses=problem_responses(
        *AUTH,
        *IDEMPOTENCY,
        service.CrisisPlanExists,
        service.NoCareRelationship,
        service.RelationshipRequired,
        service.RelationshipUnchecked,
    ),
)
async def create_crisis_plan(
    payload: CrisisPlanCreate,
    principal: CanWrite,
    session: SessionDep,
    resources: ResourcesDep,
    request: Request,
) -> JSONResponse:
    """Write a crisis plan for a person your organisation cares for (one active plan per person)."""
    claimed = await idempotency.claim(session, request, principal)
    plan = await service.create_plan(
        session, resources.partnership, resources.partners, principal, payload
    )
    return claimed.respond(
        201, plan, headers={"ETag": etag(plan.revision), "Location": _location(plan)}
    )


@router.get("", response_model=CrisisPlanPage, responses=problem_responses(*AUTH, InvalidCursor))
async def list_crisis_plans(
    principal: CanRead,
    session: SessionDep,
    status: Annotated[
        CrisisPlanStatusFilter, Query(description="Active, withdrawn, or all plans.")
    ] = CrisisPlanStatusFilter.active,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
) -> CrisisPlanPage:
    """Your organisation's crisis plans, newest first, without their content."""
    return await service.list_plans(session, principal, status=status, cursor=cursor, limit=limit)


@router.post("/_search", response_model=list[CrisisPlanRead], responses=problem_responses(*AUTH))
async def search_crisis_plans(
    payload: CrisisPlanSearch, principal: CanRead, session: SessionDep
) -> list[CrisisPlanRead]:
    """Your organisation's plans for one person, found by the NHS number in the body."""
    return await service.search_plans(session, principal, payload)


@router.get(
    "/{plan_id}", response_model=CrisisPlanRead, responses=problem_responses(*READ_PROBLEMS)
)
async def read_crisis_plan(
    plan_id: uuid.UUID, principal: CanRead, session: SessionDep, response: Response
) -> CrisisPlanRead:
    """One of your organisation's plans; the ETag is the revision to send back in If-Match."""
    plan = await service.read_plan(session, principal, plan_id)
    response.headers["ETag"] = etag(plan.revision)
    return plan


@router.put(
    "/{plan_id}", response_model=CrisisPlanRead, responses=problem_responses(*CHANGE_PROBLEMS)
)
async def replace_crisis_plan(
    plan_id: uuid.UUID,
    payload: CrisisPlanWrite,
    principal: CanWrite,
    session: SessionDep,
    request: Request,
) -> JSONResponse:
    """Replace the whole plan; needs If-Match with the revision you read."""
    claimed = await idempotency.claim(session, request, principal)
    plan = await service.replace_plan(session, principal, plan_id, payload, version_check(request))
    return claimed.respond(200, plan, headers={"ETag": etag(plan.revision)})


@router.post(
    "/{plan_id}/withdraw",
    response_model=CrisisPlanRead,
    responses=problem_responses(*CHANGE_PROBLEMS),
)
async def withdraw_crisis_plan(
    plan_id: uuid.UUID,
    payload: CrisisPlanWithdraw,
    principal: CanWrite,
    session: SessionDep,
    request: Request,
) -> JSONResponse:
    """Withdraw the plan with a reason; needs If-Match. It stays readable, with its history."""
    claimed = await idempotency.claim(session, request, principal)
    plan = await service.withdraw_plan(session, principal, plan_id, payload, version_check(request))
    return claimed.respond(200, plan, headers={"ETag": etag(plan.revision)})


@router.get(
    "/{plan_id}/versions",
    response_model=list[CrisisPlanVersionRead],
    responses=problem_responses(*READ_PROBLEMS),
)
async def read_crisis_plan_versions(
    plan_id: uuid.UUID, principal: CanRead, session: SessionDep
) -> list[CrisisPlanVersionRead]:
    """Every version, oldest first: who, in which role and organisation, when, and what changed."""
    return await service.read_versions(session, principal, plan_id)


@router.get(
    "/{plan_id}/access-history",
    response_model=list[CrisisPlanAccess],
    responses=problem_responses(*READ_PROBLEMS),
)
async def read_crisis_plan_access_history(
    plan_id: uuid.UUID, principal: CanRead, session: SessionDep, resources: ResourcesDep
) -> list[CrisisPlanAccess]:
    """The last 25 accesses to the person's data your organisation was notified of, newest first."""
    return await service.read_access_history(session, resources.partnership, principal, plan_id)


# Information governance: the relationships practitioners stated to write plans, to review.

review_router = APIRouter(
    prefix="/v1/crisis-plan-relationship-reviews", tags=["information governance"]
)

CanAudit = Annotated[Principal, Depends(Authorizer(Scope.audit_read))]
REVIEW_AUTH = (Unauthenticated, Forbidden)


@review_router.get(
    "",
    response_model=RelationshipReviewPage,
    responses=problem_responses(*REVIEW_AUTH, InvalidCursor),
)
async def list_crisis_plan_relationship_reviews(
    principal: CanAudit,
    session: SessionDep,
    resources: ResourcesDep,
    status: Annotated[
        RelationshipReviewStatusFilter,
        Query(description="`pending` (the queue, the default) or `reviewed`."),
    ] = RelationshipReviewStatusFilter.pending,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
) -> RelationshipReviewPage:
    """Relationships your practitioners stated to write crisis plans, to review, newest first."""
    return await service.list_relationship_reviews(
        session, resources.partnership, principal, status=status, cursor=cursor, limit=limit
    )


@review_router.post(
    "/{review_id}",
    response_model=RelationshipReviewRead,
    responses=problem_responses(
        *REVIEW_AUTH,
        service.OwnRelationshipReview,
        service.RelationshipReviewNotFound,
        service.RelationshipReviewCompleted,
    ),
)
async def complete_crisis_plan_relationship_review(
    review_id: uuid.UUID,
    payload: RelationshipReviewWrite,
    principal: CanAudit,
    session: SessionDep,
    resources: ResourcesDep,
) -> RelationshipReviewRead:
    """Complete a pending review with its conclusion and finding; a review is completed once."""
    return await service.complete_relationship_review(
        session, resources.partnership, principal, review_id, payload
    )
