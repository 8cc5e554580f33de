"""The moment an incident was received is the server's, in the database too.

`incident.opened_at` is when the server received the incident, by its own clock; retention counts
from the later of it and the time of call, which is the caller's word. The API always sets it. A
row written by SQL (data brought over from an earlier system) without it now gets the moment it
was written, rather than being refused, so it is kept for the full period from the day it came.

Revision ID: 0012_server_time
Revises: 0011_anonymous_refusals
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_server_time"
down_revision: str | None = "0011_anonymous_refusals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("incident", "opened_at", server_default=sa.text("now()"))


def downgrade() -> None:
    op.alter_column("incident", "opened_at", server_default=None)
