"""Stored idempotent responses belong to an organisation, behind row-level security.

A stored response is the first answer to a POST: an NHS number, a whole assessment or crisis plan.
`idempotency_record` gains `organisation_code`, which leads its primary key (a user whose identity
moves to another organisation starts afresh there, and never replays what they stored for the
first), and the tenant policy every incident table has: the application sees, writes and deletes
only its own organisation's rows. `triage purge` still deletes expired rows as the schema owner,
through the same retention policy as the tables of 0007. Rows already stored take their user's
organisation.

Revision ID: 0010_audited_reads
Revises: 0009_crisis_plan_relationship
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_audited_reads"
down_revision: str | None = "0009_crisis_plan_relationship"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "idempotency_record"
TENANT = "current_setting('app.org', true)"
OWN = f"organisation_code = {TENANT}"
MAINTENANCE = "current_setting('app.maintenance', true) = 'retention'"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("organisation_code", sa.String(length=10), nullable=True))
    op.execute(
        "UPDATE idempotency_record SET organisation_code = user_account.organisation_code"
        " FROM user_account WHERE user_account.id = idempotency_record.user_id"
    )
    # A key whose user is unknown can never be replayed: nobody could present it.
    op.execute("DELETE FROM idempotency_record WHERE organisation_code IS NULL")
    op.alter_column(TABLE, "organisation_code", nullable=False)
    op.create_foreign_key(
        op.f("fk_idempotency_record_organisation_code_organisation"),
        TABLE,
        "organisation",
        ["organisation_code"],
        ["code"],
    )
    op.drop_constraint("pk_idempotency_record", TABLE, type_="primary")
    op.create_primary_key("pk_idempotency_record", TABLE, ["organisation_code", "user_id", "key"])

    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {TABLE}_tenant ON {TABLE} USING ({OWN}) WITH CHECK ({OWN})")
    op.execute(
        f"CREATE POLICY {TABLE}_retention ON {TABLE} FOR ALL TO CURRENT_USER"
        f" USING ({MAINTENANCE}) WITH CHECK ({MAINTENANCE})"
    )


def downgrade() -> None:
    op.execute(f"DROP POLICY IF EXISTS {TABLE}_retention ON {TABLE}")
    op.execute(f"DROP POLICY IF EXISTS {TABLE}_tenant ON {TABLE}")
    op.execute(f"ALTER TABLE {TABLE} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} DISABLE ROW LEVEL SECURITY")
    # One key per user again: where a user used one key in two organisations, the latest stays.
    op.execute(
        "DELETE FROM idempotency_record older USING idempotency_record newer"
        " WHERE older.user_id = newer.user_id AND older.key = newer.key"
        " AND (older.created_at, older.organisation_code)"
        " < (newer.created_at, newer.organisation_code)"
    )
    op.drop_constraint("pk_idempotency_record", TABLE, type_="primary")
    op.create_primary_key("pk_idempotency_record", TABLE, ["user_id", "key"])
    op.drop_constraint(
        op.f("fk_idempotency_record_organisation_code_organisation"), TABLE, type_="foreignkey"
    )
    op.drop_column(TABLE, "organisation_code")
