"""A few months of synthetic incidents for the demo, so the dashboard has something to show at once.

For the demo partnership: incidents opened by the force (NSP) with its partner trusts (RQI,
Y05868), their subjects, joint assessments, outcomes and crisis flag lookups, spread over the
months before `today`. Every person is one of the simulator's synthetic people (sandbox numbers,
`sim.people`) or described without a number; every free-text field says it is demo data. Written
in one transaction, as the organisation's tenant, in the shapes the API stores (assessment content
validated by the product's own model); the report's triggers keep its facts current as usual.

Seeds once: not when the database holds an incident, nor when it was seeded before (the seed's own
user accounts exist), so a demo restarted after its incidents were purged stays empty. A tool, not
the product: `triage demo` imports it only when it seeds.
"""

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from api.organisation.repository import sync_organisations
from api.settings import async_database_url
from models import (
    Assessment,
    AssessmentContent,
    AssessmentRevision,
    AssessmentSignature,
    FlagLookup,
    Incident,
    IncidentOutcome,
    IncidentSubject,
    OrganisationBase,
    Person,
    UserAccount,
)
from sim.people import PEOPLE, RQI, Y05868

FORCE = "NSP"
SEED_ISSUER = "urn:triage:demo-seed"
# Not looked up the way the others are: PDS does not know it, or it was withdrawn or replaced.
NOT_AS_SUBJECTS = frozenset({"9111231130", "9000000041", "9000000017"})
AREAS = ("E01011001", "E01011002", "E01011003", "E01011004", "E01011005", "E01011006")
DEMO_TEXT = "Synthetic demo incident: not a real person or event."


@dataclass(frozen=True)
class SeedUser:
    id: uuid.UUID
    role: str
    organisation_code: str


USERS = (
    SeedUser(uuid.UUID("5eed0000-0000-4000-8000-000000000001"), "officer", FORCE),
    SeedUser(uuid.UUID("5eed0000-0000-4000-8000-000000000002"), "mh_practitioner", RQI),
    SeedUser(uuid.UUID("5eed0000-0000-4000-8000-000000000003"), "mh_practitioner", Y05868),
)
OFFICER = USERS[0]


async def seed(database_url: str, organisations: Sequence[OrganisationBase], *, today: date) -> int:
    """Seed the database at `database_url` (migrated) in one transaction; the partnership's
    organisations are written first, as the API does at start-up. Returns the incidents written."""
    engine = create_async_engine(async_database_url(database_url))
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            await sync_organisations(session, organisations)
            return await seed_demo_incidents(await session.connection(), today=today)
    finally:
        await engine.dispose()


async def already_seeded(connection: AsyncConnection) -> bool:
    """An incident exists (of the force: the tenant this sees), or the seed ran before."""
    incidents = await connection.execute(text("SELECT EXISTS (SELECT 1 FROM incident)"))
    users = await connection.execute(
        select(col(UserAccount.id)).where(col(UserAccount.issuer) == SEED_ISSUER).limit(1)
    )
    return bool(incidents.scalar_one()) or users.first() is not None


async def seed_demo_incidents(
    connection: AsyncConnection, *, today: date, days: int = 120, seed: int = 136
) -> int:
    """Write the incidents of the `days` before `today` in the connection's transaction, unless
    seeded before; returns how many were written. The partnership's organisations must exist."""
    await connection.execute(text("SELECT set_config('app.org', :org, true)"), {"org": FORCE})
    if await already_seeded(connection):
        return 0
    now = datetime.now(UTC)
    await connection.execute(
        pg_insert(UserAccount).values(
            [
                {
                    "id": user.id,
                    "issuer": SEED_ISSUER,
                    "subject": f"demo-{user.role}-{user.organisation_code}",
                    "display_name": f"Demo {user.role.replace('_', ' ')} ({user.organisation_code})",
                    "role": user.role,
                    "organisation_code": user.organisation_code,
                    "active": False,  # no one signs in as these
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "deactivated_at": now,
                }
                for user in USERS
            ]
        )
    )
    people = await _people(connection, now)
    rows = _Rows()
    draw = random.Random(seed)  # noqa: S311 - synthetic data, not security
    for offset in range(days, 0, -1):
        day = today - timedelta(days=offset)
        for _ in range(draw.choice((1, 2, 2, 3, 3, 4))):
            _incident(rows, draw, day, people, closed=offset > 2)
    for table, values in rows.tables():
        if values:
            await connection.execute(insert(table), values)
    return len(rows.incident)


async def _people(connection: AsyncConnection, now: datetime) -> list[uuid.UUID]:
    numbers = [person.nhs_number for person in PEOPLE if person.nhs_number not in NOT_AS_SUBJECTS]
    await connection.execute(
        pg_insert(Person)
        .values(
            [{"id": uuid.uuid4(), "nhs_number": number, "created_at": now} for number in numbers]
        )
        .on_conflict_do_nothing()
    )
    found = await connection.execute(
        select(col(Person.id))
        .where(col(Person.nhs_number).in_(numbers))
        .order_by(col(Person.nhs_number))
    )
    return list(found.scalars())


class _Rows:
    """Rows per table, in foreign-key order."""

    def __init__(self) -> None:
        self.incident: list[dict[str, Any]] = []
        self.outcome: list[dict[str, Any]] = []
        self.subject: list[dict[str, Any]] = []
        self.assessment: list[dict[str, Any]] = []
        self.revision: list[dict[str, Any]] = []
        self.signature: list[dict[str, Any]] = []
        self.lookup: list[dict[str, Any]] = []

    def tables(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        return [
            (Incident, self.incident),
            (IncidentOutcome, self.outcome),
            (IncidentSubject, self.subject),
            (Assessment, self.assessment),
            (AssessmentRevision, self.revision),
            (AssessmentSignature, self.signature),
            (FlagLookup, self.lookup),
        ]


# (weight, codes, place of safety, conveyance): s136 detention about one in six, as street triage
# services report it; most end in advice, a referral or s136 considered and not used.
OUTCOMES: tuple[tuple[int, list[str], str | None, str | None], ...] = (
    (8, ["s136_detention"], "health_based_place_of_safety", "ambulance"),
    (4, ["s136_detention"], "health_based_place_of_safety", "police_vehicle"),
    (3, ["s136_detention"], "emergency_department", "police_vehicle"),
    (1, ["s136_detention"], "police_station", "police_vehicle"),
    (10, ["s136_considered_not_used", "referral_crisis_team"], None, None),
    (5, ["s136_considered_not_used", "informal_admission"], None, None),
    (6, ["referral_cmht"], None, None),
    (4, ["referral_gp"], None, None),
    (3, ["referral_other_agency"], None, None),
    (16, ["advice_and_support"], None, None),
    (8, ["left_at_home_with_support"], None, None),
    (5, ["handed_to_carer"], None, None),
    (5, ["conveyed_to_emergency_department", "ambulance_required"], None, None),
    (3, ["mha_assessment_arranged"], None, None),
    (2, ["arrested"], None, None),
)


def _incident(
    rows: _Rows, draw: random.Random, day: date, people: list[uuid.UUID], *, closed: bool
) -> None:
    incident_id = uuid.uuid4()
    called = datetime.combine(day, time(), UTC) + timedelta(minutes=draw.randrange(24 * 60))
    mode = draw.choices(("face_to_face", "phone", "control_room"), (70, 18, 12))[0]
    # Attended in person: an arrival time, except when no one recorded it.
    arrival = (
        called + timedelta(minutes=round(draw.uniform(6, 55), 1))
        if mode == "face_to_face" and draw.random() > 0.08
        else None
    )
    located_by_area = draw.random() > 0.1
    trust = draw.choices((RQI, Y05868, None), (60, 35, 5))[0]
    rows.incident.append(
        {
            "id": incident_id,
            "cad_reference": f"DEMO-{called:%Y%m%d}-{incident_id.hex[:4].upper()}",
            "organisation_code": FORCE,
            "partner_trust_code": trust,
            "status": "closed" if closed else "open",
            "time_of_call_at": called,
            "arrival_at": arrival,
            "location_area_code": draw.choice(AREAS) if located_by_area else None,
            "location_latitude": None if located_by_area else round(draw.uniform(53.7, 53.9), 4),
            "location_longitude": None if located_by_area else round(draw.uniform(-1.7, -1.4), 4),
            "attendance_reason": draw.choices(
                ("risk_to_life_or_serious_harm", "crime", "other"), (60, 10, 30)
            )[0],
            "attendance_reason_text": DEMO_TEXT,
            "triage_mode": mode,
            "opened_by": OFFICER.id,
            "opened_at": called,
            "closed_at": called + timedelta(hours=4) if closed else None,
        }
    )
    lookups = draw.choices(
        (0, 1, 2, 3), (20, 55, 20, 5) if mode != "control_room" else (45, 50, 5, 0)
    )[0]
    subjects = [_subject(rows, draw, incident_id, called, people, lookups, trust)]
    if draw.random() < 0.12:
        others = [person for person in people if person not in subjects]
        subjects.append(_subject(rows, draw, incident_id, called, others, lookups, trust))
    for minute in range(lookups):
        rows.lookup.append(
            {
                "id": uuid.uuid4(),
                "incident_id": incident_id,
                "user_id": OFFICER.id,
                "organisation_code": FORCE,
                "person_id": subjects[0],
                "known_to_services": "yes" if subjects[0] is not None else "unknown",
                "created_at": called + timedelta(minutes=2 + minute),
            }
        )
    if closed and draw.random() < 0.93:
        _, codes, place, conveyance = draw.choices(OUTCOMES, [weight for weight, *_ in OUTCOMES])[0]
        left = (
            arrival + timedelta(minutes=round(draw.uniform(20, 150), 1))
            if arrival is not None and draw.random() > 0.1
            else None
        )
        rows.outcome.append(
            {
                "incident_id": incident_id,
                "codes": codes,
                "place_of_safety": place,
                "conveyance": conveyance,
                "referral_notes": DEMO_TEXT,
                "left_scene_at": left,
                "handover_at": left,
                "revision": 1,
                "recorded_by": OFFICER.id,
                "recorded_at": called + timedelta(hours=3),
            }
        )


def _subject(
    rows: _Rows,
    draw: random.Random,
    incident_id: uuid.UUID,
    called: datetime,
    people: list[uuid.UUID],
    lookups: int,
    trust: str | None,
) -> uuid.UUID | None:
    """A subject, identified (a synthetic person, some seen again) or described, and mostly
    assessed. Returns the person's id, if identified."""
    subject_id = uuid.uuid4()
    person = draw.choice(people) if people and draw.random() < 0.5 else None
    rows.subject.append(
        {
            "id": subject_id,
            "incident_id": incident_id,
            "person_id": person,
            "description": None if person else DEMO_TEXT,
            "added_by": OFFICER.id,
            "added_at": called,
        }
    )
    if draw.random() < 0.8:
        # What people write mostly agrees with what was looked up, not always.
        consulted = (lookups > 0) != (draw.random() < 0.1)
        _assess(rows, draw, incident_id, subject_id, called, consulted, trust)
    return person


def _assess(
    rows: _Rows,
    draw: random.Random,
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    called: datetime,
    consulted: bool,
    trust: str | None,
) -> None:
    assessment_id = uuid.uuid4()
    content = AssessmentContent.model_validate(
        {
            "presenting_situation": DEMO_TEXT,
            "risk_to_self": {
                "level": draw.choice(("low", "medium", "high")),
                "rationale": DEMO_TEXT,
            },
            "risk_to_others": {"level": draw.choice(("none", "low")), "rationale": DEMO_TEXT},
            "risk_from_others": {"level": "none"},
            "intoxication": draw.choice(("none", "alcohol")),
            "mental_capacity": {"considered": True, "outcome": "has_capacity"},
            "consent_to_share": "given",
            "s136_considered": draw.random() < 0.4,
            "police_powers_used": [],
            "crisis_flag_consulted": consulted,
            "crisis_flag_changed_decision": (draw.random() < 0.35) if consulted else None,
            "decision": DEMO_TEXT,
            "decision_rationale": DEMO_TEXT,
        }
    ).model_dump(mode="json")
    at = called + timedelta(hours=1)
    rows.assessment.append(
        {
            "id": assessment_id,
            "incident_id": incident_id,
            "subject_id": subject_id,
            "revision": 1,
            "status": "locked",
            "created_at": at,
            "updated_at": at,
            "locked_at": at,
        }
    )
    rows.revision.append(
        {
            "id": uuid.uuid4(),
            "assessment_id": assessment_id,
            "revision": 1,
            "kind": "created",
            "content": content,
            "amendment_reason": None,
            "author_id": OFFICER.id,
            "created_at": at,
        }
    )
    nurse = next(user for user in USERS if user.organisation_code == (trust or RQI))
    for signer in (OFFICER, nurse):
        rows.signature.append(
            {
                "id": uuid.uuid4(),
                "assessment_id": assessment_id,
                "revision": 1,
                "role": signer.role,
                "signer_id": signer.id,
                "organisation_code": signer.organisation_code,
                "signed_at": at,
            }
        )
