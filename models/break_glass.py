"""The information governance queue of break-glass accesses waiting for review.

A break-glass is reviewed by the information governance officer of the practitioner's own
organisation: the employer answers for its staff's conduct. The custodian whose plan was read is
told of the access as it happens (a `break_glass` access notification), and counts it in its subject
access reports.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import timestamp


class ReviewStatus(StrEnum):
    pending = "pending"
    reviewed = "reviewed"


class ReviewConclusion(StrEnum):
    justified = "justified"
    unjustified = "unjustified"


class BreakGlassReview(SQLModel, table=True):
    __tablename__ = "break_glass_review"
    __table_args__ = (
        CheckConstraint(
            "conclusion IS NULL OR conclusion IN ('justified', 'unjustified')",
            name="conclusion",
        ),
        CheckConstraint(
            "(status = 'reviewed') = (reviewed_at IS NOT NULL AND reviewed_by IS NOT NULL"
            " AND reviewer_name IS NOT NULL AND conclusion IS NOT NULL AND finding IS NOT NULL)",
            name="reviewed_in_full",
        ),
        Index(
            "ix_break_glass_review_organisation_code_status_created_at",
            "organisation_code",
            "status",
            "created_at",
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    token_jti: uuid.UUID = SQLField(foreign_key="issued_token.jti", unique=True)
    user_id: uuid.UUID = SQLField(foreign_key="user_account.id")
    organisation_code: str = SQLField(max_length=10, foreign_key="organisation.code")
    incident_id: uuid.UUID = SQLField(foreign_key="incident.id")
    justification: str = SQLField(max_length=2000)
    status: ReviewStatus = SQLField(default=ReviewStatus.pending, sa_type=String(10), index=True)
    created_at: datetime = timestamp()
    reviewed_at: datetime | None = timestamp(default_now=False, nullable=True)
    reviewed_by: uuid.UUID | None = SQLField(default=None, foreign_key="user_account.id")
    reviewer_name: str | None = SQLField(default=None, max_length=200)
    conclusion: str | None = SQLField(default=None, sa_type=String(12))
    finding: str | None = SQLField(default=None, max_length=2000)
