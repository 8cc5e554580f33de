"""Purpose-bound access: user accounts, issued and revoked tokens, incidents, audit events, break-glass reviews.

Revision ID: 0002_access
Revises: 0001_organisation
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_access"
down_revision: str | None = "0001_organisation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _timestamp("first_seen_at"),
        _timestamp("last_seen_at"),
        _timestamp("deactivated_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_code"],
            ["organisation.code"],
            name=op.f("fk_user_account_organisation_code_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("issuer", "subject", name="uq_user_account_issuer_subject"),
    )
    op.create_table(
        "incident",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cad_reference", sa.String(length=40), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("partner_trust_code", sa.String(length=10), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        _timestamp("time_of_call_at"),
        _timestamp("arrival_at", nullable=True),
        sa.Column("location_area_code", sa.String(length=12), nullable=True),
        sa.Column("location_latitude", sa.Float(), nullable=True),
        sa.Column("location_longitude", sa.Float(), nullable=True),
        sa.Column("attendance_reason", sa.String(length=40), nullable=False),
        sa.Column("attendance_reason_text", sa.String(length=500), nullable=True),
        sa.Column("triage_mode", sa.String(length=20), nullable=False),
        sa.Column("opened_by", sa.Uuid(), nullable=False),
        _timestamp("opened_at"),
        _timestamp("closed_at", nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_incident_status")),
        sa.CheckConstraint(
            "attendance_reason IN ('risk_to_life_or_serious_harm', 'crime', 'other')",
            name=op.f("ck_incident_attendance_reason"),
        ),
        sa.CheckConstraint(
            "triage_mode IN ('face_to_face', 'phone', 'control_room')",
            name=op.f("ck_incident_triage_mode"),
        ),
        sa.CheckConstraint(
            "arrival_at IS NULL OR arrival_at >= time_of_call_at",
            name=op.f("ck_incident_arrival_after_call"),
        ),
        sa.CheckConstraint(
            "(location_area_code IS NULL) <> (location_latitude IS NULL)",
            name=op.f("ck_incident_one_location"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["user_account.id"], name=op.f("fk_incident_opened_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_code"],
            ["organisation.code"],
            name=op.f("fk_incident_organisation_code_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_trust_code"],
            ["organisation.code"],
            name=op.f("fk_incident_partner_trust_code_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_index(
        "ix_incident_organisation_code_time_of_call_at",
        "incident",
        ["organisation_code", "time_of_call_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_incident_partner_trust_code"), "incident", ["partner_trust_code"], unique=False
    )
    op.create_index(op.f("ix_incident_opened_by"), "incident", ["opened_by"], unique=False)
    op.create_table(
        "issued_token",
        sa.Column("jti", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("justification", sa.String(length=2000), nullable=True),
        _timestamp("issued_at"),
        _timestamp("expires_at"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_issued_token_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_code"],
            ["organisation.code"],
            name=op.f("fk_issued_token_organisation_code_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_issued_token_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_issued_token")),
    )
    op.create_index(
        "ix_issued_token_incident_id_expires_at",
        "issued_token",
        ["incident_id", "expires_at"],
        unique=False,
    )
    op.create_table(
        "revoked_token",
        sa.Column("jti", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        _timestamp("revoked_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_token")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        _timestamp("occurred_at"),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=30), nullable=True),
        sa.Column("actor_organisation_code", sa.String(length=10), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=True),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("token_jti", sa.Uuid(), nullable=True),
        sa.Column("route", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index("ix_audit_event_occurred_at", "audit_event", ["occurred_at"], unique=False)
    op.create_index(
        "ix_audit_event_actor_organisation_code",
        "audit_event",
        ["actor_organisation_code"],
        unique=False,
    )
    op.create_table(
        "break_glass_review",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_jti", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("justification", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_break_glass_review_incident_id_incident"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_code"],
            ["organisation.code"],
            name=op.f("fk_break_glass_review_organisation_code_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["token_jti"],
            ["issued_token.jti"],
            name=op.f("fk_break_glass_review_token_jti_issued_token"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_break_glass_review_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_review")),
        sa.UniqueConstraint("token_jti", name=op.f("uq_break_glass_review_token_jti")),
    )
    op.create_index(
        op.f("ix_break_glass_review_status"), "break_glass_review", ["status"], unique=False
    )


def downgrade() -> None:
    op.drop_table("break_glass_review")
    op.drop_table("audit_event")
    op.drop_table("revoked_token")
    op.drop_table("issued_token")
    op.drop_table("incident")
    op.drop_table("user_account")
