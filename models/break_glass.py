"""The information governance queue of break-glass accesses waiting for review."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from models.base import timestamp


class ReviewStatus(StrEnum):
    pending = "pending"
    reviewed = "reviewed"


class BreakGlassReview(SQLModel, table=True):
    __tablename__ = "break_glass_review"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_jti: uuid.UUID = Field(foreign_key="issued_token.jti", unique=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id")
    organisation_code: str = Field(max_length=10, foreign_key="organisation.code")
    incident_id: uuid.UUID = Field(foreign_key="incident.id")
    justification: str = Field(max_length=2000)
    status: ReviewStatus = Field(default=ReviewStatus.pending, sa_type=String(10), index=True)
    created_at: datetime = timestamp()
