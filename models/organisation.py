"""Organisations taking part in the partnership: police forces and NHS trusts, keyed by ODS code."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlmodel import Field, SQLModel

from models.base import timestamp


class OrganisationKind(StrEnum):
    police_force = "police_force"
    nhs_trust = "nhs_trust"


ODS_CODE_PATTERN = r"^[A-Z0-9]{3,10}$"


class OrganisationBase(SQLModel):
    code: str = Field(
        max_length=10, regex=ODS_CODE_PATTERN, description="ODS-style organisation code"
    )
    name: str = Field(min_length=1, max_length=200)
    kind: OrganisationKind = Field(sa_type=String(20))


class Organisation(OrganisationBase, table=True):
    """An organisation row, kept in step with the partnership file at start-up."""

    __tablename__ = "organisation"
    __table_args__ = (CheckConstraint("kind IN ('police_force', 'nhs_trust')", name="kind"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(max_length=10, unique=True)
    active: bool = Field(default=True)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
