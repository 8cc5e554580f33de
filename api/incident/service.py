"""Incidents and their subjects: open, list, read, add a person, close."""

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import people, principal_event, record
from api.errors import ServiceError
from api.incident import repository
from api.pagination import decode_cursor, page_of
from api.token.repository import revoke_incident_tokens
from auth.principal import Principal
from models import (
    AuditAction,
    DataClass,
    Incident,
    IncidentCreate,
    IncidentOutcome,
    IncidentStatus,
    IncidentSubject,
    OrganisationKind,
    Partnership,
    Scope,
    SubjectCreate,
    SubjectRead,
    utcnow,
)

MAX_PAGE_SIZE = 200
INCIDENT_RECORD = [DataClass.incident_record.value]


class IncidentNotFound(ServiceError):
    status = 404
    type_slug = "incident-not-found"
    title = "Incident not found"


class SubjectNotFound(ServiceError):
    status = 404
    type_slug = "subject-not-found"
    title = "Subject not found"


class InvalidIncidentRequest(ServiceError):
    """A value the payload schema cannot judge alone (a code against the agreement)."""

    status = 422
    type_slug = "validation"
    title = "Invalid request"


class IncidentClosed(ServiceError):
    status = 409
    type_slug = "incident-closed"
    title = "Incident closed"


class OutcomeMissing(ServiceError):
    status = 409
    type_slug = "outcome-missing"
    title = "Outcome not recorded"


class SubjectExists(ServiceError):
    status = 409
    type_slug = "subject-exists"
    title = "Subject already recorded"


async def open_incident(
    session: AsyncSession, partnership: Partnership, principal: Principal, payload: IncidentCreate
) -> Incident:
    trust = payload.partner_trust_code
    if trust is not None and not any(
        org.code == trust and org.kind == OrganisationKind.nhs_trust
        for org in partnership.organisations
    ):
        raise InvalidIncidentRequest("partner_trust_code is not an NHS trust in the partnership.")
    incident = Incident(
        cad_reference=payload.cad_reference,
        organisation_code=principal.organisation_code,
        partner_trust_code=trust,
        time_of_call_at=payload.time_of_call_at,
        arrival_at=payload.arrival_at,
        location_area_code=payload.location.area_code,
        location_latitude=payload.location.latitude,
        location_longitude=payload.location.longitude,
        attendance_reason=payload.attendance_reason,
        attendance_reason_text=payload.attendance_reason_text,
        triage_mode=payload.triage_mode,
        opened_by=principal.user_id,
    )
    await repository.add(session, incident)
    await record(session, principal_event(AuditAction.incident_open, principal, incident.id))
    return incident


def shows_free_text(principal: Principal) -> bool:
    """Free text written at the scene may say anything about the person: supervisors, who review
    with `incident:review`, see the structured record only."""
    return Scope.incident_review not in principal.scopes


async def read_incident(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID, *, for_update: bool = False
) -> Incident:
    incident = await repository.find_accessible_incident(
        session, incident_id, principal.organisation_code, for_update=for_update
    )
    if incident is None:
        raise IncidentNotFound()
    return incident


async def writable_incident(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> Incident:
    """The incident, locked for this transaction, refusing if it is closed."""
    incident = await read_incident(session, principal, incident_id, for_update=True)
    if incident.status == IncidentStatus.closed:
        raise IncidentClosed("The incident is closed; only signed assessments can be amended.")
    return incident


async def list_incidents(
    session: AsyncSession,
    principal: Principal,
    *,
    status: IncidentStatus | None,
    officer: uuid.UUID | None,
    called_from: datetime | None,
    called_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Incident], str | None]:
    # Supervisors review their organisation's incidents; a triage car's unbound token finds only
    # the incidents its holder opened (to resume after a dropped connection).
    opened_by = officer
    if Scope.incident_review not in principal.scopes:
        if officer is not None and officer != principal.user_id:
            raise InvalidIncidentRequest("officer can only be yourself with this token.")
        opened_by = principal.user_id
    rows = await repository.list_incidents(
        session,
        organisation_code=principal.organisation_code,
        opened_by=opened_by,
        status=status,
        called_from=called_from,
        called_to=called_to,
        after=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    return page_of(rows, limit, lambda incident: (incident.time_of_call_at, incident.id))


async def add_subject(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID, payload: SubjectCreate
) -> SubjectRead:
    await writable_incident(session, principal, incident_id)
    person_id = None
    if payload.nhs_number is not None:
        person = await repository.person_for(session, payload.nhs_number)
        if await repository.subject_for_person(session, incident_id, person.id) is not None:
            raise SubjectExists("This person is already a subject of the incident.")
        person_id = person.id
    subject = IncidentSubject(
        incident_id=incident_id,
        person_id=person_id,
        description=payload.description,
        added_by=principal.user_id,
    )
    await repository.add(session, subject)
    await record(
        session,
        principal_event(
            AuditAction.subject_add,
            principal,
            incident_id,
            person_id=person_id,
            data_classes=INCIDENT_RECORD,
        ),
    )
    return subject_read(subject, payload.nhs_number)


async def list_subjects(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> list[SubjectRead]:
    await read_incident(session, principal, incident_id)
    subjects = await repository.subjects_of(session, incident_id)
    # The listing discloses the subjects' NHS numbers: it is recorded like any other read.
    person_id, about = people([subject.person_id for subject, _ in subjects])
    await record(
        session,
        principal_event(
            AuditAction.subject_read,
            principal,
            incident_id,
            about,
            person_id=person_id,
            data_classes=INCIDENT_RECORD,
        ),
    )
    return [subject_read(subject, nhs) for subject, nhs in subjects]


def subject_read(subject: IncidentSubject, nhs_number: str | None) -> SubjectRead:
    return SubjectRead(
        id=subject.id,
        incident_id=subject.incident_id,
        identified=subject.person_id is not None,
        nhs_number=nhs_number,
        description=subject.description,
        added_at=subject.added_at,
    )


async def close_incident(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> Incident:
    """Close the incident and revoke every token bound to it, the caller's included."""
    incident = await writable_incident(session, principal, incident_id)
    if await session.get(IncidentOutcome, incident_id) is None:
        raise OutcomeMissing("Record the outcome before closing the incident.")
    incident.status = IncidentStatus.closed
    incident.closed_at = utcnow()
    session.add(incident)
    revoked = await revoke_incident_tokens(session, incident.id)
    await record(
        session,
        principal_event(
            AuditAction.incident_close, principal, incident.id, {"tokens_revoked": revoked}
        ),
    )
    return incident
