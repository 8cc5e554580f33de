"""Incidents and their subjects: open, list, read, add a person, close."""

import math
import uuid
from datetime import datetime, timedelta

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


class IncidentQuotaExceeded(ServiceError):
    status = 429
    type_slug = "incident-quota-exceeded"
    title = "Too many incidents opened"


def invalid_field(field: str, message: str) -> InvalidIncidentRequest:
    """A 422 naming the body field, as the payload schema's own problems do."""
    return InvalidIncidentRequest(
        f"{field} {message}.",
        extra={
            "invalid_params": [
                {"location": f"body.{field}", "message": message, "code": "value_error"}
            ]
        },
    )


def time_of_call_problem(
    time_of_call_at: datetime, received_at: datetime, max_age_days: int
) -> str | None:
    """Why a time of call cannot be taken when the server receives the incident then, or None.
    (One ahead of the server's clock is refused by the payload schema, with a skew allowance.)"""
    if time_of_call_at < received_at - timedelta(days=max_age_days):
        return f"is more than {max_age_days} days before the incident was received"
    return None


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
    # The server's clock, not the caller's, says when the incident arrived: retention counts
    # from the later of this and the time of call.
    received_at = utcnow()
    agreement = partnership.agreement
    problem = time_of_call_problem(
        payload.time_of_call_at, received_at, agreement.incident_time_of_call_max_age_days
    )
    if problem is not None:
        raise invalid_field("time_of_call_at", problem)
    trust = payload.partner_trust_code
    if trust is not None and not any(
        org.code == trust and org.kind == OrganisationKind.nhs_trust
        for org in partnership.organisations
    ):
        raise invalid_field("partner_trust_code", "is not an NHS trust in the partnership")
    await check_opening_quota(
        session, principal, received_at, agreement.incident_quotas.per_user_per_hour
    )
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
        opened_at=received_at,
    )
    await repository.add(session, incident)
    await record(session, principal_event(AuditAction.incident_open, principal, incident.id))
    return incident


async def check_opening_quota(
    session: AsyncSession, principal: Principal, received_at: datetime, per_hour: int
) -> None:
    """The user's incidents opened in the last hour, against the agreement's quota. Each incident
    has its own lookup limit on different people: this keeps a new incident from being a new
    allowance."""
    await repository.take_opening_turn(session, principal.user_id)
    opened, first = await repository.opened_since(
        session, principal.user_id, received_at - timedelta(hours=1)
    )
    if opened >= per_hour:
        frees_at = (first or received_at) + timedelta(hours=1)
        wait = max(1, math.ceil((frees_at - received_at).total_seconds()))
        raise IncidentQuotaExceeded(
            "You have opened as many incidents this hour as the agreement allows.",
            headers={"Retry-After": str(wait)},
        )


def shows_free_text(principal: Principal) -> bool:
    """Free text written at the scene may say anything about the person: supervisors, who review
    with `incident:review`, see the structured record only."""
    return Scope.incident_review not in principal.scopes


async def show_incident(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> Incident:
    """The incident, for the caller to see: the read is recorded, naming the people it is about."""
    incident = await read_incident(session, principal, incident_id)
    person_id, about = people(await repository.subject_person_ids(session, incident_id))
    await record(
        session,
        principal_event(
            AuditAction.incident_read,
            principal,
            incident_id,
            about,
            person_id=person_id,
            data_classes=INCIDENT_RECORD,
        ),
    )
    return incident


async def read_incident(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID, *, for_update: bool = False
) -> Incident:
    """The incident if the caller's organisation may see it, for the services that act on it."""
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
    page, next_cursor = page_of(
        rows, limit, lambda incident: (incident.time_of_call_at, incident.id)
    )
    # One event per page, ids only: the incidents shown and the people they are about.
    incident_ids = [incident.id for incident in page]
    person_id, about = people(await repository.subject_person_ids_of(session, incident_ids))
    await record(
        session,
        principal_event(
            AuditAction.incident_list,
            principal,
            incident_ids[0] if len(incident_ids) == 1 else None,
            {"incident_ids": [str(incident_id) for incident_id in incident_ids]} | about,
            person_id=person_id,
            data_classes=INCIDENT_RECORD if page else (),
        ),
    )
    return page, next_cursor


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
