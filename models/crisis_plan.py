"""Crisis plans written in this system, on the PRSB crisis care headings.

A plan has a short section written for police (safety alerts, how to approach, who to call) and a
clinical section for practitioners only. Inputs forbid unknown keys, so who wrote a plan, for which
organisation, at which revision and in which status is only ever set by the server. Every change
is a new version with a full snapshot; versions are never updated or deleted.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic import Field as PydanticField
from sqlalchemy import CheckConstraint, Date, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp, utcnow
from models.contact_hours import ContactHours, is_uk_phone, parse_hours, phone_in
from models.lookup import Alerts
from models.nhs_number import NhsNumber
from models.notification import NotificationActor
from models.partner import ClinicalPlan, CrisisAction
from models.validation import PlausibleDate

MAX_ACTIONS = 20


def _bounded(max_length: int) -> Any:
    return StringConstraints(min_length=1, max_length=max_length, strip_whitespace=True)


Name = Annotated[str, _bounded(200)]
ShortText = Annotated[str, _bounded(500)]
Text = Annotated[str, _bounded(2000)]


def _uk_phone(value: str) -> str:
    if not is_uk_phone(value):
        # The message never repeats the number.
        raise ValueError(
            "is not a UK phone number: 0 and 9 or 10 digits, or +44 and 9 or 10 digits"
        )
    return value


UkPhone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=30, strip_whitespace=True),
    AfterValidator(_uk_phone),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CrisisPlanStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


class CrisisPlanStatusFilter(StrEnum):
    """Which plans a listing returns."""

    active = "active"
    withdrawn = "withdrawn"
    all = "all"


class CrisisPlanVersionKind(StrEnum):
    created = "created"
    updated = "updated"
    withdrawn = "withdrawn"


class SharingConsent(StrEnum):
    given = "given"
    refused = "refused"
    not_asked = "not_asked"


# The police section: exactly what a crisis flag lookup may show an officer.


class PlanSafetyAlerts(Alerts):
    """The three safety alerts, in the shape the crisis flag lookup shows them to police."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _legacy_none(cls, data: Any) -> Any:
        # Plans stored before `none` was renamed read as what it meant: nothing recorded.
        if isinstance(data, dict):
            return {
                key: "not_recorded" if value == "none" else value for key, value in data.items()
            }
        return data


class PlanOutOfHours(_Strict):
    """Who to call when the contact's number is not answered."""

    description: ShortText = PydanticField(description="Who they are, e.g. Avonmere crisis line.")
    phone: UkPhone = PydanticField(description="A UK number answered whenever the team's is not.")


class PlanCrisisContact(_Strict):
    """NRL contact rules: a UK work number, when it is answered, and an out-of-hours alternative,
    all required, so the lookup can say which number to call at the hour it is asked."""

    team: Name
    phone: UkPhone = PydanticField(description="A UK work number, never a personal one.")
    hours: ContactHours = PydanticField(
        description="When the number is answered, in Europe/London; closed on bank holidays"
        " unless `open_on_bank_holidays`."
    )
    out_of_hours: PlanOutOfHours


class PoliceSection(_Strict):
    safety_alerts: PlanSafetyAlerts
    approach_advice: ShortText | None = PydanticField(
        default=None, description="What helps when approaching the person; no clinical detail."
    )
    crisis_contact: PlanCrisisContact


# The clinical section: for practitioners only.


class InformationSharing(_Strict):
    consent: SharingConsent
    reason_without_consent: Text | None = PydanticField(
        default=None,
        description="Why information is shared without consent; required unless given.",
    )

    @model_validator(mode="after")
    def _reason_unless_given(self) -> Self:
        if self.consent == SharingConsent.given and self.reason_without_consent is not None:
            raise ValueError("reason_without_consent is given only when consent was not")
        if self.consent != SharingConsent.given and self.reason_without_consent is None:
            raise ValueError("reason_without_consent is required when consent was not given")
        return self


class PlanAction(CrisisAction):
    """ "In the event of X, do Y"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: ShortText
    action: Text


class ClinicalSection(ClinicalPlan):
    """The fields the crisis flag lookup shows a practitioner, and the rest of the PRSB headings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    triggers: Text | None = None
    early_signs: Text | None = None
    what_helps: Text | None = None
    what_to_avoid: Text | None = None
    mha_status: ShortText | None = PydanticField(
        default=None, description="Mental Health Act status, e.g. informal, CTO."
    )
    care_coordinator: Name | None = None
    dependants: Text | None = None
    access_notes: Text | None = PydanticField(
        default=None, description="Access to the home: key safe, which door."
    )
    safeguarding: Text | None = None
    information_sharing: InformationSharing
    actions: tuple[PlanAction, ...] = PydanticField(default=(), max_length=MAX_ACTIONS)


class CrisisPlanContent(_Strict):
    """What the plan's `content` column holds."""

    police: PoliceSection
    clinical: ClinicalSection


class CrisisPlanBase(CrisisPlanContent):
    """The plan as its author writes it, without the rules that depend on today's date."""

    review_date: PlausibleDate
    agreed_with_person: bool = PydanticField(description="The plan was agreed with the person.")


class CrisisPlanWrite(CrisisPlanBase):
    """A full replacement of the plan (PUT, with If-Match)."""

    @field_validator("review_date")
    @classmethod
    def _not_past(cls, value: date) -> date:
        if value < utcnow().date():
            raise ValueError("is in the past")
        return value


# A reason for caring for the person, as the agreement lists them (`crisis_plan_relationships`).
RelationshipReason = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]


class CrisisPlanCreate(CrisisPlanWrite):
    nhs_number: NhsNumber = PydanticField(description="Whose plan it is; never in a URL.")
    relationship: RelationshipReason | None = PydanticField(
        default=None,
        description="Why your organisation cares for the person, one of the agreement's"
        " `crisis_plan_relationships`. Required when your trust has no record endpoint in the"
        " partnership: it is then audited and queued for your information governance review."
        " Where it has one, that endpoint must know the person, and this is only recorded.",
    )

    @field_validator("review_date")
    @classmethod
    def _future(cls, value: date) -> date:
        if value <= utcnow().date():
            raise ValueError("must be after today")
        return value


class CrisisPlanWithdraw(_Strict):
    reason: Text = PydanticField(description="Why the plan no longer applies.")


class CrisisPlanSearch(_Strict):
    nhs_number: NhsNumber
    include_withdrawn: bool = False


# Reading stored plans. Plans written before hours were structured hold the contact's hours and
# out-of-hours alternative as words; they are read into today's shape, never rewritten, so the
# record stays as it was written.


class HoursAsWritten(BaseModel):
    """Hours stored as words that could not be read: when the number is answered is unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unknown: Literal[True] = True
    as_written: str


class PlanOutOfHoursRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str
    phone: str | None = PydanticField(
        description="Null only for a plan written before the number was required, whose words"
        " held no single UK number."
    )


class PlanCrisisContactRead(BaseModel):
    """A plan's crisis contact as stored, in the shape it is written in today."""

    model_config = ConfigDict(frozen=True)

    team: str
    phone: str
    hours: ContactHours | HoursAsWritten = PydanticField(
        description="When the number is answered; `unknown` for a plan written before hours were"
        " structured whose words could not be read."
    )
    out_of_hours: PlanOutOfHoursRead

    @model_validator(mode="before")
    @classmethod
    def _legacy_words(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        hours, out_of_hours = data.get("hours"), data.get("out_of_hours")
        if isinstance(hours, str):
            schedule = parse_hours(hours)
            data["hours"] = schedule if schedule is not None else HoursAsWritten(as_written=hours)
        if isinstance(out_of_hours, str):
            data["out_of_hours"] = PlanOutOfHoursRead(
                description=out_of_hours, phone=phone_in(out_of_hours)
            )
        return data


class PoliceSectionRead(BaseModel):
    safety_alerts: PlanSafetyAlerts
    approach_advice: str | None = None
    crisis_contact: PlanCrisisContactRead


class CrisisPlanContentRead(BaseModel):
    """What a plan's `content` column holds, whenever it was written."""

    police: PoliceSectionRead
    clinical: ClinicalSection


class CrisisPlanSnapshot(CrisisPlanContentRead):
    """The plan as one version left it."""

    review_date: date
    agreed_with_person: bool
    status: CrisisPlanStatus


class CrisisPlan(SQLModel, table=True):
    __tablename__ = "crisis_plan"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'withdrawn')", name="status"),
        CheckConstraint(
            "(status = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawn_reason IS NOT NULL)",
            name="withdrawn_with_reason",
        ),
        # One active plan per person per organisation; withdrawn ones are kept for the record.
        Index(
            "uq_crisis_plan_active_person_id_organisation_code",
            "person_id",
            "organisation_code",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_crisis_plan_person_id_organisation_code", "person_id", "organisation_code"),
        Index(
            "ix_crisis_plan_organisation_code_created_at", "organisation_code", "created_at", "id"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id")
    organisation_code: str = Field(max_length=10, foreign_key="organisation.code")
    status: CrisisPlanStatus = Field(default=CrisisPlanStatus.active, sa_type=String(10))
    revision: int = Field(default=1)
    content: dict[str, Any] = Field(sa_type=JSONB)
    review_date: date = Field(sa_type=Date)
    agreed_with_person: bool
    created_by: uuid.UUID = Field(foreign_key="user_account.id")
    created_by_name: str = Field(max_length=200)
    updated_by: uuid.UUID = Field(foreign_key="user_account.id")
    updated_by_name: str = Field(max_length=200)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    withdrawn_at: datetime | None = timestamp(default_now=False, nullable=True)
    withdrawn_reason: str | None = Field(default=None, max_length=2000)


class CrisisPlanVersion(SQLModel, table=True):
    __tablename__ = "crisis_plan_version"
    __table_args__ = (
        UniqueConstraint("plan_id", "revision", name="uq_crisis_plan_version_plan_id_revision"),
        CheckConstraint("kind IN ('created', 'updated', 'withdrawn')", name="kind"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="crisis_plan.id")
    revision: int
    kind: CrisisPlanVersionKind = Field(sa_type=String(10))
    content: dict[str, Any] = Field(sa_type=JSONB)
    changed_paths: list[str] = Field(sa_type=JSONB)
    reason: str | None = Field(default=None, max_length=2000)
    # Names as they were at the time: the record shows who it was then, whatever they are called now.
    author_user_id: uuid.UUID = Field(foreign_key="user_account.id")
    author_name: str = Field(max_length=200)
    author_role: str = Field(max_length=30)
    author_organisation_code: str = Field(max_length=10)
    changed_at: datetime = timestamp()


class RelationshipBasis(StrEnum):
    """How the writing organisation's relationship with the person was established."""

    trust_record = "trust_record"  # the trust's own record endpoint knows the person
    stated = "stated"  # the practitioner stated a reason; information governance reviews it


class RelationshipReviewStatus(StrEnum):
    pending = "pending"
    reviewed = "reviewed"


class RelationshipConclusion(StrEnum):
    confirmed = "confirmed"
    not_confirmed = "not_confirmed"


class CrisisPlanRelationship(SQLModel, table=True):
    """Why the organisation that wrote a plan may write one for the person: one row per plan.

    A stated relationship waits in the writing organisation's information governance queue until
    reviewed; one its record endpoint confirmed needs no review."""

    __tablename__ = "crisis_plan_relationship"
    __table_args__ = (
        CheckConstraint("basis IN ('trust_record', 'stated')", name="basis"),
        CheckConstraint(
            "review_status IS NULL OR review_status IN ('pending', 'reviewed')",
            name="review_status",
        ),
        CheckConstraint(
            "conclusion IS NULL OR conclusion IN ('confirmed', 'not_confirmed')", name="conclusion"
        ),
        CheckConstraint(
            "(basis = 'stated') = (reason IS NOT NULL AND review_status IS NOT NULL)",
            name="stated_with_reason",
        ),
        CheckConstraint(
            "(coalesce(review_status, '') = 'reviewed') = (reviewed_at IS NOT NULL"
            " AND reviewed_by IS NOT NULL AND reviewer_name IS NOT NULL AND conclusion IS NOT NULL"
            " AND finding IS NOT NULL)",
            name="reviewed_in_full",
        ),
        Index(
            "ix_crisis_plan_relationship_queue",
            "organisation_code",
            "review_status",
            "created_at",
            "id",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="crisis_plan.id", unique=True)
    person_id: uuid.UUID = Field(foreign_key="person.id")
    organisation_code: str = Field(max_length=10, foreign_key="organisation.code")
    basis: RelationshipBasis = Field(sa_type=String(20))
    reason: str | None = Field(default=None, max_length=40)
    stated_by: uuid.UUID = Field(foreign_key="user_account.id")
    stated_by_name: str = Field(max_length=200)
    created_at: datetime = timestamp()
    review_status: RelationshipReviewStatus | None = Field(default=None, sa_type=String(10))
    reviewed_at: datetime | None = timestamp(default_now=False, nullable=True)
    reviewed_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    reviewer_name: str | None = Field(default=None, max_length=200)
    conclusion: RelationshipConclusion | None = Field(default=None, sa_type=String(15))
    finding: str | None = Field(default=None, max_length=2000)


class PlanUser(BaseModel):
    user_id: uuid.UUID
    name: str


class PlanAuthor(PlanUser):
    role: str
    organisation_code: str


class CrisisPlanRead(BaseModel):
    id: uuid.UUID
    nhs_number: str
    organisation_code: str
    status: CrisisPlanStatus
    revision: int
    review_date: date
    review_overdue: bool = PydanticField(description="The review date has passed.")
    agreed_with_person: bool
    police: PoliceSectionRead
    clinical: ClinicalSection
    created_by: PlanUser
    updated_by: PlanUser
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None
    withdrawn_reason: str | None


class CrisisPlanSummary(BaseModel):
    """A plan in a listing: enough to find it, no clinical content."""

    id: uuid.UUID
    nhs_number: str
    status: CrisisPlanStatus
    revision: int
    review_date: date
    review_overdue: bool
    agreed_with_person: bool
    updated_by: PlanUser
    updated_at: datetime
    withdrawn_at: datetime | None


class CrisisPlanPage(BaseModel):
    items: list[CrisisPlanSummary]
    next_cursor: str | None = PydanticField(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class CrisisPlanVersionRead(BaseModel):
    revision: int
    kind: CrisisPlanVersionKind
    changed_paths: list[str] = PydanticField(
        description="Dotted paths that differ from the previous version; empty for the first."
    )
    content: CrisisPlanSnapshot
    reason: str | None = PydanticField(description="Why it was withdrawn, for a withdrawal.")
    author: PlanAuthor
    changed_at: datetime


class CrisisPlanAccess(BaseModel):
    """One access to the person's data the plan's organisation was notified of (CP-IS rule)."""

    accessed_at: datetime
    actor: NotificationActor
    cad_reference: str
    purpose: str
    break_glass: bool


class RelationshipReviewStatusFilter(StrEnum):
    """Which stated relationships a listing returns: the queue still to do, or those done."""

    pending = "pending"
    reviewed = "reviewed"


class RelationshipReviewWrite(_Strict):
    """The reviewer's conclusion and finding. A review is completed once."""

    conclusion: RelationshipConclusion = PydanticField(
        description="`confirmed`: the organisation does care for the person;"
        " `not_confirmed`: it could not be shown, and the trust must act on the plan."
    )
    finding: Text = PydanticField(description="What was checked, and what was found.")


class RelationshipReviewRead(BaseModel):
    """A relationship a practitioner stated to write a plan, for the organisation's IG review."""

    id: uuid.UUID
    status: RelationshipReviewStatus
    created_at: datetime
    plan_id: uuid.UUID
    nhs_number: str
    organisation_code: str = PydanticField(description="The writing organisation, which reviews.")
    reason: str
    reason_title: str | None = PydanticField(
        description="The reason's title in the agreement; null if it has since been removed."
    )
    practitioner: PlanUser
    reviewed_at: datetime | None
    reviewer: PlanUser | None
    conclusion: RelationshipConclusion | None
    finding: str | None


class RelationshipReviewPage(BaseModel):
    items: list[RelationshipReviewRead]
    next_cursor: str | None = PydanticField(
        description="Pass as `cursor` for the next page; null on the last page."
    )
