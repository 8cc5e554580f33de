"""Tokens this API issued, and the ones revoked before they expired."""

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from models.base import timestamp


class IssuedToken(SQLModel, table=True):
    """A record of each token issued: who, for what, bound to which incident, until when."""

    __tablename__ = "issued_token"
    __table_args__ = (Index("ix_issued_token_incident_id_expires_at", "incident_id", "expires_at"),)

    jti: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id")
    role: str = Field(sa_type=String(30))
    organisation_code: str = Field(max_length=10, foreign_key="organisation.code")
    purpose: str = Field(max_length=40)
    scope: str = Field(sa_type=Text)
    incident_id: uuid.UUID | None = Field(default=None, foreign_key="incident.id")
    justification: str | None = Field(default=None, max_length=2000)
    issued_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False)
    # Minted for a signed-in page: revoked with the rest when that session ends.
    browser_session_id: uuid.UUID | None = Field(
        default=None, foreign_key="browser_session.id", ondelete="SET NULL", index=True
    )


class RevokedToken(SQLModel, table=True):
    """A revoked `jti`. Rows past `expires_at` can go: the token is refused for expiry anyway."""

    __tablename__ = "revoked_token"

    jti: uuid.UUID = Field(primary_key=True)
    reason: str = Field(max_length=40)
    revoked_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False)
