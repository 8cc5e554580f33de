"""The joint assessment: one per subject, written by officer and practitioner, signed by both.

Every write is a new revision; the first signature-complete revision locks the assessment, and any
change after that is an amendment with a reason. Revisions are never updated or deleted.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp

Text2000 = PydanticField(min_length=1, max_length=2000)


class RiskLevel(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"


class Intoxication(StrEnum):
    none = "none"
    alcohol = "alcohol"
    drugs = "drugs"
    alcohol_and_drugs = "alcohol_and_drugs"
    unknown = "unknown"


class CapacityOutcome(StrEnum):
    has_capacity = "has_capacity"
    lacks_capacity = "lacks_capacity"
    not_determined = "not_determined"


class ConsentToShare(StrEnum):
    given = "given"
    refused = "refused"
    not_possible = "not_possible"


class PolicePower(StrEnum):
    section_136 = "section_136"
    section_135 = "section_135"
    arrest = "arrest"
    mental_capacity_act = "mental_capacity_act"
    breach_of_the_peace = "breach_of_the_peace"
    search = "search"
    use_of_force = "use_of_force"


class AssessmentStatus(StrEnum):
    draft = "draft"
    locked = "locked"


class RevisionKind(StrEnum):
    created = "created"
    updated = "updated"
    amended = "amended"


class ContributorRole(StrEnum):
    officer = "officer"
    mh_practitioner = "mh_practitioner"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Risk(_Strict):
    level: RiskLevel
    rationale: str | None = PydanticField(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _rationale_unless_none(self) -> Self:
        if self.level != RiskLevel.none and self.rationale is None:
            raise ValueError("a rationale is required unless the level is none")
        return self


class MentalCapacity(_Strict):
    considered: bool
    outcome: CapacityOutcome | None = None
    notes: str | None = PydanticField(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _outcome_when_considered(self) -> Self:
        if self.considered and self.outcome is None:
            raise ValueError("an outcome is required when capacity was considered")
        if not self.considered and self.outcome is not None:
            raise ValueError("an outcome is given only when capacity was considered")
        return self


class AssessmentContent(_Strict):
    presenting_situation: str = PydanticField(min_length=1, max_length=4000)
    risk_to_self: Risk
    risk_to_others: Risk
    risk_from_others: Risk
    intoxication: Intoxication
    physical_health_concerns: str | None = PydanticField(
        default=None, min_length=1, max_length=2000
    )
    mental_capacity: MentalCapacity
    consent_to_share: ConsentToShare
    legal_basis_without_consent: str | None = PydanticField(
        default=None,
        max_length=40,
        description="Code of the agreement's legal basis relied on; required unless consent was given.",
    )
    s136_considered: bool
    police_powers_used: list[PolicePower] = PydanticField(
        default_factory=list, max_length=len(PolicePower)
    )
    crisis_flag_consulted: bool
    crisis_flag_changed_decision: bool | None = None
    decision: str = PydanticField(min_length=1, max_length=2000)
    decision_rationale: str = PydanticField(min_length=1, max_length=4000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.police_powers_used)) != len(self.police_powers_used):
            raise ValueError("police_powers_used lists a power twice")
        if self.consent_to_share == ConsentToShare.given and self.legal_basis_without_consent:
            raise ValueError("legal_basis_without_consent is given only when consent was not")
        if self.consent_to_share != ConsentToShare.given and not self.legal_basis_without_consent:
            raise ValueError("legal_basis_without_consent is required when consent was not given")
        if self.crisis_flag_consulted != (self.crisis_flag_changed_decision is not None):
            raise ValueError(
                "crisis_flag_changed_decision is required exactly when the crisis flag was consulted"
            )
        if PolicePower.section_136 in self.police_powers_used and not self.s136_considered:
            raise ValueError("section_136 was used, so s136_considered must be true")
        return self


class AssessmentWrite(_Strict):
    content: AssessmentContent
    amendment_reason: str | None = PydanticField(
        default=None,
        min_length=10,
        max_length=1000,
        description="Required once the assessment is locked: why the signed record is being changed.",
    )


class Assessment(SQLModel, table=True):
    __tablename__ = "assessment"
    __table_args__ = (CheckConstraint("status IN ('draft', 'locked')", name="status"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incident.id", index=True)
    subject_id: uuid.UUID = Field(foreign_key="incident_subject.id", unique=True)
    revision: int = Field(default=1)
    status: AssessmentStatus = Field(default=AssessmentStatus.draft, sa_type=String(10))
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    locked_at: datetime | None = timestamp(default_now=False, nullable=True)


class AssessmentRevision(SQLModel, table=True):
    __tablename__ = "assessment_revision"
    __table_args__ = (
        UniqueConstraint(
            "assessment_id", "revision", name="uq_assessment_revision_assessment_id_revision"
        ),
        CheckConstraint("kind IN ('created', 'updated', 'amended')", name="kind"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    assessment_id: uuid.UUID = Field(foreign_key="assessment.id")
    revision: int
    kind: RevisionKind = Field(sa_type=String(10))
    content: dict[str, Any] = Field(sa_type=JSONB)
    amendment_reason: str | None = Field(default=None, max_length=1000)
    author_id: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = timestamp()


class AssessmentSignature(SQLModel, table=True):
    __tablename__ = "assessment_signature"
    __table_args__ = (
        UniqueConstraint(
            "assessment_id",
            "revision",
            "role",
            name="uq_assessment_signature_assessment_id_revision_role",
        ),
        CheckConstraint("role IN ('officer', 'mh_practitioner')", name="role"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    assessment_id: uuid.UUID = Field(foreign_key="assessment.id")
    revision: int
    role: ContributorRole = Field(sa_type=String(20))
    signer_id: uuid.UUID = Field(foreign_key="user_account.id")
    organisation_code: str = Field(max_length=10)
    signed_at: datetime = timestamp()


class Contributor(BaseModel):
    user_id: uuid.UUID
    name: str
    role: str
    organisation_code: str


class SignatureRead(BaseModel):
    role: ContributorRole
    revision: int
    signer: Contributor
    signed_at: datetime


class AssessmentRead(BaseModel):
    id: uuid.UUID
    incident_id: uuid.UUID
    subject_id: uuid.UUID
    revision: int
    status: AssessmentStatus
    content: AssessmentContent
    signatures: list[SignatureRead] = PydanticField(
        description="Signatures of the revision that locked it, or of the current draft."
    )
    contributors: list[Contributor] = PydanticField(
        description="Everyone who wrote a revision or signed."
    )
    created_at: datetime
    updated_at: datetime
    locked_at: datetime | None


class RevisionRead(BaseModel):
    revision: int
    kind: RevisionKind
    content: AssessmentContent
    amendment_reason: str | None
    author: Contributor
    created_at: datetime
