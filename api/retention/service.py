"""Retention: incident data past the agreement's periods is removed, its statistics kept.

An incident's period runs from the later of its time of call and the moment the server received
it (`opened_at`): the time of call is the caller's word.

What goes: the incident, its subjects, assessments (revisions, signatures), outcome, flag lookups,
access notifications, tokens bound to it and reviewed break-glass records, and expired idempotency
records. What stays: a de-identified `outcome_statistic` per incident, so outcome reports over the
purged period give the same figures; and audit events, which have a retention of their own
(`triage purge` then calls the audit trail's own purge, `api.audit.service.purge_audit_events`).
People (`person`, the NHS number alone) stay too: retained audit events name them, and a subject
access request must still find those events.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from api import idempotency
from api.audit.repository import audit_event, record
from api.retention import repository
from models import AuditAction, AuditOutcome, Retention


class RetentionNotAllowed(Exception):
    """The database role cannot see every incident row: a purge would silently remove nothing."""


@dataclass(frozen=True)
class PurgeResult:
    incident_cutoff: datetime
    notification_cutoff: datetime
    # Past retention, kept while a break-glass access to them awaits review.
    incidents_held: int
    statistics_written: int
    prior_contacts_carried: int
    deleted: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {
            "incident_cutoff": self.incident_cutoff.isoformat(),
            "notification_cutoff": self.notification_cutoff.isoformat(),
            "incidents_held": self.incidents_held,
            "statistics_written": self.statistics_written,
            "prior_contacts_carried": self.prior_contacts_carried,
            "deleted": self.deleted,
        }


async def purge_incident_data(
    session: AsyncSession, retention: Retention, *, now: datetime
) -> PurgeResult:
    """Everything in the caller's transaction: commit it to purge, roll it back for a dry run."""
    if not await repository.may_purge(session):
        raise RetentionNotAllowed(
            "purge must run as the owner of the schema (the role that ran the migrations)"
        )
    await repository.enter_retention_mode(session)
    incident_cutoff = now - timedelta(days=retention.incident_days)
    notification_cutoff = now - timedelta(days=retention.notification_days)
    _, held = await repository.choose_incidents(session, incident_cutoff)
    written = await repository.write_statistics(session, incident_cutoff)
    carried = await repository.carry_prior_contacts(session)
    deleted = await repository.delete_purged(
        session,
        notification_cutoff=notification_cutoff,
        idempotency_cutoff=now - idempotency.RETENTION,
    )
    await repository.forget_chosen(session)
    result = PurgeResult(
        incident_cutoff=incident_cutoff,
        notification_cutoff=notification_cutoff,
        incidents_held=held,
        statistics_written=written,
        prior_contacts_carried=carried,
        deleted=deleted,
    )
    await record(
        session,
        audit_event(AuditAction.retention_purge, AuditOutcome.success, details=result.as_dict()),
    )
    return result
