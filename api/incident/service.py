"""Opening, reading and closing incidents: the record purpose-bound tokens are tied to."""

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import audit_event, record
from api.errors import ServiceError
from api.incident.repository import add_incident, find_accessible_incident
from api.token.repository import revoke_incident_tokens
from auth.principal import Principal
from models import (
    AuditAction,
    AuditEvent,
    AuditOutcome,
    Incident,
    IncidentCreate,
    IncidentStatus,
    OrganisationKind,
    Partnership,
    utcnow,
)


class IncidentNotFound(ServiceError):
    status = 404
    type_slug = "incident-not-found"
    title = "Incident not found"


class UnknownPartnerTrust(ServiceError):
    status = 422
    type_slug = "validation"
    title = "Invalid request"


class IncidentClosed(ServiceError):
    status = 409
    type_slug = "incident-closed"
    title = "Incident closed"


async def open_incident(
    session: AsyncSession, partnership: Partnership, principal: Principal, payload: IncidentCreate
) -> Incident:
    trust = payload.partner_trust_code
    if trust is not None and not any(
        org.code == trust and org.kind == OrganisationKind.nhs_trust
        for org in partnership.organisations
    ):
        raise UnknownPartnerTrust("partner_trust_code is not an NHS trust in the partnership.")
    incident = await add_incident(
        session,
        Incident(
            cad_reference=payload.cad_reference,
            partner_trust_code=trust,
            organisation_code=principal.organisation_code,
            opened_by=principal.user_id,
        ),
    )
    await record(session, _event(AuditAction.incident_open, principal, incident.id))
    return incident


async def read_incident(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> Incident:
    incident = await find_accessible_incident(session, incident_id, principal.organisation_code)
    if incident is None:
        raise IncidentNotFound()
    return incident


async def close_incident(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> Incident:
    """Close the incident and revoke every token bound to it, the caller's included."""
    incident = await read_incident(session, principal, incident_id)
    if incident.status == IncidentStatus.closed:
        raise IncidentClosed("The incident is already closed.")
    incident.status = IncidentStatus.closed
    incident.closed_at = utcnow()
    session.add(incident)
    revoked = await revoke_incident_tokens(session, incident.id)
    await record(
        session,
        _event(AuditAction.incident_close, principal, incident.id, {"tokens_revoked": revoked}),
    )
    return incident


def _event(
    action: AuditAction,
    principal: Principal,
    incident_id: uuid.UUID,
    details: dict[str, object] | None = None,
) -> AuditEvent:
    return audit_event(
        action,
        AuditOutcome.success,
        actor_user_id=principal.user_id,
        actor_role=principal.role.value,
        actor_organisation_code=principal.organisation_code,
        purpose=principal.purpose,
        incident_id=incident_id,
        token_jti=principal.token_jti,
        details=details,
    )
