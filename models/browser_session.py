"""Signed-in browser pages: the sessions the API holds for them and the sign-ins under way.

The browser holds only a random value in an HttpOnly cookie; these rows hold its SHA-256, so a copy
of the table signs no one in. The provider's own tokens are never stored.
"""

import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from models.base import timestamp


class BrowserSession(SQLModel, table=True):
    """A person signed in to a page. It mints our short tokens for the page; it reads no data."""

    __tablename__ = "browser_session"
    __table_args__ = (Index("ix_browser_session_expires_at", "expires_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    secret_hash: str = Field(sa_type=String(64), unique=True)
    provider_id: str = Field(max_length=40)
    user_id: uuid.UUID = Field(foreign_key="user_account.id")
    issuer: str = Field(max_length=300)
    subject: str = Field(max_length=255)
    display_name: str = Field(max_length=200)
    role: str = Field(sa_type=String(30))
    organisation_code: str = Field(max_length=10, foreign_key="organisation.code")
    assurance_level: int | None = Field(default=None)
    created_at: datetime = timestamp()
    last_used_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False)
    ended_at: datetime | None = timestamp(default_now=False, nullable=True)


class SignInAttempt(SQLModel, table=True):
    """One authorization request on its way to the provider and back (ten minutes at most).

    Bound to the browser that started it by a cookie whose SHA-256 is the key; used once.
    """

    __tablename__ = "sign_in_attempt"
    __table_args__ = (Index("ix_sign_in_attempt_expires_at", "expires_at"),)

    secret_hash: str = Field(sa_type=String(64), primary_key=True)
    provider_id: str = Field(max_length=40)
    state: str = Field(max_length=100)
    nonce: str = Field(max_length=100)
    code_verifier: str = Field(max_length=128)
    redirect_uri: str = Field(max_length=2000)
    return_to: str = Field(max_length=40)
    # The role the page asked for, for a person the provider gives several.
    role: str | None = Field(default=None, sa_type=String(30))
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False)
