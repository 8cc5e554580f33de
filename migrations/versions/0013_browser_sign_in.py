"""Browser sign-in: sessions held for signed-in pages, sign-ins under way, tokens minted for them.

The browser keeps a random value in an HttpOnly cookie; the tables keep its SHA-256. Requests may
create, read and end sessions; nothing else. A token minted for a session names it, so ending the
session revokes them all.

Revision ID: 0013_browser_sign_in
Revises: 0012_server_time
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0013_browser_sign_in"
down_revision: str | None = "0012_server_time"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "browser_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("assurance_level", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        _timestamp("last_used_at"),
        _timestamp("expires_at"),
        _timestamp("ended_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_browser_session_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_code"],
            ["organisation.code"],
            name=op.f("fk_browser_session_organisation_code_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_session")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_browser_session_secret_hash")),
    )
    op.create_index("ix_browser_session_expires_at", "browser_session", ["expires_at"])
    op.create_table(
        "sign_in_attempt",
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=100), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("return_to", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=True),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("secret_hash", name=op.f("pk_sign_in_attempt")),
    )
    op.create_index("ix_sign_in_attempt_expires_at", "sign_in_attempt", ["expires_at"])
    op.add_column("issued_token", sa.Column("browser_session_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_issued_token_browser_session_id_browser_session"),
        "issued_token",
        "browser_session",
        ["browser_session_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        op.f("ix_issued_token_browser_session_id"), "issued_token", ["browser_session_id"]
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON browser_session TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, DELETE ON sign_in_attempt TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_index(op.f("ix_issued_token_browser_session_id"), table_name="issued_token")
    op.drop_constraint(
        op.f("fk_issued_token_browser_session_id_browser_session"),
        "issued_token",
        type_="foreignkey",
    )
    op.drop_column("issued_token", "browser_session_id")
    op.drop_index("ix_sign_in_attempt_expires_at", table_name="sign_in_attempt")
    op.drop_table("sign_in_attempt")
    op.drop_index("ix_browser_session_expires_at", table_name="browser_session")
    op.drop_table("browser_session")
