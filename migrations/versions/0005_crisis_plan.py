"""Crisis plans authored here, with every version kept; one active plan per person per organisation.

Row-level security: a tenant writes only its own organisation's plans, and reads every plan. Reading
is open because the crisis flag lookup of a police officer must read the police section of any
partner's plan; the API's queries confine the crisis plan routes to the caller's organisation.

Revision ID: 0005_crisis_plan
Revises: 0004_flag_lookup
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_crisis_plan"
down_revision: str | None = "0004_flag_lookup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"
TENANT = "current_setting('app.org', true)"
OWN_PLAN = f"organisation_code = {TENANT}"
# The subquery reads crisis_plan under its own (open) read policy, so it is narrowed here.
VERSION_OF_OWN_PLAN = (
    "plan_id IN (SELECT id FROM crisis_plan"
    " WHERE organisation_code = current_setting('app.org', true))"
)

# Versions are insert-and-read only: history is never rewritten.
GRANTS = {
    "crisis_plan": "SELECT, INSERT, UPDATE",
    "crisis_plan_version": "SELECT, INSERT",
}
POLICIES = {
    "crisis_plan": [
        ("read", "FOR SELECT USING (true)"),
        ("insert", f"FOR INSERT WITH CHECK ({OWN_PLAN})"),
        ("update", f"FOR UPDATE USING ({OWN_PLAN}) WITH CHECK ({OWN_PLAN})"),
    ],
    "crisis_plan_version": [
        ("read", "FOR SELECT USING (true)"),
        ("insert", f"FOR INSERT WITH CHECK ({VERSION_OF_OWN_PLAN})"),
    ],
}


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    referred, _ = target.split(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    op.create_table(
        "crisis_plan",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("review_date", sa.Date(), nullable=False),
        sa.Column("agreed_with_person", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_by_name", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_by_name", sa.String(length=200), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("withdrawn_at", nullable=True),
        sa.Column("withdrawn_reason", sa.String(length=2000), nullable=True),
        sa.CheckConstraint("status IN ('active', 'withdrawn')", name=op.f("ck_crisis_plan_status")),
        sa.CheckConstraint(
            "(status = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawn_reason IS NOT NULL)",
            name=op.f("ck_crisis_plan_withdrawn_with_reason"),
        ),
        _fk("person_id", "crisis_plan", "person.id"),
        _fk("organisation_code", "crisis_plan", "organisation.code"),
        _fk("created_by", "crisis_plan", "user_account.id"),
        _fk("updated_by", "crisis_plan", "user_account.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_plan")),
    )
    op.create_index(
        "uq_crisis_plan_active_person_id_organisation_code",
        "crisis_plan",
        ["person_id", "organisation_code"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_crisis_plan_person_id_organisation_code",
        "crisis_plan",
        ["person_id", "organisation_code"],
    )
    op.create_index(
        "ix_crisis_plan_organisation_code_created_at",
        "crisis_plan",
        ["organisation_code", "created_at", "id"],
    )
    op.create_table(
        "crisis_plan_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("changed_paths", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("author_user_id", sa.Uuid(), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_role", sa.String(length=30), nullable=False),
        sa.Column("author_organisation_code", sa.String(length=10), nullable=False),
        _timestamp("changed_at"),
        sa.CheckConstraint(
            "kind IN ('created', 'updated', 'withdrawn')",
            name=op.f("ck_crisis_plan_version_kind"),
        ),
        _fk("plan_id", "crisis_plan_version", "crisis_plan.id"),
        _fk("author_user_id", "crisis_plan_version", "user_account.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_plan_version")),
        sa.UniqueConstraint("plan_id", "revision", name="uq_crisis_plan_version_plan_id_revision"),
    )

    for table, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")
    for table, policies in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        for name, rule in policies:
            op.execute(f"CREATE POLICY {table}_{name} ON {table} {rule}")


def downgrade() -> None:
    # Dropping a table drops its policies and grants with it.
    op.drop_table("crisis_plan_version")
    op.drop_table("crisis_plan")
