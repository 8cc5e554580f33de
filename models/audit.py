"""Audit events: every token issued or refused, every revocation, every break-glass."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp


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
    notification_list = "notification.list"
    notification_read = "notification.read"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_occurred_at", "occurred_at"),
        Index("ix_audit_event_actor_organisation_code", "actor_organisation_code"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    occurred_at: datetime = timestamp()
    action: str = Field(sa_type=String(40))
    outcome: str = Field(sa_type=String(10))
    reason: str | None = Field(default=None, max_length=60)
    # No foreign key: an audit event must be writable whatever else is, or was, in the database.
    actor_user_id: uuid.UUID | None = Field(default=None)
    actor_role: str | None = Field(default=None, max_length=30)
    actor_organisation_code: str | None = Field(default=None, max_length=10)
    purpose: str | None = Field(default=None, max_length=40)
    incident_id: uuid.UUID | None = Field(default=None)
    token_jti: uuid.UUID | None = Field(default=None)
    route: str | None = Field(default=None, max_length=200)
    request_id: str | None = Field(default=None, max_length=128)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
