"""The crisis flag lookup: what is asked, what each role is told, and what it leaves behind.

Each role has its own response model, so a field a role may not see does not exist in its schema.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import timestamp
from models.nhs_number import NhsNumber
from models.partner import AlertCategory, AlertLevel, ClinicalPlan, CrisisContact, Demographics


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


class NumberUsed(StrEnum):
    asked = "asked"
    current = "current"


class SourceReport(BaseModel):
    name: str
    kind: str
    status: SourceStatus
    latency_ms: int
    under: NumberUsed = Field(
        default=NumberUsed.asked,
        description=(
            "Which number the source was asked under: the one asked about, or the current one"
            " PDS gave when it had been replaced."
        ),
    )


class Known(StrEnum):
    """`no` only when the person was positively identified and every record holder answered and
    holds nothing; `unknown` whenever a holder did not answer or the number was not verified."""

    yes = "yes"
    no = "no"
    unknown = "unknown"


class PlanPresence(StrEnum):
    present = "present"
    absent = "absent"
    unknown = "unknown"


class Identification(StrEnum):
    """How sure the answer is of who the person is.

    - `verified`: PDS confirmed the number (by number, or a trace's single match scoring 1).
    - `probable`: a trace's single match scored below 1: confirm who the person is.
    - `unverified`: PDS could not be asked about the number; it passed its check digit only.
    - `not_found`: PDS does not know the number: check it. Record holders were still asked.
    - `ambiguous`: a trace matched several people; no one is named.
    - `not_traced`: a trace could not be made (PDS did not answer, or answered badly).
    - `no_match`: a trace found no one.
    """

    verified = "verified"
    probable = "probable"
    unverified = "unverified"
    not_found = "not_found"
    ambiguous = "ambiguous"
    not_traced = "not_traced"
    no_match = "no_match"


class Person(BaseModel):
    identification: Identification
    demographics_restricted: bool = Field(
        description=(
            "PDS marks the person's demographics restricted: no address or location is ever shown."
        )
    )
    nhs_number: str | None = Field(
        description="The number the answer is about: the current one if the asked one was superseded."
    )
    nhs_number_asked: str | None = Field(
        description="The number asked about, or found by the trace, before any change."
    )
    number_changed: bool = Field(
        description="PDS says the number asked about was replaced by `nhs_number`."
    )
    check: str | None = Field(
        description="What the officer should check before relying on the answer, in words."
    )


class Alerts(BaseModel):
    """Safety alert levels. `not_recorded` means every source that could hold an alert answered
    and none recorded one: it is not "no risk". `unknown` means a source that could hold one did
    not answer, or holds an alert this service cannot read."""

    risk_to_self: AlertLevel
    risk_to_others: AlertLevel
    risk_from_others: AlertLevel


class Custodian(BaseModel):
    organisation_code: str
    name: str | None


class CallNowReason(StrEnum):
    """Why `phone` is the number to call at the moment of the lookup."""

    always_answered = "always_answered"
    in_hours = "in_hours"
    out_of_hours = "out_of_hours"
    # Closed now, and the alternative's words give no number we could read: read them.
    out_of_hours_no_number = "out_of_hours_no_number"
    # The hours could not be read, or it is a bank holiday the hours do not speak for.
    hours_unknown = "hours_unknown"


class CallNow(BaseModel):
    """The number to call at the moment of the lookup, in Europe/London. When the hours could
    not be read, `phone` is None and `numbers` gives both: the officer is told the hours are
    unknown rather than handed a number that may ring an empty office."""

    phone: str | None
    reason: CallNowReason
    numbers: list[str] = Field(
        description="The contact's numbers worth calling now, the one to call first; a number"
        " known to be closed now is not among them."
    )
    at: datetime


class AnswerContact(CrisisContact):
    call_now: CallNow


class UnreadAlert(BaseModel):
    """An active alert a custodian holds that this service cannot read: contact them."""

    custodian: Custodian
    category: AlertCategory | None = Field(
        description="The category it concerns, if known; None: it could concern any."
    )
    message: str


class OfficerPlan(BaseModel):
    """One custodian's crisis plan: the part written for police."""

    custodian: Custodian
    last_reviewed: datetime | None
    review_due: date | None
    stale: bool | None = Field(
        description="The review date has passed: the plan may be out of date."
    )
    approach_advice: str | None
    crisis_contact: AnswerContact | None


class PractitionerPlan(OfficerPlan):
    clinical: ClinicalPlan | None = Field(
        description="The plan's clinical content: the practitioner's own trust's, or by break-glass."
    )


class OfficerFlag(BaseModel):
    """What a police officer at the scene is told: no diagnosis, medication or clinical history."""

    view: Literal["officer"] = Field(
        description="Whose answer this is, and so which fields it has: `officer` or `practitioner`."
    )
    lookup_id: uuid.UUID
    looked_up_at: datetime
    person: Person
    known_to_services: Known
    crisis_plan: PlanPresence
    safety_alerts: Alerts
    highest_recorded: dict[AlertCategory, AlertLevel] = Field(
        description=(
            "Per category, the highest level (low, medium or high) a source that answered"
            " recorded, whatever the others said; a category with none is absent. Where"
            " `safety_alerts` says unknown, this is what is known at least."
        )
    )
    unread_alerts: list[UnreadAlert]
    plans: list[OfficerPlan] = Field(
        description="Every active crisis plan found, most recently reviewed first."
    )
    custodians: list[Custodian] = Field(
        description="Every organisation found holding a record of the person."
    )
    sources: list[SourceReport]


class DocumentPointer(BaseModel):
    custodian_code: str
    title: str | None
    url: str | None
    content_type: str | None
    contact_details: bool


class PractitionerFlag(OfficerFlag):
    """The practitioner's answer adds the plan's content: their own trust's, or any by break-glass."""

    view: Literal["practitioner"] = Field(  # type: ignore[assignment]
        description="Whose answer this is, and so which fields it has: `officer` or `practitioner`."
    )
    plans: list[PractitionerPlan] = Field(  # type: ignore[assignment]
        description="Every active crisis plan found, most recently reviewed first."
    )
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
    """The CP-IS rule: the organisation holding a person's plan is told of every police look-up,
    and (`access_kind` `plan_written`) of another organisation writing a plan for the person, which
    has no lookup, incident or CAD reference."""

    __tablename__ = "access_notification"
    __table_args__ = (
        CheckConstraint("access_kind IN ('lookup', 'plan_written')", name="access_kind"),
        CheckConstraint(
            "(access_kind = 'lookup')"
            " = (lookup_id IS NOT NULL AND incident_id IS NOT NULL AND cad_reference IS NOT NULL)",
            name="lookup_in_full",
        ),
        Index(
            "ix_access_notification_organisation_code_created_at", "organisation_code", "created_at"
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organisation_code: str = SQLField(max_length=10)
    person_id: uuid.UUID = SQLField(foreign_key="person.id")
    lookup_id: uuid.UUID | None = SQLField(default=None, foreign_key="flag_lookup.id")
    actor_user_id: uuid.UUID = SQLField(foreign_key="user_account.id")
    actor_name: str = SQLField(max_length=200)
    actor_role: str = SQLField(max_length=30)
    actor_organisation_code: str = SQLField(max_length=10)
    incident_id: uuid.UUID | None = SQLField(default=None, foreign_key="incident.id")
    cad_reference: str | None = SQLField(default=None, max_length=40)
    # `lookup` (break-glass or not, as `break_glass` says) or `plan_written`.
    access_kind: str = SQLField(
        default="lookup", max_length=20, sa_column_kwargs={"server_default": "lookup"}
    )
    purpose: str = SQLField(max_length=40)
    break_glass: bool = SQLField(default=False)
    read_at: datetime | None = timestamp(default_now=False, nullable=True)
    created_at: datetime = timestamp()
