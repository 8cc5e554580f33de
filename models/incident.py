"""An incident attended by a street triage car: the record tokens are bound to."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlmodel import Field, SQLModel

from models.base import timestamp

CAD_REFERENCE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,39}$"


class IncidentStatus(StrEnum):
    open = "open"
    closed = "closed"


class IncidentBase(SQLModel):
    cad_reference: str = Field(
        max_length=40,
        regex=CAD_REFERENCE_PATTERN,
        description="Police command-and-control incident number, e.g. `LP-20261121-0412`.",
    )
    partner_trust_code: str | None = Field(
        default=None,
        max_length=10,
        description="ODS code of the NHS trust working the incident with the force.",
    )


class Incident(IncidentBase, table=True):
    __tablename__ = "incident"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_code: str = Field(max_length=10, foreign_key="organisation.code", index=True)
    partner_trust_code: str | None = Field(
        default=None, max_length=10, foreign_key="organisation.code"
    )
    status: IncidentStatus = Field(default=IncidentStatus.open, sa_type=String(10))
    opened_by: uuid.UUID = Field(foreign_key="user_account.id")
    opened_at: datetime = timestamp()
    closed_at: datetime | None = timestamp(default_now=False, nullable=True)


class IncidentCreate(IncidentBase):
    pass


class IncidentRead(IncidentBase):
    id: uuid.UUID
    organisation_code: str
    status: IncidentStatus
    opened_at: datetime
    closed_at: datetime | None
