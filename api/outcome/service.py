"""The incident's outcome, kept current with If-Match until the incident closes."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import people, principal_event, record
from api.errors import ServiceError
from api.incident import repository as incident_repository
from api.incident import service as incidents
from api.incident.service import InvalidIncidentRequest
from api.outcome import repository
from auth.principal import Principal
from models import (
    AuditAction,
    AuditEvent,
    DataClass,
    Incident,
    IncidentOutcome,
    OutcomeRead,
    OutcomeWrite,
    utcnow,
)


class OutcomeNotFound(ServiceError):
    status = 404
    type_slug = "outcome-not-found"
    title = "Outcome not recorded"


def _check_times(incident: Incident, payload: OutcomeWrite) -> None:
    floor: datetime = incident.arrival_at or incident.time_of_call_at
    what = "the arrival time" if incident.arrival_at else "the time of call"
    for name in ("left_scene_at", "handover_at"):
        value: datetime | None = getattr(payload, name)
        if value is not None and value < floor:
            raise InvalidIncidentRequest(f"{name} is before {what}.")


async def record_outcome(
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    payload: OutcomeWrite,
    *,
    check_version: Callable[[int], None],
    check_new: Callable[[], None],
) -> tuple[OutcomeRead, bool]:
    """Create or replace the outcome; returns it and whether it was created."""
    incident = await incidents.writable_incident(session, principal, incident_id)
    _check_times(incident, payload)
    state = await repository.outcome_state(session, incident_id)
    if state.revision is None:
        check_new()
    else:
        check_version(state.revision)
    # Every field is the request's, validated as its body, or ours: nothing to validate again.
    outcome = OutcomeRead.model_construct(
        incident_id=incident_id,
        codes=list(payload.codes),
        place_of_safety=payload.place_of_safety,
        conveyance=payload.conveyance,
        referral_notes=payload.referral_notes,
        left_scene_at=payload.left_scene_at,
        handover_at=payload.handover_at,
        revision=(state.revision or 0) + 1,
        recorded_by=principal.user_id,
        recorded_at=utcnow(),
    )
    await repository.save(session, outcome, new=state.revision is None)
    person_id, about = people(state.person_ids)
    await record(
        session,
        principal_event(
            AuditAction.outcome_write,
            principal,
            incident_id,
            {"revision": outcome.revision} | about,
            person_id=person_id,
            data_classes=[DataClass.incident_record.value],
        ),
    )
    return outcome, state.revision is None


async def read_outcome(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> OutcomeRead:
    await incidents.read_incident(session, principal, incident_id)
    outcome = await session.get(IncidentOutcome, incident_id)
    if outcome is None:
        raise OutcomeNotFound()
    await record(session, await _event(session, AuditAction.outcome_read, principal, incident_id))
    return OutcomeRead.from_row(outcome, free_text=incidents.shows_free_text(principal))


async def _event(
    session: AsyncSession,
    action: AuditAction,
    principal: Principal,
    incident_id: uuid.UUID,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """An outcome is the incident's, so its events are about the people the incident is about."""
    person_id, about = people(await incident_repository.subject_person_ids(session, incident_id))
    return principal_event(
        action,
        principal,
        incident_id,
        (details or {}) | about,
        person_id=person_id,
        data_classes=[DataClass.incident_record.value],
    )
