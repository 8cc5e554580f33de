"""Outcome reports for supervisors, and the de-identified statistics that outlive purged incidents.

A report counts, rates and times incidents; it carries no person, no free text and no user.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import ARRAY, CheckConstraint, Float, Index, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp

# Report periods are calendar days as supervisors in England count them, summer time included.
REPORT_TIME_ZONE = "Europe/London"
MAX_REPORT_YEARS = 5
# An incident is a repeat contact when one of its people was a subject of another incident of
# the same organisation in the 30 days before its call.
REPEAT_CONTACT_WINDOW_DAYS = 30
# The group every incident falls in: the report's total row.
TOTAL_GROUP = "total"
# group_by=outcome: incidents with no outcome recorded yet.
NO_OUTCOME_GROUP = "not_recorded"
# group_by=area: incidents located by coordinates, not an area code.
NO_AREA_GROUP = "no_area_code"


class ReportGrouping(StrEnum):
    month = "month"
    week = "week"
    outcome = "outcome"
    triage_mode = "triage_mode"
    area = "area"


class ReportViewpoint(StrEnum):
    """Whose incidents a report counts: a force's own, or those naming a trust as partner."""

    force = "force"
    trust = "trust"


class OutcomeFigures(BaseModel):
    """One row of the report: a month, a week, an outcome, a triage mode, an area, or the total.

    Flat on purpose: the CSV has exactly these columns, in this order. Rates are fractions (0-1)
    rounded to four places, null when their denominator is zero; times are minutes.
    """

    group: str = PydanticField(
        description="`2026-03` (month), `2026-03-02` (the Monday of a week), an outcome code, a "
        "triage mode, an area code, or `total`."
    )
    incidents: int
    with_outcome: int = PydanticField(description="Incidents with an outcome recorded.")
    s136_detentions: int
    s136_detention_rate: float | None = PydanticField(
        description="s136 detentions per incident with an outcome recorded."
    )
    s136_considered_not_used: int = PydanticField(description="s136 considered but avoided.")
    s136_considered_not_used_rate: float | None = PydanticField(
        description="Per incident with an outcome recorded."
    )
    conveyance_ambulance: int
    conveyance_police_vehicle: int
    conveyance_other: int
    place_of_safety_health_based: int
    place_of_safety_emergency_department: int
    place_of_safety_police_station: int
    place_of_safety_other: int
    time_at_scene_count: int = PydanticField(
        description="Incidents with both an arrival and a left-scene time."
    )
    time_at_scene_median_minutes: float | None
    time_at_scene_p90_minutes: float | None
    call_to_arrival_count: int = PydanticField(description="Incidents with an arrival time.")
    call_to_arrival_median_minutes: float | None
    call_to_arrival_p90_minutes: float | None
    repeat_contacts: int = PydanticField(
        description="Incidents where one of the people was a subject of another incident of the "
        f"organisation in the {REPEAT_CONTACT_WINDOW_DAYS} days before."
    )
    repeat_contact_rate: float | None = PydanticField(description="Per incident.")
    assessed: int = PydanticField(description="Incidents with at least one joint assessment.")
    crisis_flag_consulted: int = PydanticField(
        description="Incidents with at least one crisis flag lookup recorded, whatever an "
        "assessment says (one purged before lookups were counted: as its assessment said)."
    )
    crisis_flag_consulted_share: float | None = PydanticField(description="Per incident.")
    crisis_flag_changed_decision: int = PydanticField(
        description="Incidents where the crisis flag was consulted and an assessment says it "
        "changed the decision."
    )
    crisis_flag_changed_decision_share: float | None = PydanticField(
        description="Per incident where the crisis flag was consulted."
    )
    lookups: int = PydanticField(description="Crisis flag lookups recorded on the incidents.")
    lookups_per_incident: float | None = PydanticField(
        description="Lookups per incident, two places (incidents purged before lookups were "
        "counted are left out)."
    )

    @classmethod
    def empty(cls, group: str) -> "OutcomeFigures":
        """A period with no incidents: zero counts, no rates, no times."""
        values: dict[str, Any] = {
            name: 0 if field.annotation is int else None
            for name, field in cls.model_fields.items()
            if name != "group"
        }
        return cls(group=group, **values)


class OutcomeReport(BaseModel):
    organisation_code: str
    period_start: date = PydanticField(description="The first day counted (`from`).")
    period_end: date = PydanticField(description="The first day not counted (`to`).")
    time_zone: str = PydanticField(
        default=REPORT_TIME_ZONE, description="Days, weeks and months are counted in this zone."
    )
    group_by: ReportGrouping
    groups: list[OutcomeFigures] = PydanticField(
        description="Every month or week of the period (empty ones included), or every group with "
        "incidents. With group_by=outcome an incident counts in each of its outcomes."
    )
    total: OutcomeFigures


class IncidentFact(SQLModel, table=True):
    """A kept incident as the outcome report reads it: one narrow row, kept current by triggers.

    Triggers of migration 0007 on the incident, its outcome, subjects, assessments and their
    revisions (and of 0016 on its crisis flag lookups) refresh the row from the view `incident_fact_source` whenever one of them is written,
    so a report reads one indexed table instead of five, and row-level security checks one column.
    Deleted with its incident by `triage purge`.
    """

    __tablename__ = "incident_fact"
    __table_args__ = (
        Index(
            "ix_incident_fact_organisation_code_time_of_call_at",
            "organisation_code",
            "time_of_call_at",
        ),
        Index(
            "ix_incident_fact_partner_trust_code_time_of_call_at",
            "partner_trust_code",
            "time_of_call_at",
        ),
    )

    incident_id: uuid.UUID = Field(foreign_key="incident.id", primary_key=True)
    organisation_code: str = Field(max_length=10)
    partner_trust_code: str | None = Field(default=None, max_length=10)
    time_of_call_at: datetime = timestamp(default_now=False)
    call_date: date
    triage_mode: str = Field(sa_type=String(20))
    area_code: str | None = Field(default=None, max_length=12)
    codes: list[str] = Field(sa_type=JSONB)
    place_of_safety: str | None = Field(default=None, sa_type=String(40))
    conveyance: str | None = Field(default=None, sa_type=String(20))
    seconds_at_scene: float | None = Field(default=None, sa_type=Float)
    seconds_to_arrival: float | None = Field(default=None, sa_type=Float)
    assessed: bool
    crisis_flag_consulted: bool
    crisis_flag_changed_decision: bool
    # Crisis flag lookups recorded for the incident (migration 0016).
    lookups: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    # The identified people, for repeat contacts only; never leaves the database.
    person_ids: list[uuid.UUID] = Field(sa_type=ARRAY(Uuid()))


class OutcomeStatistic(SQLModel, table=True):
    """One purged incident, de-identified: what the outcome report needs and nothing more.

    No incident id, person, free text, user or exact time: the day of the call (in the report's
    time zone), coarse area, codes and durations. Written by `triage purge` before the incident goes.
    """

    __tablename__ = "outcome_statistic"
    __table_args__ = (
        CheckConstraint(
            "triage_mode IN ('face_to_face', 'phone', 'control_room')", name="triage_mode"
        ),
        Index("ix_outcome_statistic_organisation_code_call_date", "organisation_code", "call_date"),
        Index(
            "ix_outcome_statistic_partner_trust_code_call_date", "partner_trust_code", "call_date"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_code: str = Field(max_length=10)
    partner_trust_code: str | None = Field(default=None, max_length=10)
    call_date: date
    triage_mode: str = Field(sa_type=String(20))
    area_code: str | None = Field(default=None, max_length=12)
    codes: list[str] = Field(sa_type=JSONB)
    place_of_safety: str | None = Field(default=None, sa_type=String(40))
    conveyance: str | None = Field(default=None, sa_type=String(20))
    seconds_at_scene: float | None = Field(default=None, sa_type=Float)
    seconds_to_arrival: float | None = Field(default=None, sa_type=Float)
    assessed: bool
    crisis_flag_consulted: bool
    crisis_flag_changed_decision: bool
    # Null: purged before migration 0016, its lookups uncounted. Placed before the repeat
    # flags: `triage purge` copies the shared columns in this order.
    lookups: int | None = Field(default=None)
    repeat_contact_force: bool
    repeat_contact_trust: bool
    purged_at: datetime = timestamp()


class PurgedPriorContact(SQLModel, table=True):
    """A kept incident whose earlier contact (within the repeat window) has been purged.

    Without it, purging the earlier incident would quietly turn the later one from a repeat contact
    into a first one. Deleted with its incident.
    """

    __tablename__ = "purged_prior_contact"

    incident_id: uuid.UUID = Field(foreign_key="incident.id", primary_key=True)
    seen_by_force: bool
    seen_by_trust: bool
