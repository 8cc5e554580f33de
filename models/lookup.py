"""The crisis flag lookup: what is asked, what each role is told, and what it leaves behind.

Each role has its own response model, so a field a role may not see does not exist in its schema.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Index
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import timestamp
from models.nhs_number import NhsNumber
from models.partner import AlertLevel, ClinicalPlan, CrisisContact, Demographics


class LookupRequest(BaseModel):
    """An NHS number, or demographics to trace one. Never in a URL."""

    model_config = ConfigDict(extra="forbid")

    nhs_number: NhsNumber | None = None
    demographics: Demographics | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.nhs_number is None) == (self.demographics is None):
            raise ValueError("give an nhs_number or demographics, not both and not neither")
        return self


class SourceStatus(StrEnum):
    found = "found"
    not_found = "not_found"
    unavailable = "unavailable"
    error = "error"


class SourceReport(BaseModel):
    name: str
    kind: str
    status: SourceStatus
    latency_ms: int


class Known(StrEnum):
    yes = "yes"
    no = "no"
    unknown = "unknown"


class PlanPresence(StrEnum):
    present = "present"
    absent = "absent"
    unknown = "unknown"


class Identification(StrEnum):
    verified = "verified"
    unverified = "unverified"  # PDS could not be asked; the NHS number passed its check digit
    not_found = "not_found"
    ambiguous = "ambiguous"


class Person(BaseModel):
    identification: Identification
    demographics_restricted: bool = Field(
        description="The person's demographics are restricted: no address or location is ever shown."
    )
    nhs_number: str | None = Field(
        description="The number looked up, or the current one if superseded."
    )


class Alerts(BaseModel):
    risk_to_self: AlertLevel
    risk_to_others: AlertLevel
    risk_from_others: AlertLevel


class Custodian(BaseModel):
    organisation_code: str
    name: str | None


class OfficerFlag(BaseModel):
    """What a police officer at the scene is told: no diagnosis, medication or clinical history."""

    lookup_id: uuid.UUID
    person: Person
    known_to_services: Known
    crisis_plan: PlanPresence
    safety_alerts: Alerts
    approach_advice: str | None = None
    crisis_contact: CrisisContact | None = None
    custodian: Custodian | None = None
    last_reviewed: datetime | None = None
    review_due: date | None = None
    stale: bool | None = None
    sources: list[SourceReport]


class DocumentPointer(BaseModel):
    custodian_code: str
    title: str | None
    url: str | None
    content_type: str | None
    contact_details: bool


class PractitionerFlag(OfficerFlag):
    """The practitioner's answer adds the plan's content: their own trust's, or any by break-glass."""

    clinical: ClinicalPlan | None = None
    documents: list[DocumentPointer] = Field(default_factory=list)


class FlagLookup(SQLModel, table=True):
    """One row per lookup, for quotas and for the incident's record of what was checked."""

    __tablename__ = "flag_lookup"
    __table_args__ = (
        Index("ix_flag_lookup_user_id_created_at", "user_id", "created_at"),
        Index("ix_flag_lookup_organisation_code_created_at", "organisation_code", "created_at"),
        Index("ix_flag_lookup_incident_id", "incident_id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = SQLField(foreign_key="incident.id")
    user_id: uuid.UUID = SQLField(foreign_key="user_account.id")
    organisation_code: str = SQLField(max_length=10)
    person_id: uuid.UUID | None = SQLField(default=None, foreign_key="person.id")
    known_to_services: str = SQLField(max_length=10)
    created_at: datetime = timestamp()


class AccessNotification(SQLModel, table=True):
    """The CP-IS rule: the organisation holding a person's plan is told of every police look-up."""

    __tablename__ = "access_notification"
    __table_args__ = (
        Index(
            "ix_access_notification_organisation_code_created_at", "organisation_code", "created_at"
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organisation_code: str = SQLField(max_length=10)
    person_id: uuid.UUID = SQLField(foreign_key="person.id")
    lookup_id: uuid.UUID = SQLField(foreign_key="flag_lookup.id")
    actor_user_id: uuid.UUID = SQLField(foreign_key="user_account.id")
    actor_name: str = SQLField(max_length=200)
    actor_role: str = SQLField(max_length=30)
    actor_organisation_code: str = SQLField(max_length=10)
    incident_id: uuid.UUID = SQLField(foreign_key="incident.id")
    cad_reference: str = SQLField(max_length=40)
    purpose: str = SQLField(max_length=40)
    break_glass: bool = SQLField(default=False)
    read_at: datetime | None = timestamp(default_now=False, nullable=True)
    created_at: datetime = timestamp()
