"""Hand-made incidents for the report, retention and dashboard tests, written straight to the
database in the shapes the API stores: assessment content is validated by the real model first."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from models import (
    Assessment,
    AssessmentContent,
    AssessmentRevision,
    AssessmentSignature,
    FlagLookup,
    Incident,
    IncidentOutcome,
    IncidentSubject,
    Person,
    UserAccount,
    utcnow,
)
from tests.factories import assessment_content, nhs_number

AUTHOR_ID = uuid.UUID("00000000-0000-4000-8000-00000000a001")
NURSE_ID = uuid.UUID("00000000-0000-4000-8000-00000000a002")
# Free text stored in every hand-made incident: no report or dashboard may ever show it.
PRESENTING = "SECRET-PRESENTING Man on railway bridge, distressed after an argument."
RATIONALE = "SECRET-RATIONALE Engaged with the nurse and accepted support."
DECISION = "SECRET-DECISION Voluntary attendance at the crisis team."
REFERRAL_NOTES = "SECRET-REFERRAL Crisis team to call tomorrow morning."
ATTENDANCE_TEXT = "SECRET-ATTENDANCE Welfare concern raised by a neighbour."
SUBJECT_DESCRIPTION = "SECRET-DESCRIPTION Man in his 30s, red coat."
FREE_TEXT = (PRESENTING, RATIONALE, DECISION, REFERRAL_NOTES, ATTENDANCE_TEXT, SUBJECT_DESCRIPTION)


@dataclass
class Assessed:
    """One subject's assessment: what its current revision says about the crisis flag."""

    consulted: bool
    changed: bool | None = None
    earlier: list[tuple[bool, bool | None]] = field(default_factory=list)


@dataclass
class Subject:
    person: int | None  # a seed for a stable NHS number; None: described, not identified
    assessment: Assessed | None = None


@dataclass
class Outcome:
    codes: list[str]
    place_of_safety: str | None = None
    conveyance: str | None = None
    minutes_at_scene: float | None = None


def content(assessed: tuple[bool, bool | None]) -> dict[str, Any]:
    consulted, changed = assessed
    validated = AssessmentContent.model_validate(
        assessment_content(
            presenting_situation=PRESENTING,
            decision=DECISION,
            decision_rationale=RATIONALE,
            crisis_flag_consulted=consulted,
            crisis_flag_changed_decision=changed,
        )
    )
    return validated.model_dump(mode="json")


async def ensure_authors(connection: AsyncConnection, force: str, trust: str | None) -> None:
    now = utcnow()
    nurse_org = trust or "RQI"
    for user_id, role, org in (
        (AUTHOR_ID, "officer", force),
        (NURSE_ID, "mh_practitioner", nurse_org),
    ):
        await connection.execute(
            pg_insert(UserAccount)
            .values(
                id=user_id,
                issuer="urn:test:report-data",
                subject=str(user_id),
                display_name=f"Report data {role}",
                role=role,
                organisation_code=org,
                active=True,
                first_seen_at=now,
                last_seen_at=now,
            )
            .on_conflict_do_nothing()
        )


async def person_id(connection: AsyncConnection, seed: int) -> uuid.UUID:
    number = nhs_number(900_000_000 + seed)
    await connection.execute(
        pg_insert(Person)
        .values(id=uuid.uuid4(), nhs_number=number, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    found = await connection.execute(
        text("SELECT id FROM person WHERE nhs_number = :n"), {"n": number}
    )
    value: uuid.UUID = found.scalar_one()
    return value


async def make_incident(
    connection: AsyncConnection,
    *,
    called: datetime,
    force: str = "NSP",
    trust: str | None = "RQI",
    arrival_minutes: float | None = None,
    mode: str = "face_to_face",
    area: str | None = "E01000001",
    outcome: Outcome | None = None,
    subjects: list[Subject] | None = None,
    lookups: int = 0,
) -> uuid.UUID:
    """An incident with its outcome, subjects, assessments and `lookups` crisis flag lookups
    (of its first subject's person, if any), as the superuser (no tenant)."""
    await connection.execute(text("RESET ROLE"))
    await ensure_authors(connection, force, trust)
    incident_id = uuid.uuid4()
    arrival = called + timedelta(minutes=arrival_minutes) if arrival_minutes is not None else None
    await connection.execute(
        insert(Incident).values(
            id=incident_id,
            cad_reference=f"LP-{called:%Y%m%d}-{incident_id.hex[:4].upper()}",
            organisation_code=force,
            partner_trust_code=trust,
            status="closed",
            time_of_call_at=called,
            arrival_at=arrival,
            location_area_code=area,
            location_latitude=None if area else 53.8,
            location_longitude=None if area else -1.55,
            attendance_reason="other",
            attendance_reason_text=ATTENDANCE_TEXT,
            triage_mode=mode,
            opened_by=AUTHOR_ID,
            opened_at=called,
            closed_at=called + timedelta(hours=4),
        )
    )
    if outcome is not None:
        left = None
        if outcome.minutes_at_scene is not None:
            assert arrival is not None
            left = arrival + timedelta(minutes=outcome.minutes_at_scene)
        await connection.execute(
            insert(IncidentOutcome).values(
                incident_id=incident_id,
                codes=outcome.codes,
                place_of_safety=outcome.place_of_safety,
                conveyance=outcome.conveyance,
                referral_notes=REFERRAL_NOTES,
                left_scene_at=left,
                handover_at=left,
                revision=1,
                recorded_by=AUTHOR_ID,
                recorded_at=called + timedelta(hours=3),
            )
        )
    for subject in subjects or []:
        subject_id = uuid.uuid4()
        who = await person_id(connection, subject.person) if subject.person is not None else None
        await connection.execute(
            insert(IncidentSubject).values(
                id=subject_id,
                incident_id=incident_id,
                person_id=who,
                description=None if who else SUBJECT_DESCRIPTION,
                added_by=AUTHOR_ID,
                added_at=called,
            )
        )
        if subject.assessment is not None:
            await _assess(connection, incident_id, subject_id, subject.assessment, called)
    first = (subjects or [Subject(None)])[0].person
    looked_up = await person_id(connection, first) if first is not None else None
    for minute in range(lookups):
        await connection.execute(
            insert(FlagLookup).values(
                id=uuid.uuid4(),
                incident_id=incident_id,
                user_id=AUTHOR_ID,
                organisation_code=force,
                person_id=looked_up,
                known_to_services="yes",
                created_at=called + timedelta(minutes=minute + 1),
            )
        )
    return incident_id


async def _assess(
    connection: AsyncConnection,
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    assessed: Assessed,
    called: datetime,
) -> None:
    assessment_id = uuid.uuid4()
    revisions = [*assessed.earlier, (assessed.consulted, assessed.changed)]
    await connection.execute(
        insert(Assessment).values(
            id=assessment_id,
            incident_id=incident_id,
            subject_id=subject_id,
            revision=len(revisions),
            status="locked",
            created_at=called,
            updated_at=called,
            locked_at=called,
        )
    )
    for number, flags in enumerate(revisions, start=1):
        await connection.execute(
            insert(AssessmentRevision).values(
                id=uuid.uuid4(),
                assessment_id=assessment_id,
                revision=number,
                kind="created" if number == 1 else "amended",
                content=content(flags),
                amendment_reason=None if number == 1 else "Corrected after the debrief.",
                author_id=AUTHOR_ID,
                created_at=called,
            )
        )
    for role, signer in (("officer", AUTHOR_ID), ("mh_practitioner", NURSE_ID)):
        await connection.execute(
            insert(AssessmentSignature).values(
                id=uuid.uuid4(),
                assessment_id=assessment_id,
                revision=1,
                role=role,
                signer_id=signer,
                organisation_code="NSP" if role == "officer" else "RQI",
                signed_at=called,
            )
        )
