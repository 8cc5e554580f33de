"""The incident's outcome: what was decided, where the person went, and the times that matter."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp
from models.incident import not_far_future
from models.validation import PlausibleDatetime


class OutcomeCode(StrEnum):
    s136_detention = "s136_detention"
    s136_considered_not_used = "s136_considered_not_used"
    informal_admission = "informal_admission"
    mha_assessment_arranged = "mha_assessment_arranged"
    referral_crisis_team = "referral_crisis_team"
    referral_cmht = "referral_cmht"
    referral_gp = "referral_gp"
    referral_other_agency = "referral_other_agency"
    advice_and_support = "advice_and_support"
    left_at_home_with_support = "left_at_home_with_support"
    handed_to_carer = "handed_to_carer"
    conveyed_to_emergency_department = "conveyed_to_emergency_department"
    ambulance_required = "ambulance_required"
    arrested = "arrested"


class PlaceOfSafety(StrEnum):
    health_based_place_of_safety = "health_based_place_of_safety"
    emergency_department = "emergency_department"
    police_station = "police_station"
    other = "other"


class Conveyance(StrEnum):
    ambulance = "ambulance"
    police_vehicle = "police_vehicle"
    other = "other"


class OutcomeWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[OutcomeCode] = PydanticField(min_length=1, max_length=len(OutcomeCode))
    place_of_safety: PlaceOfSafety | None = None
    conveyance: Conveyance | None = None
    referral_notes: str | None = PydanticField(default=None, min_length=1, max_length=1000)
    left_scene_at: PlausibleDatetime | None = None
    handover_at: PlausibleDatetime | None = None

    @field_validator("left_scene_at", "handover_at")
    @classmethod
    def _aware_and_not_ahead(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone offset")
        return not_far_future(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.codes)) != len(self.codes):
            raise ValueError("codes lists an outcome twice")
        detained = OutcomeCode.s136_detention in self.codes
        if detained and (self.place_of_safety is None or self.conveyance is None):
            raise ValueError("place_of_safety and conveyance are required for a s136 detention")
        if not detained and (self.place_of_safety is not None or self.conveyance is not None):
            raise ValueError(
                "place_of_safety and conveyance are recorded only for a s136 detention"
            )
        if detained and OutcomeCode.s136_considered_not_used in self.codes:
            raise ValueError("s136 cannot be both used and considered but not used")
        return self


class IncidentOutcome(SQLModel, table=True):
    __tablename__ = "incident_outcome"

    incident_id: uuid.UUID = Field(foreign_key="incident.id", primary_key=True)
    codes: list[str] = Field(sa_type=JSONB)
    place_of_safety: str | None = Field(default=None, sa_type=String(40))
    conveyance: str | None = Field(default=None, sa_type=String(20))
    referral_notes: str | None = Field(default=None, max_length=1000)
    left_scene_at: datetime | None = timestamp(default_now=False, nullable=True)
    handover_at: datetime | None = timestamp(default_now=False, nullable=True)
    revision: int = Field(default=1)
    recorded_by: uuid.UUID = Field(foreign_key="user_account.id")
    recorded_at: datetime = timestamp()


class OutcomeRead(BaseModel):
    incident_id: uuid.UUID
    codes: list[OutcomeCode]
    place_of_safety: PlaceOfSafety | None
    conveyance: Conveyance | None
    referral_notes: str | None = PydanticField(
        description="Free text: shown to the scene's crew, never to supervisors (null for them)."
    )
    left_scene_at: datetime | None
    handover_at: datetime | None
    revision: int
    recorded_by: uuid.UUID
    recorded_at: datetime

    @classmethod
    def from_row(cls, row: IncidentOutcome, *, free_text: bool = True) -> "OutcomeRead":
        data: dict[str, Any] = row.model_dump()
        if not free_text:
            data["referral_notes"] = None
        return cls.model_validate(data)
