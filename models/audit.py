"""Audit events: every disclosure, refusal, token issue and revocation, break-glass and write.

The events form a hash chain. Each event's `hash` is the SHA-256, in hex, of its `prev_hash` (the
event before it; 64 zeros for the first, or the purge anchor's hash) followed by its canonical text:
the PostgreSQL `jsonb` text of the array built by `audit_event_canonical` (migration 0006):

    [seq, occurred_at (UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`), id, action, outcome, reason,
     actor_user_id, actor_name, actor_role, actor_organisation_code, purpose, person_id,
     incident_id, token_jti, route, request_id, data_classes, source_systems, details]

`seq` and the previous hash come from the one row of `audit_chain_head`, locked by the writing
transaction (`audit_append`), never from an auto-increment value taken before the lock.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp

# The previous hash of the first event ever written.
GENESIS_HASH = "0" * 64


class AuditOutcome(StrEnum):
    success = "success"
    denied = "denied"
    failed = "failed"


class AuditAction(StrEnum):
    token_issue = "token.issue"
    token_refuse = "token.refuse"
    token_revoke = "token.revoke"
    access_refuse = "access.refuse"
    break_glass = "break_glass"
    incident_open = "incident.open"
    incident_close = "incident.close"
    incident_read = "incident.read"
    incident_list = "incident.list"
    # A stored response sent again for an Idempotency-Key: a disclosure like the first.
    idempotent_replay = "idempotent.replay"
    subject_add = "subject.add"
    subject_read = "subject.read"
    assessment_read = "assessment.read"
    assessment_write = "assessment.write"
    assessment_sign = "assessment.sign"
    outcome_read = "outcome.read"
    crisis_flag_lookup = "crisis_flag.lookup"
    crisis_flag_refuse = "crisis_flag.refuse"
    outcome_write = "outcome.write"
    crisis_plan_create = "crisis_plan.create"
    crisis_plan_read = "crisis_plan.read"
    crisis_plan_update = "crisis_plan.update"
    crisis_plan_withdraw = "crisis_plan.withdraw"
    crisis_plan_history = "crisis_plan.history"
    crisis_plan_access_history = "crisis_plan.access_history"
    crisis_plan_relationship_review_list = "crisis_plan.relationship_review_list"
    crisis_plan_relationship_review = "crisis_plan.relationship_review"
    notification_list = "notification.list"
    notification_read = "notification.read"
    audit_read = "audit.read"
    audit_subject_access_report = "audit.subject_access_report"
    audit_purge = "audit.purge"
    break_glass_review_list = "break_glass.review_list"
    break_glass_review = "break_glass.review"
    report_read = "report.read"
    retention_purge = "retention.purge"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("seq", name="uq_audit_event_seq"),
        Index("ix_audit_event_occurred_at", "occurred_at"),
        # The IG officer's view: their own organisation's events, newest first.
        Index("ix_audit_event_actor_organisation_code_seq", "actor_organisation_code", "seq"),
        Index(
            "ix_audit_event_person_id",
            "person_id",
            postgresql_where=text("person_id IS NOT NULL"),
        ),
        # Listings about several people name them in details; a subject access report finds them.
        Index(
            "ix_audit_event_details_person_ids",
            text("(details -> 'person_ids')"),
            postgresql_using="gin",
            postgresql_where=text("details ? 'person_ids'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Set by `audit_append` in the database, under the chain head's lock.
    seq: int | None = Field(default=None, sa_type=BigInteger, nullable=False)
    prev_hash: str | None = Field(default=None, sa_type=String(64), nullable=False)
    hash: str | None = Field(default=None, sa_type=String(64), nullable=False)
    occurred_at: datetime = timestamp()
    action: str = Field(sa_type=String(40))
    outcome: str = Field(sa_type=String(10))
    reason: str | None = Field(default=None, max_length=60)
    # No foreign key: an audit event must be writable whatever else is, or was, in the database.
    actor_user_id: uuid.UUID | None = Field(default=None)
    actor_name: str | None = Field(default=None, max_length=200)
    actor_role: str | None = Field(default=None, max_length=30)
    actor_organisation_code: str | None = Field(default=None, max_length=10)
    purpose: str | None = Field(default=None, max_length=40)
    # The person whose data it is, when the event is about exactly one; an event about several
    # (a listing) leaves this empty and names them in `details.person_ids`.
    person_id: uuid.UUID | None = Field(default=None)
    incident_id: uuid.UUID | None = Field(default=None)
    token_jti: uuid.UUID | None = Field(default=None)
    route: str | None = Field(default=None, max_length=200)
    request_id: str | None = Field(default=None, max_length=128)
    data_classes: list[str] = Field(default_factory=list, sa_type=JSONB)
    source_systems: list[str] = Field(default_factory=list, sa_type=JSONB)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)


class AuditChainHead(SQLModel, table=True):
    """The chain's one head row: the last event's seq and hash. Updated, never deleted."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id", name="single_row"),)

    id: bool = Field(default=True, primary_key=True, sa_type=Boolean)
    seq: int = Field(sa_type=BigInteger)
    hash: str = Field(sa_type=String(64))


class AuditChainAnchor(SQLModel, table=True):
    """Where the chain starts after a retention purge: the last purged event's seq and hash."""

    __tablename__ = "audit_chain_anchor"

    seq: int = Field(sa_type=BigInteger, primary_key=True)
    hash: str = Field(sa_type=String(64))
    events_purged: int = Field(sa_type=BigInteger)
    occurred_before: datetime = timestamp(default_now=False)
    purged_at: datetime = timestamp()
