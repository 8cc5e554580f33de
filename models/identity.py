"""People who use the API, as their identity providers name them."""

import uuid
from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import timestamp


class UserAccount(SQLModel, table=True):
    """One row per (identity provider, subject). Our tokens name this row's id as `sub`.

    Deactivating a row takes effect on the next request: every request checks `active`.
    """

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_user_account_issuer_subject"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    issuer: str = Field(max_length=300)
    subject: str = Field(max_length=255)
    display_name: str = Field(max_length=200)
    role: str = Field(sa_type=String(30))
    organisation_code: str = Field(max_length=10, foreign_key="organisation.code")
    active: bool = Field(default=True)
    first_seen_at: datetime = timestamp()
    last_seen_at: datetime = timestamp()
    deactivated_at: datetime | None = timestamp(default_now=False, nullable=True)
