"""The incident record: subjects, joint assessments with revisions and signatures, outcomes,
idempotency keys; the application role and row-level security on incident data.

Revision ID: 0003_incident_record
Revises: 0002_access
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_incident_record"
down_revision: str | None = "0002_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"

# What the application's role may do with each table. Audit events are insert-and-read only.
GRANTS = {
    "organisation": "SELECT",
    "user_account": "SELECT, INSERT, UPDATE",
    "issued_token": "SELECT, INSERT",
    "revoked_token": "SELECT, INSERT",
    "audit_event": "SELECT, INSERT",
    "break_glass_review": "SELECT, INSERT, UPDATE",
    "incident": "SELECT, INSERT, UPDATE",
    "person": "SELECT, INSERT",
    "incident_subject": "SELECT, INSERT",
    "assessment": "SELECT, INSERT, UPDATE",
    "assessment_revision": "SELECT, INSERT",
    "assessment_signature": "SELECT, INSERT",
    "incident_outcome": "SELECT, INSERT, UPDATE",
    "idempotency_record": "SELECT, INSERT, UPDATE, DELETE",
}

# The tenant is set per transaction with set_config('app.org', <code>, true). Unset, it is NULL
# and every policy below is false: no tenant, no rows.
TENANT = "current_setting('app.org', true)"
INCIDENT_VISIBLE = f"(organisation_code = {TENANT} OR partner_trust_code = {TENANT})"
# Child rows follow their incident; the subquery is itself filtered by the incident policy.
CHILD_OF_VISIBLE_INCIDENT = "incident_id IN (SELECT id FROM incident)"
ASSESSMENT_OF_VISIBLE_INCIDENT = "assessment_id IN (SELECT id FROM assessment)"

POLICIES = {
    "incident": INCIDENT_VISIBLE,
    "incident_subject": CHILD_OF_VISIBLE_INCIDENT,
    "assessment": CHILD_OF_VISIBLE_INCIDENT,
    "assessment_revision": ASSESSMENT_OF_VISIBLE_INCIDENT,
    "assessment_signature": ASSESSMENT_OF_VISIBLE_INCIDENT,
    "incident_outcome": CHILD_OF_VISIBLE_INCIDENT,
}


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    referred, _ = target.split(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("nhs_number", name=op.f("uq_person_nhs_number")),
    )
    op.create_table(
        "incident_subject",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("added_by", sa.Uuid(), nullable=False),
        _timestamp("added_at"),
        sa.CheckConstraint(
            "(person_id IS NULL) <> (description IS NULL)",
            name=op.f("ck_incident_subject_identified_or_described"),
        ),
        _fk("incident_id", "incident_subject", "incident.id"),
        _fk("person_id", "incident_subject", "person.id"),
        _fk("added_by", "incident_subject", "user_account.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_subject")),
        sa.UniqueConstraint(
            "incident_id", "person_id", name="uq_incident_subject_incident_id_person_id"
        ),
    )
    op.create_index(
        op.f("ix_incident_subject_incident_id"), "incident_subject", ["incident_id"], unique=False
    )
    op.create_index(
        op.f("ix_incident_subject_person_id"), "incident_subject", ["person_id"], unique=False
    )
    op.create_table(
        "assessment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("locked_at", nullable=True),
        sa.CheckConstraint("status IN ('draft', 'locked')", name=op.f("ck_assessment_status")),
        _fk("incident_id", "assessment", "incident.id"),
        _fk("subject_id", "assessment", "incident_subject.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_assessment_subject_id")),
    )
    op.create_index(op.f("ix_assessment_incident_id"), "assessment", ["incident_id"], unique=False)
    op.create_table(
        "assessment_revision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("assessment_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("amendment_reason", sa.String(length=1000), nullable=True),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "kind IN ('created', 'updated', 'amended')", name=op.f("ck_assessment_revision_kind")
        ),
        _fk("assessment_id", "assessment_revision", "assessment.id"),
        _fk("author_id", "assessment_revision", "user_account.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_revision")),
        sa.UniqueConstraint(
            "assessment_id", "revision", name="uq_assessment_revision_assessment_id_revision"
        ),
    )
    op.create_table(
        "assessment_signature",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("assessment_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("signer_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        _timestamp("signed_at"),
        sa.CheckConstraint(
            "role IN ('officer', 'mh_practitioner')", name=op.f("ck_assessment_signature_role")
        ),
        _fk("assessment_id", "assessment_signature", "assessment.id"),
        _fk("signer_id", "assessment_signature", "user_account.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_signature")),
        sa.UniqueConstraint(
            "assessment_id",
            "revision",
            "role",
            name="uq_assessment_signature_assessment_id_revision_role",
        ),
    )
    op.create_table(
        "incident_outcome",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("codes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("place_of_safety", sa.String(length=40), nullable=True),
        sa.Column("conveyance", sa.String(length=20), nullable=True),
        sa.Column("referral_notes", sa.String(length=1000), nullable=True),
        _timestamp("left_scene_at", nullable=True),
        _timestamp("handover_at", nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        _timestamp("recorded_at"),
        _fk("incident_id", "incident_outcome", "incident.id"),
        _fk("recorded_by", "incident_outcome", "user_account.id"),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_outcome")),
    )
    op.create_table(
        "idempotency_record",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_record")),
    )
    op.create_index(
        "ix_idempotency_record_created_at", "idempotency_record", ["created_at"], unique=False
    )

    # The role every request runs as (SET LOCAL ROLE), whatever login the service uses. Roles
    # belong to the cluster, not the database, so it is created once and kept on downgrade.
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
        f"THEN CREATE ROLE {APP_ROLE} NOLOGIN; END IF; END $$"
    )
    op.execute(f"GRANT {APP_ROLE} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    for table, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")
    for table, condition in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {table}_tenant ON {table} USING ({condition}) WITH CHECK ({condition})"
        )


def downgrade() -> None:
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS {table}_tenant ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table in GRANTS:
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
    op.drop_table("idempotency_record")
    op.drop_table("incident_outcome")
    op.drop_table("assessment_signature")
    op.drop_table("assessment_revision")
    op.drop_table("assessment")
    op.drop_table("incident_subject")
    op.drop_table("person")
