"""Partner call rates shared by every worker and replica: one row per partner.

A partner's published rate (PDS: 5 requests a second per application) is the application's, not
one process's. Each call reserves its slot with one statement on the partner's row (GCRA: `tat`
is the theoretical arrival time of the next call, in epoch seconds). Unlogged: the state is a few
seconds deep, and a crash that loses it loses nothing worth a write-ahead log.

Revision ID: 0015_partner_rate
Revises: 0014_audit_transparency_log
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_partner_rate"
down_revision: str | None = "0014_audit_transparency_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"


def upgrade() -> None:
    op.execute(
        "CREATE UNLOGGED TABLE partner_rate ("
        " partner varchar(40) CONSTRAINT pk_partner_rate PRIMARY KEY,"
        " tat double precision NOT NULL)"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON partner_rate TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP TABLE partner_rate")
