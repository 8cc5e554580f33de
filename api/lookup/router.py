"""`POST /v1/incidents/{incident_id}/flag-lookups`: what NHS partners know, for this role, now."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field

from api.audit.repository import principal_event, record_refusal
from api.dependencies import ResourcesDep, SessionDep
from api.errors import problem_responses
from api.incident.service import IncidentClosed, IncidentNotFound
from api.lookup import service
from api.responses import ModelResponse
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import AuditAction, AuditOutcome, Scope
from models.lookup import LookupRequest, OfficerFlag, PractitionerFlag

router = APIRouter(prefix="/v1/incidents/{incident_id}/flag-lookups", tags=["crisis flags"])

CanLookUp = Annotated[Principal, Depends(Authorizer(Scope.crisis_flag_lookup))]
# `view` tells a client which of the two answers it holds, so neither parses as the other.
FlagAnswer = Annotated[OfficerFlag | PractitionerFlag, Field(discriminator="view")]


@router.post(
    "",
    response_model=FlagAnswer,
    responses=problem_responses(
        Unauthenticated, Forbidden, IncidentNotFound, IncidentClosed, service.LookupQuotaExceeded
    ),
)
async def lookup_crisis_flag(
    incident_id: uuid.UUID,
    payload: LookupRequest,
    principal: CanLookUp,
    session: SessionDep,
    resources: ResourcesDep,
) -> ModelResponse:
    """Ask every partner at once, within the deadline; the answer is shaped by the caller's role."""
    try:
        answer = await service.lookup(
            session,
            resources.partnership,
            resources.partners,
            principal,
            incident_id,
            payload,
            resources.settings.lookup_deadline_seconds,
        )
    except service.LookupQuotaExceeded as exc:
        record_refusal(
            session,
            principal_event(
                AuditAction.crisis_flag_refuse,
                principal,
                incident_id,
                outcome=AuditOutcome.denied,
                reason="quota",
                route="/v1/incidents/{incident_id}/flag-lookups",
            ),
        )
        raise exc from None
    resources.metrics.lookups.labels(answer.known_to_services.value).inc()
    # Serialised by its own class, whose fields are exactly what the role may see. Left to the
    # union response model, pydantic would serialise a practitioner's answer as an officer's
    # whenever a field holds a subclass (a plan written here), silently dropping the clinical part.
    return ModelResponse(answer)
