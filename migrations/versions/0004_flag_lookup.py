"""Crisis flag lookups and the access notifications they send to the plan's custodian.

Revision ID: 0004_flag_lookup
Revises: 0003_incident_record
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004_flag_lookup"
down_revision: str | None = "0003_incident_record"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"
TENANT = "current_setting('app.org', true)"


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    referred, _ = target.split(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    op.create_table(
        "flag_lookup",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("known_to_services", sa.String(length=10), nullable=False),
        _timestamp("created_at"),
        _fk("incident_id", "flag_lookup", "incident.id"),
        _fk("user_id", "flag_lookup", "user_account.id"),
        _fk("person_id", "flag_lookup", "person.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_lookup")),
    )
    op.create_index("ix_flag_lookup_user_id_created_at", "flag_lookup", ["user_id", "created_at"])
    op.create_index(
        "ix_flag_lookup_organisation_code_created_at",
        "flag_lookup",
        ["organisation_code", "created_at"],
    )
    op.create_index("ix_flag_lookup_incident_id", "flag_lookup", ["incident_id"])
    op.create_table(
        "access_notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("lookup_id", sa.Uuid(), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=30), nullable=False),
        sa.Column("actor_organisation_code", sa.String(length=10), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("cad_reference", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        _timestamp("read_at", nullable=True),
        _timestamp("created_at"),
        _fk("person_id", "access_notification", "person.id"),
        _fk("lookup_id", "access_notification", "flag_lookup.id"),
        _fk("actor_user_id", "access_notification", "user_account.id"),
        _fk("incident_id", "access_notification", "incident.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_notification")),
    )
    op.create_index(
        "ix_access_notification_organisation_code_created_at",
        "access_notification",
        ["organisation_code", "created_at"],
    )

    op.execute(f"GRANT SELECT, INSERT ON flag_lookup TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON access_notification TO {APP_ROLE}")
    for table in ("flag_lookup", "access_notification"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    condition = "incident_id IN (SELECT id FROM incident)"
    op.execute(
        f"CREATE POLICY flag_lookup_tenant ON flag_lookup USING ({condition}) WITH CHECK ({condition})"
    )
    # Written by the looking organisation, read and marked read only by the notified one.
    op.execute(
        "CREATE POLICY access_notification_insert ON access_notification FOR INSERT"
        f" WITH CHECK (actor_organisation_code = {TENANT})"
    )
    op.execute(
        "CREATE POLICY access_notification_read ON access_notification FOR SELECT"
        f" USING (organisation_code = {TENANT})"
    )
    op.execute(
        "CREATE POLICY access_notification_mark ON access_notification FOR UPDATE"
        f" USING (organisation_code = {TENANT})"
    )


def downgrade() -> None:
    op.drop_table("access_notification")
    op.drop_table("flag_lookup")
