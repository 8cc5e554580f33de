"""An incident attended by a street triage car: when, where (coarsely), why police came, and how."""

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import CheckConstraint, Float, Index, String, text
from sqlmodel import Field, SQLModel

from models.base import timestamp, utcnow
from models.validation import PlausibleDatetime

CAD_REFERENCE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,39}$"
AREA_CODE_PATTERN = r"^[A-Z0-9]{2,12}$"
# Coordinates are kept to three decimal places: about 110 m north-south, 70 m east-west here.
COORDINATE_DECIMALS = 3
# Clocks on tablets drift; a time a little ahead is accepted, one far ahead is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)


class IncidentStatus(StrEnum):
    open = "open"
    closed = "closed"


class AttendanceReason(StrEnum):
    """Why police attended, on the Right Care, Right Person basis."""

    risk_to_life_or_serious_harm = "risk_to_life_or_serious_harm"
    crime = "crime"
    other = "other"


class TriageMode(StrEnum):
    face_to_face = "face_to_face"
    phone = "phone"
    control_room = "control_room"


class Location(BaseModel):
    """A coarse area code, or coordinates that are rounded to about 100 m. Never an address."""

    model_config = ConfigDict(extra="forbid")

    area_code: Annotated[str | None, PydanticField(pattern=AREA_CODE_PATTERN)] = None
    latitude: Annotated[float | None, PydanticField(ge=49.0, le=61.0)] = None
    longitude: Annotated[float | None, PydanticField(ge=-9.0, le=2.0)] = None

    @model_validator(mode="after")
    def _area_or_coordinates(self) -> Self:
        coordinates = (self.latitude is None, self.longitude is None)
        if coordinates not in ((True, True), (False, False)):
            raise ValueError("give both latitude and longitude, or neither")
        if (self.area_code is None) == (self.latitude is None):
            raise ValueError("give an area_code or coordinates, not both and not neither")
        if self.latitude is not None and self.longitude is not None:
            self.latitude = round(self.latitude, COORDINATE_DECIMALS)
            self.longitude = round(self.longitude, COORDINATE_DECIMALS)
        return self


def not_far_future(value: datetime | None) -> datetime | None:
    if value is not None and value > utcnow() + FUTURE_TOLERANCE:
        raise ValueError("is in the future")
    return value


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cad_reference: str = PydanticField(
        pattern=CAD_REFERENCE_PATTERN,
        description="Police command-and-control incident number, e.g. `LP-20261121-0412`.",
    )
    time_of_call_at: PlausibleDatetime = PydanticField(
        description="When police were called: at most the agreement's "
        "`incident_time_of_call_max_age_days` before the server receives the incident, and not "
        "ahead of the server's clock by more than five minutes."
    )
    arrival_at: PlausibleDatetime | None = PydanticField(
        default=None, description="When the car arrived; none for phone or control-room triage."
    )
    location: Location
    attendance_reason: AttendanceReason
    attendance_reason_text: str | None = PydanticField(
        default=None,
        min_length=1,
        max_length=500,
        description="Required when the reason is `other`.",
    )
    triage_mode: TriageMode
    partner_trust_code: str | None = PydanticField(
        default=None,
        pattern=r"^[A-Z0-9]{3,10}$",
        description="ODS code of the NHS trust working the incident with the force.",
    )

    @field_validator("time_of_call_at", "arrival_at")
    @classmethod
    def _aware_and_not_ahead(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone offset")
        return not_far_future(value)

    @field_validator("arrival_at")
    @classmethod
    def _arrival_after_call(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        called = info.data.get("time_of_call_at")
        if value is not None and called is not None and value < called:
            raise ValueError("is before the time of call")
        return value

    @field_validator("attendance_reason_text")
    @classmethod
    def _text_only_for_other(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("attendance_reason") != AttendanceReason.other:
            raise ValueError("is given only when the attendance reason is other")
        return value

    @model_validator(mode="after")
    def _text_for_other(self) -> Self:
        if self.attendance_reason == AttendanceReason.other and not self.attendance_reason_text:
            raise ValueError(
                "attendance_reason_text is required when the attendance reason is other"
            )
        return self


class Incident(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint(
            "attendance_reason IN ('risk_to_life_or_serious_harm', 'crime', 'other')",
            name="attendance_reason",
        ),
        CheckConstraint(
            "triage_mode IN ('face_to_face', 'phone', 'control_room')", name="triage_mode"
        ),
        CheckConstraint(
            "arrival_at IS NULL OR arrival_at >= time_of_call_at", name="arrival_after_call"
        ),
        CheckConstraint(
            "(location_area_code IS NULL) <> (location_latitude IS NULL)", name="one_location"
        ),
        Index(
            "ix_incident_organisation_code_time_of_call_at",
            "organisation_code",
            "time_of_call_at",
            "id",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cad_reference: str = Field(max_length=40)
    organisation_code: str = Field(max_length=10, foreign_key="organisation.code")
    partner_trust_code: str | None = Field(
        default=None, max_length=10, foreign_key="organisation.code", index=True
    )
    status: IncidentStatus = Field(default=IncidentStatus.open, sa_type=String(10))
    time_of_call_at: datetime = timestamp(default_now=False)
    arrival_at: datetime | None = timestamp(default_now=False, nullable=True)
    location_area_code: str | None = Field(default=None, max_length=12)
    location_latitude: float | None = Field(default=None, sa_type=Float)
    location_longitude: float | None = Field(default=None, sa_type=Float)
    attendance_reason: AttendanceReason = Field(sa_type=String(40))
    attendance_reason_text: str | None = Field(default=None, max_length=500)
    triage_mode: TriageMode = Field(sa_type=String(20))
    opened_by: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    # When the server received the incident, by its own clock (the time of call is the caller's
    # word). A row written by SQL, as data brought over from an earlier system, gets the moment
    # it was written; retention counts from the later of this and the time of call.
    opened_at: datetime = timestamp(sa_column_kwargs={"server_default": text("now()")})
    closed_at: datetime | None = timestamp(default_now=False, nullable=True)


class IncidentRead(BaseModel):
    id: uuid.UUID
    cad_reference: str
    organisation_code: str
    partner_trust_code: str | None
    status: IncidentStatus
    time_of_call_at: datetime
    arrival_at: datetime | None
    location: Location
    attendance_reason: AttendanceReason
    attendance_reason_text: str | None = PydanticField(
        description="Free text: shown to the scene's crew, never to supervisors (null for them)."
    )
    triage_mode: TriageMode
    opened_by: uuid.UUID
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def from_row(cls, incident: Incident, *, free_text: bool = True) -> "IncidentRead":
        return cls(
            id=incident.id,
            cad_reference=incident.cad_reference,
            organisation_code=incident.organisation_code,
            partner_trust_code=incident.partner_trust_code,
            status=incident.status,
            time_of_call_at=incident.time_of_call_at,
            arrival_at=incident.arrival_at,
            location=Location(
                area_code=incident.location_area_code,
                latitude=incident.location_latitude,
                longitude=incident.location_longitude,
            ),
            attendance_reason=incident.attendance_reason,
            attendance_reason_text=incident.attendance_reason_text if free_text else None,
            triage_mode=incident.triage_mode,
            opened_by=incident.opened_by,
            opened_at=incident.opened_at,
            closed_at=incident.closed_at,
        )


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    next_cursor: str | None = PydanticField(
        description="Pass as `cursor` for the next page; null on the last page."
    )
