"""The people an incident is about: identified by NHS number, stored once, or described."""

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import timestamp
from models.nhs_number import NhsNumber


class Person(SQLModel, table=True):
    """An NHS number, once. Everything else refers to the person by this row's id."""

    __tablename__ = "person"
    # The database's own refusal of anything but ten ASCII digits (migration 0008), for writes
    # that do not come through `NhsNumber`.
    __table_args__ = (
        CheckConstraint("nhs_number ~ '^[0-9]{10}$'", name="nhs_number_ascii_digits"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    nhs_number: str = Field(max_length=10, unique=True)
    created_at: datetime = timestamp()


class IncidentSubject(SQLModel, table=True):
    __tablename__ = "incident_subject"
    __table_args__ = (
        CheckConstraint(
            "(person_id IS NULL) <> (description IS NULL)", name="identified_or_described"
        ),
        UniqueConstraint(
            "incident_id", "person_id", name="uq_incident_subject_incident_id_person_id"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incident.id", index=True)
    person_id: uuid.UUID | None = Field(default=None, foreign_key="person.id", index=True)
    description: str | None = Field(default=None, max_length=200)
    added_by: uuid.UUID = Field(foreign_key="user_account.id")
    added_at: datetime = timestamp()


class SubjectCreate(BaseModel):
    """An NHS number (after a lookup), or a short description of someone not identified."""

    model_config = ConfigDict(extra="forbid")

    nhs_number: NhsNumber | None = None
    description: str | None = PydanticField(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.nhs_number is None) == (self.description is None):
            raise ValueError("give an nhs_number or a description, not both and not neither")
        return self


class SubjectRead(BaseModel):
    id: uuid.UUID
    incident_id: uuid.UUID
    identified: bool
    nhs_number: str | None
    description: str | None
    added_at: datetime
