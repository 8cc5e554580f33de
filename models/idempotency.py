"""Stored responses for `Idempotency-Key`: a retried POST gets the first answer, not a second write."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp


class IdempotencyRecord(SQLModel, table=True):
    """One key per user and organisation. The row is written in the request's own transaction, so
    a request that fails leaves no key behind, and a concurrent retry waits on the primary key until
    it knows.

    A stored response is personal data (an NHS number, a whole assessment or plan): row-level
    security admits only the organisation the key was used for, and the API deletes it once the key
    has expired (`api.idempotency.delete_expired`)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (Index("ix_idempotency_record_created_at", "created_at"),)

    # The organisation leads the key: a user whose identity moves to another organisation never
    # meets, let alone replays, what they stored for the first.
    organisation_code: str = Field(primary_key=True, max_length=10, foreign_key="organisation.code")
    user_id: uuid.UUID = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=255)
    route: str = Field(sa_type=String(200))
    request_hash: bytes = Field(sa_type=LargeBinary)
    # Empty while the first request is in flight; that request's commit fills them.
    status_code: int | None = None
    response_body: Any | None = Field(default=None, sa_type=JSONB)
    response_headers: dict[str, str] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime = timestamp()
