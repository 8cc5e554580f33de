"""Audit events: every disclosure, refusal, token issue and revocation, break-glass and write.

The events form a transparency log: a Merkle tree in RFC 9162 hashing, sealed behind the writers.
A leaf's entry is the UTF-8 of the PostgreSQL `jsonb` text of the array built by
`audit_event_canonical` (migration 0006):

    [seq, occurred_at (UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`), id, action, outcome, reason,
     actor_user_id, actor_name, actor_role, actor_organisation_code, purpose, person_id,
     incident_id, token_jti, route, request_id, data_classes, source_systems, details]

`audit_append` gives an event its `seq` from a sequence and its writing transaction's id, and
takes no lock; the sealer numbers leaves in commit order. `prev_hash` and `hash` are those of the
hash chain the log grew from, on the events written before it.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp

# The previous hash of the first event ever written on the chain.
GENESIS_HASH = "0" * 64


class AuditOutcome(StrEnum):
    success = "success"
    denied = "denied"
    failed = "failed"


class AuditAction(StrEnum):
    token_issue = "token.issue"
    token_refuse = "token.refuse"
    token_revoke = "token.revoke"
    sign_in = "sign_in"
    sign_in_refuse = "sign_in.refuse"
    sign_out = "sign_out"
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
    audit_witness = "audit.witness"
    audit_witness_conflict = "audit.witness_conflict"
    break_glass_review_list = "break_glass.review_list"
    break_glass_review = "break_glass.review"
    report_read = "report.read"
    retention_purge = "retention.purge"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("seq", name="uq_audit_event_seq"),
        Index("ix_audit_event_occurred_at", "occurred_at"),
        # The sealer reads the events of transactions at and above its horizon, in this order.
        Index("ix_audit_event_xact_id_seq", "xact_id", "seq"),
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
    # Set by `audit_append` in the database: the order written, and the writing transaction.
    seq: int | None = Field(default=None, sa_type=BigInteger, nullable=False)
    xact_id: int | None = Field(default=None, sa_type=BigInteger, nullable=False)
    # The hash chain's, on events written before the log: kept, never written again.
    prev_hash: str | None = Field(default=None, sa_type=String(64))
    hash: str | None = Field(default=None, sa_type=String(64))
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


class AuditChainAnchor(SQLModel, table=True):
    """Where the hash chain started after a retention purge, before the log: history only."""

    __tablename__ = "audit_chain_anchor"

    seq: int = Field(sa_type=BigInteger, primary_key=True)
    hash: str = Field(sa_type=String(64))
    events_purged: int = Field(sa_type=BigInteger)
    occurred_before: datetime = timestamp(default_now=False)
    purged_at: datetime = timestamp()


class AuditLeaf(SQLModel, table=True):
    """An event's place in the log: its leaf index (commit order) and RFC 9162 leaf hash. It
    outlives the event's retention, so the tree still verifies."""

    __tablename__ = "audit_leaf"
    __table_args__ = (UniqueConstraint("event_id", name="uq_audit_leaf_event_id"),)

    leaf_index: int = Field(sa_type=BigInteger, primary_key=True)
    event_id: uuid.UUID
    hash: bytes = Field(sa_type=LargeBinary)
    sealed_at: datetime = timestamp()


class AuditTreeNode(SQLModel, table=True):
    """The hash of a perfect subtree: leaves [index * 2^level, (index + 1) * 2^level)."""

    __tablename__ = "audit_tree_node"

    level: int = Field(sa_type=SmallInteger, primary_key=True)
    index: int = Field(sa_type=BigInteger, primary_key=True)
    hash: bytes = Field(sa_type=LargeBinary)


class AuditTreeState(SQLModel, table=True):
    """The tree's one state row: its size, and the transaction id below which every committed
    event is a leaf."""

    __tablename__ = "audit_tree_state"
    __table_args__ = (CheckConstraint("id", name="single_row"),)

    id: bool = Field(default=True, primary_key=True, sa_type=Boolean)
    tree_size: int = Field(sa_type=BigInteger)
    xact_horizon: int = Field(sa_type=BigInteger)
    sealed_at: datetime = timestamp()


class AuditCheckpoint(SQLModel, table=True):
    """A signed tree head of this organisation's log, as a C2SP signed note."""

    __tablename__ = "audit_checkpoint"

    tree_size: int = Field(sa_type=BigInteger, primary_key=True)
    root_hash: bytes = Field(sa_type=LargeBinary)
    note: str = Field(sa_type=Text)
    signed_at: datetime = timestamp()


class AuditLogPurge(SQLModel, table=True):
    """A retention purge: the events of leaves below `leaves_before` may be gone."""

    __tablename__ = "audit_log_purge"

    leaves_before: int = Field(sa_type=BigInteger, primary_key=True)
    events_purged: int = Field(sa_type=BigInteger)
    occurred_before: datetime = timestamp(default_now=False)
    purged_at: datetime = timestamp()


class AuditWitnessCheckpoint(SQLModel, table=True):
    """A partner's checkpoint this organisation verified, consistent with the last it saw, and
    cosigned (the note carries the cosignature)."""

    __tablename__ = "audit_witness_checkpoint"

    origin: str = Field(sa_type=String(200), primary_key=True)
    tree_size: int = Field(sa_type=BigInteger, primary_key=True)
    root_hash: bytes = Field(sa_type=LargeBinary)
    note: str = Field(sa_type=Text)
    witnessed_at: datetime = timestamp()
