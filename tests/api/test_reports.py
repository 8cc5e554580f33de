"""The outcome report: every figure on a small hand-checked set, groupings, CSV, isolation, audit.

The set (force NSP with trust RQI unless said; times UTC; London is on GMT until 30 March 2025):

    X2  2024-12-31 23:30  outside (31 Dec in London)  s136             person 1; 1 lookup
    A1  2025-01-10 10:00  arrival +15, scene 60        s136 HBPoS ambulance  person 1 (repeat: X2)
                                                       assessed: consulted, changed; 2 lookups
    D1  2025-01-12 10:00  trust Y05868; +30, scene 120 arrested         person 1 (repeat: A1)
                                                       not assessed; 1 lookup
    A2  2025-01-20 12:00  +25, scene 30   s136 considered not used, crisis team referral
                                                       person 1 (repeat: A1); assessed: consulted,
                                                       unchanged; NO lookup: not consulted
    A3  2025-01-25 08:00  phone           advice and support   described person; assessed: the
                                          current revision says not consulted, the first said so;
                                          1 lookup: consulted all the same
    S1  2025-01-15 10:00  force SWP, trust Y05868      s136             person 1; 1 lookup
    B1  2025-02-25 09:00  coordinates; +10, scene 90   s136 A&E police vehicle
                                          person 1 (36 days after A2: no repeat), not consulted;
                                          person 2, consulted and changed; 1 lookup
    B2  2025-02-26 09:00  control room    no outcome   person 2 (repeat: B1)
    C1  2025-03-31 22:30  (23:30 in London, still March) +20, scene 40  s136 police station other
    X1  2025-03-31 23:30  outside (1 April in London)  s136

The crisis flag counts as consulted when a lookup was recorded for the incident, whatever the
assessment says (A2, A3); that it changed the decision is the assessment's word, among those.
"""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from api.report.export import wants_csv
from api.settings import DEMO_PARTNERSHIP_FILE, Settings
from models import AuditEvent
from models.report import OutcomeFigures
from tests.conftest import Exchanger, bearer
from tests.factories import assessment_content, incident_payload
from tests.problems import PROBLEM_BASE
from tests.report_data import FREE_TEXT, Assessed, Outcome, Subject, make_incident

URL = "/v1/reports/outcomes"
Q1 = {"from": "2025-01-01", "to": "2025-04-01"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The demo partnership with a second police force."""
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    document["organisations"].append(
        {"code": "SWP", "name": "Southmoor Police", "kind": "police_force"}
    )
    path = tmp_path / "two-forces.yaml"
    path.write_text(yaml.safe_dump(document))
    return settings.model_copy(update={"partnership_file": path})


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


S136 = ["s136_detention"]


async def make_quarter(
    connection: AsyncConnection, *, lookups: bool = True
) -> dict[str, uuid.UUID]:
    """The set above, without its lookups if not `lookups`; returns the incidents' ids."""
    made: dict[str, uuid.UUID] = {}

    async def incident(name: str, called: datetime, **kwargs: Any) -> None:
        if not lookups:
            kwargs.pop("lookups", None)
        made[name] = await make_incident(connection, called=called, **kwargs)

    await incident(
        "X2",
        utc(2024, 12, 31, 23, 30),
        arrival_minutes=5,
        outcome=Outcome(S136, "emergency_department", "ambulance", 10),
        subjects=[Subject(1)],
        lookups=1,
    )
    await incident(
        "A1",
        utc(2025, 1, 10, 10),
        arrival_minutes=15,
        outcome=Outcome(S136, "health_based_place_of_safety", "ambulance", 60),
        subjects=[Subject(1, Assessed(consulted=True, changed=True))],
        lookups=2,
    )
    await incident(
        "D1",
        utc(2025, 1, 12, 10),
        trust="Y05868",
        arrival_minutes=30,
        area="E01000002",
        outcome=Outcome(["arrested"], minutes_at_scene=120),
        subjects=[Subject(1)],
        lookups=1,
    )
    await incident(
        "S1",
        utc(2025, 1, 15, 10),
        force="SWP",
        trust="Y05868",
        arrival_minutes=12,
        outcome=Outcome(S136, "health_based_place_of_safety", "police_vehicle", 50),
        subjects=[Subject(1)],
        lookups=1,
    )
    await incident(
        "A2",
        utc(2025, 1, 20, 12),
        arrival_minutes=25,
        area="E01000002",
        outcome=Outcome(["s136_considered_not_used", "referral_crisis_team"], minutes_at_scene=30),
        subjects=[Subject(1, Assessed(consulted=True, changed=False))],
    )
    await incident(
        "A3",
        utc(2025, 1, 25, 8),
        mode="phone",
        outcome=Outcome(["advice_and_support"]),
        subjects=[Subject(None, Assessed(consulted=False, earlier=[(True, True)]))],
        lookups=1,
    )
    await incident(
        "B1",
        utc(2025, 2, 25, 9),
        arrival_minutes=10,
        area=None,
        outcome=Outcome(S136, "emergency_department", "police_vehicle", 90),
        subjects=[
            Subject(1, Assessed(consulted=False)),
            Subject(2, Assessed(consulted=True, changed=True)),
        ],
        lookups=1,
    )
    await incident(
        "B2", utc(2025, 2, 26, 9), mode="control_room", area="E01000003", subjects=[Subject(2)]
    )
    await incident(
        "C1",
        utc(2025, 3, 31, 22, 30),
        arrival_minutes=20,
        outcome=Outcome(S136, "police_station", "other", 40),
    )
    await incident(
        "X1",
        utc(2025, 3, 31, 23, 30),
        arrival_minutes=20,
        outcome=Outcome(S136, "police_station", "other", 40),
    )
    return made


def figures(group: str, **values: Any) -> dict[str, Any]:
    """A full row: zero counts and null rates and times unless given."""
    return OutcomeFigures.empty(group).model_dump() | values


JANUARY = figures(
    "2025-01",
    incidents=4,
    with_outcome=4,
    s136_detentions=1,
    s136_detention_rate=0.25,
    s136_considered_not_used=1,
    s136_considered_not_used_rate=0.25,
    conveyance_ambulance=1,
    place_of_safety_health_based=1,
    time_at_scene_count=3,  # A1 60, A2 30, D1 120
    time_at_scene_median_minutes=60.0,
    time_at_scene_p90_minutes=108.0,  # 60 + 0.8 x (120 - 60)
    call_to_arrival_count=3,  # A1 15, A2 25, D1 30; A3 by phone
    call_to_arrival_median_minutes=25.0,
    call_to_arrival_p90_minutes=29.0,  # 25 + 0.8 x 5
    repeat_contacts=3,  # A1 (X2), D1 (A1), A2 (A1)
    repeat_contact_rate=0.75,
    assessed=3,  # A1, A2, A3
    crisis_flag_consulted=3,  # looked up: A1, D1, A3 (whose assessment says not); not A2
    crisis_flag_consulted_share=0.75,
    crisis_flag_changed_decision=1,  # A1; A2's "unchanged" is moot: no lookup
    crisis_flag_changed_decision_share=0.3333,
    lookups=4,
    lookups_per_incident=1.0,
)
FEBRUARY = figures(
    "2025-02",
    incidents=2,
    with_outcome=1,
    s136_detentions=1,
    s136_detention_rate=1.0,
    s136_considered_not_used_rate=0.0,
    conveyance_police_vehicle=1,
    place_of_safety_emergency_department=1,
    time_at_scene_count=1,
    time_at_scene_median_minutes=90.0,
    time_at_scene_p90_minutes=90.0,
    call_to_arrival_count=1,
    call_to_arrival_median_minutes=10.0,
    call_to_arrival_p90_minutes=10.0,
    repeat_contacts=1,  # B2 (B1)
    repeat_contact_rate=0.5,
    assessed=1,
    crisis_flag_consulted=1,  # B1
    crisis_flag_consulted_share=0.5,
    crisis_flag_changed_decision=1,  # B1, through its second person's assessment
    crisis_flag_changed_decision_share=1.0,
    lookups=1,
    lookups_per_incident=0.5,
)
MARCH = figures(
    "2025-03",
    incidents=1,
    with_outcome=1,
    s136_detentions=1,
    s136_detention_rate=1.0,
    s136_considered_not_used_rate=0.0,
    conveyance_other=1,
    place_of_safety_police_station=1,
    time_at_scene_count=1,
    time_at_scene_median_minutes=40.0,
    time_at_scene_p90_minutes=40.0,
    call_to_arrival_count=1,
    call_to_arrival_median_minutes=20.0,
    call_to_arrival_p90_minutes=20.0,
    repeat_contact_rate=0.0,
    crisis_flag_consulted_share=0.0,
    lookups_per_incident=0.0,
)
TOTAL = figures(
    "total",
    incidents=7,
    with_outcome=6,
    s136_detentions=3,
    s136_detention_rate=0.5,
    s136_considered_not_used=1,
    s136_considered_not_used_rate=0.1667,
    conveyance_ambulance=1,
    conveyance_police_vehicle=1,
    conveyance_other=1,
    place_of_safety_health_based=1,
    place_of_safety_emergency_department=1,
    place_of_safety_police_station=1,
    time_at_scene_count=5,  # 30 40 60 90 120
    time_at_scene_median_minutes=60.0,
    time_at_scene_p90_minutes=108.0,  # 90 + 0.6 x 30
    call_to_arrival_count=5,  # 10 15 20 25 30
    call_to_arrival_median_minutes=20.0,
    call_to_arrival_p90_minutes=28.0,  # 25 + 0.6 x 5
    repeat_contacts=4,
    repeat_contact_rate=0.5714,
    assessed=4,
    crisis_flag_consulted=4,
    crisis_flag_consulted_share=0.5714,
    crisis_flag_changed_decision=2,
    crisis_flag_changed_decision_share=0.5,
    lookups=5,
    lookups_per_incident=0.71,
)


async def supervisor(exchanger: Exchanger, org: str = "NSP") -> dict[str, str]:
    return bearer(await exchanger.token("supervisor", org, "supervision"))


async def report(exchanger: Exchanger, org: str = "NSP", **params: str) -> dict[str, Any]:
    response = await exchanger.client.get(
        URL, params=Q1 | params, headers=await supervisor(exchanger, org)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


async def test_monthly_figures_are_the_hand_checked_ones(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await make_quarter(connection, lookups=True)
    body = await report(exchanger)
    assert body["organisation_code"] == "NSP"
    assert body["period_start"] == "2025-01-01"
    assert body["period_end"] == "2025-04-01"
    assert body["time_zone"] == "Europe/London"
    assert body["group_by"] == "month"
    assert body["groups"] == [JANUARY, FEBRUARY, MARCH]
    assert body["total"] == TOTAL


async def test_empty_months_are_reported_as_empty(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await make_quarter(connection, lookups=True)
    body = await report(exchanger, to="2025-06-01")
    assert [group["group"] for group in body["groups"]] == [
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
        "2025-05",
    ]
    assert body["groups"][3] == figures(
        "2025-04",
        incidents=1,
        with_outcome=1,
        **{
            "s136_detentions": 1,
            "s136_detention_rate": 1.0,
            "s136_considered_not_used_rate": 0.0,
            "conveyance_other": 1,
            "place_of_safety_police_station": 1,
            "time_at_scene_count": 1,
            "time_at_scene_median_minutes": 40.0,
            "time_at_scene_p90_minutes": 40.0,
            "call_to_arrival_count": 1,
            "call_to_arrival_median_minutes": 20.0,
            "call_to_arrival_p90_minutes": 20.0,
            "repeat_contact_rate": 0.0,
            "crisis_flag_consulted_share": 0.0,
            "lookups_per_incident": 0.0,
        },
    )  # X1, on 1 April in London
    assert body["groups"][4] == figures("2025-05")
    assert body["total"]["incidents"] == 8


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("triage_mode", {"face_to_face": 5, "phone": 1, "control_room": 1}),
        (
            "outcome",
            {
                "s136_detention": 3,
                "s136_considered_not_used": 1,
                "referral_crisis_team": 1,
                "advice_and_support": 1,
                "arrested": 1,
                "not_recorded": 1,
            },
        ),
        ("area", {"E01000001": 3, "E01000002": 2, "E01000003": 1, "no_area_code": 1}),
        (
            "week",
            {"2024-12-30": 0, "2025-01-06": 2, "2025-01-13": 0, "2025-01-20": 2, "2025-01-27": 0}
            | {f"2025-02-{day:02d}": 0 for day in (3, 10, 17)}
            | {"2025-02-24": 2, "2025-03-03": 0, "2025-03-10": 0, "2025-03-17": 0}
            | {"2025-03-24": 0, "2025-03-31": 1},
        ),
    ],
)
async def test_groupings(
    exchanger: Exchanger, connection: AsyncConnection, group_by: str, expected: dict[str, int]
) -> None:
    await make_quarter(connection, lookups=True)
    body = await report(exchanger, group_by=group_by)
    assert {group["group"]: group["incidents"] for group in body["groups"]} == expected
    assert [group["group"] for group in body["groups"]] == list(expected)
    assert body["total"] == TOTAL


async def test_outcome_groups_carry_their_incidents_figures(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await make_quarter(connection, lookups=True)
    groups = {g["group"]: g for g in (await report(exchanger, group_by="outcome"))["groups"]}
    detained = groups["s136_detention"]
    assert (detained["s136_detentions"], detained["s136_detention_rate"]) == (3, 1.0)
    assert detained["time_at_scene_median_minutes"] == 60.0  # 40 60 90
    assert groups["not_recorded"]["with_outcome"] == 0
    assert groups["not_recorded"]["s136_detention_rate"] is None
    assert groups["not_recorded"]["repeat_contacts"] == 1


async def test_lookups_per_incident_by_outcome(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """Each outcome's incidents, their lookups and how many were looked up at all."""
    await make_quarter(connection, lookups=True)
    groups = (await report(exchanger, group_by="outcome"))["groups"]
    lookups = {
        g["group"]: (
            g["incidents"],
            g["lookups"],
            g["lookups_per_incident"],
            g["crisis_flag_consulted"],
        )
        for g in groups
    }
    assert lookups == {
        "s136_detention": (3, 3, 1.0, 2),  # A1 2, B1 1, C1 0
        "s136_considered_not_used": (1, 0, 0.0, 0),  # A2
        "referral_crisis_team": (1, 0, 0.0, 0),  # A2
        "advice_and_support": (1, 1, 1.0, 1),  # A3
        "arrested": (1, 1, 1.0, 1),  # D1
        "not_recorded": (1, 0, 0.0, 0),  # B2
    }


async def test_consulted_is_what_was_looked_up_and_changed_is_the_assessments_word(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """One incident looked up twice whose assessment says the flag was not consulted; one whose
    assessment says it was consulted and changed the decision, with no lookup recorded."""
    await make_incident(
        connection,
        called=utc(2025, 5, 6, 10),
        subjects=[Subject(3, Assessed(consulted=False))],
        lookups=2,
    )
    await make_incident(
        connection,
        called=utc(2025, 5, 7, 10),
        subjects=[Subject(4, Assessed(consulted=True, changed=True))],
    )
    total = (await report(exchanger, **{"from": "2025-05-01", "to": "2025-06-01"}))["total"]
    assert total["assessed"] == 2
    assert (total["crisis_flag_consulted"], total["crisis_flag_consulted_share"]) == (1, 0.5)
    # Changed only where consulted: the first's assessment did not say it changed anything, and
    # the second's lookup, if any was made, was not made through this service.
    assert (total["crisis_flag_changed_decision"], total["crisis_flag_changed_decision_share"]) == (
        0,
        0.0,
    )
    assert (total["lookups"], total["lookups_per_incident"]) == (2, 1.0)


def parsed_csv(body: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(body)))
    return [
        OutcomeFigures.model_validate(
            {k: (v if v != "" else None) for k, v in row.items()}
        ).model_dump()
        for row in rows
    ]


@pytest.mark.parametrize("group_by", ["month", "week", "outcome", "triage_mode", "area"])
async def test_csv_has_the_same_figures_as_json(
    exchanger: Exchanger, connection: AsyncConnection, group_by: str
) -> None:
    await make_quarter(connection, lookups=True)
    headers = await supervisor(exchanger)
    params = Q1 | {"group_by": group_by}
    as_json = (await exchanger.client.get(URL, params=params, headers=headers)).json()
    response = await exchanger.client.get(
        URL, params=params, headers=headers | {"accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="outcomes-NSP-2025-01-01-2025-04-01.csv"'
    )
    assert response.headers["vary"] == "Accept"
    header = response.text.splitlines()[0].split(",")
    assert header == list(OutcomeFigures.model_fields)
    assert parsed_csv(response.text) == [*as_json["groups"], as_json["total"]]


def test_accept_negotiation() -> None:
    assert wants_csv("text/csv")
    assert wants_csv("text/csv, */*;q=0.1")
    assert wants_csv("application/json;q=0.5, text/csv")
    assert not wants_csv(None)
    assert not wants_csv("*/*")
    assert not wants_csv("application/json")
    assert not wants_csv("application/json, text/csv")
    assert not wants_csv("text/csv;q=0")


async def test_a_trust_counts_the_incidents_naming_it(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await make_quarter(connection, lookups=True)
    rqi = (await report(exchanger, "RQI"))["total"]
    # A1 A2 A3 B1 B2 C1; D1 and S1 name Y05868. Repeats: A1 (X2), A2 (A1), B2 (B1): D1 is not
    # RQI's, so A1 is not a repeat through it, nor is anything through D1.
    assert (rqi["incidents"], rqi["repeat_contacts"], rqi["s136_detentions"]) == (6, 3, 3)
    other = (await report(exchanger, "Y05868"))["total"]
    # D1 (NSP) and S1 (SWP); S1 is a repeat through D1: the same trust saw person 1 three days
    # before, though through another force.
    assert (other["incidents"], other["repeat_contacts"], other["s136_detentions"]) == (2, 1, 1)


async def test_a_force_never_sees_another_forces_numbers(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await make_quarter(connection, lookups=True)
    southmoor = await report(exchanger, "SWP")
    assert southmoor["organisation_code"] == "SWP"
    # S1 only; person 1's earlier incidents are NSP's, so not a repeat for SWP.
    assert southmoor["total"] == figures(
        "total",
        incidents=1,
        with_outcome=1,
        s136_detentions=1,
        s136_detention_rate=1.0,
        s136_considered_not_used_rate=0.0,
        conveyance_police_vehicle=1,
        place_of_safety_health_based=1,
        time_at_scene_count=1,
        time_at_scene_median_minutes=50.0,
        time_at_scene_p90_minutes=50.0,
        call_to_arrival_count=1,
        call_to_arrival_median_minutes=12.0,
        call_to_arrival_p90_minutes=12.0,
        repeat_contact_rate=0.0,
        crisis_flag_consulted=1,
        crisis_flag_consulted_share=1.0,
        crisis_flag_changed_decision_share=0.0,
        lookups=1,
        lookups_per_incident=1.0,
    )
    # And NSP's figures do not move for S1.
    assert (await report(exchanger))["total"] == TOTAL


async def test_row_level_security_holds_even_if_the_query_asked_for_more(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """The report's query runs as the application's role in the caller's tenant: a SWP supervisor
    reading NSP's incidents directly in that role sees none of them."""
    await make_quarter(connection, lookups=True)
    await report(exchanger, "SWP")
    # The request left this transaction in SWP's tenant, as the application's role.
    rows = await connection.execute(
        text("SELECT count(*) FROM incident WHERE organisation_code = 'NSP'")
    )
    assert rows.scalar_one() == 0
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        text("SELECT count(*) FROM incident WHERE organisation_code = 'NSP'")
    )
    assert rows.scalar_one() == 9


async def test_reading_a_report_is_audited(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    headers = await supervisor(exchanger)
    await exchanger.client.get(URL, params=Q1 | {"group_by": "week"}, headers=headers)
    await exchanger.client.get(URL, params=Q1, headers=headers | {"accept": "text/csv"})
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        select(AuditEvent.actor_role, AuditEvent.purpose, AuditEvent.details)
        .where(
            col(AuditEvent.action) == "report.read",
            col(AuditEvent.data_classes) == ["outcome_statistics"],
            col(AuditEvent.person_id).is_(None),
            col(AuditEvent.incident_id).is_(None),
        )
        .order_by(col(AuditEvent.occurred_at))
    )
    assert [tuple(row) for row in rows] == [
        (
            "supervisor",
            "supervision",
            {
                "report": "outcomes",
                "from": "2025-01-01",
                "to": "2025-04-01",
                "group_by": "week",
                "representation": "json",
            },
        ),
        (
            "supervisor",
            "supervision",
            {
                "report": "outcomes",
                "from": "2025-01-01",
                "to": "2025-04-01",
                "group_by": "month",
                "representation": "csv",
            },
        ),
    ]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "2025-04-01", "to": "2025-04-01"}, "`to` must be after `from`."),
        ({"from": "2025-04-01", "to": "2025-01-01"}, "`to` must be after `from`."),
        ({"from": "2020-01-01", "to": "2025-01-02"}, "A report covers at most 5 years."),
    ],
)
async def test_a_bad_period_is_a_problem(
    exchanger: Exchanger, params: dict[str, str], detail: str
) -> None:
    response = await exchanger.client.get(URL, params=params, headers=await supervisor(exchanger))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "invalid-report-period"
    assert body["title"] == "Invalid report period"
    assert body["detail"] == detail


async def test_five_years_exactly_is_allowed(exchanger: Exchanger) -> None:
    response = await exchanger.client.get(
        URL,
        params={"from": "2020-01-01", "to": "2025-01-01", "group_by": "week"},
        headers=await supervisor(exchanger),
    )
    assert response.status_code == 200, response.text
    assert response.json()["total"]["incidents"] == 0


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"to": "2025-01-01"}, "query.from"),
        ({"from": "2025-01-01"}, "query.to"),
        ({"from": "2025-13-01", "to": "2026-01-01"}, "query.from"),
        ({"from": "2025-01-01", "to": "2026-01-01", "group_by": "year"}, "query.group_by"),
    ],
)
async def test_malformed_parameters_are_422(
    exchanger: Exchanger, params: dict[str, str], where: str
) -> None:
    response = await exchanger.client.get(URL, params=params, headers=await supervisor(exchanger))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [p["location"] for p in response.json()["invalid_params"]] == [where]


async def test_only_a_supervision_token_reads_reports(exchanger: Exchanger) -> None:
    assert (await exchanger.client.get(URL, params=Q1)).status_code == 401
    officer = await exchanger.token("officer", "NSP", "street-triage")
    refused = await exchanger.client.get(URL, params=Q1, headers=bearer(officer))
    assert refused.status_code == 403
    nurse = await exchanger.token("mh_practitioner", "RQI", "crisis-planning")
    assert (await exchanger.client.get(URL, params=Q1, headers=bearer(nurse))).status_code == 403


async def test_no_report_carries_free_text(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """Every clinical and free-text field of the set holds a marker; no representation of any
    grouping shows one, nor the name of a free-text field."""
    await make_quarter(connection, lookups=True)
    headers = await supervisor(exchanger)
    forbidden = (
        *FREE_TEXT,
        "SECRET",
        "presenting_situation",
        "decision_rationale",
        "rationale",
        "referral_notes",
        "attendance_reason_text",
        "description",
        "nhs_number",
        "cad_reference",
    )
    for group_by in ("month", "week", "outcome", "triage_mode", "area"):
        for accept in ("application/json", "text/csv"):
            response = await exchanger.client.get(
                URL, params=Q1 | {"group_by": group_by}, headers=headers | {"accept": accept}
            )
            assert response.status_code == 200
            assert [word for word in forbidden if word in response.text] == [], (group_by, accept)
    page = await exchanger.client.get("/dashboard")
    assert [word for word in forbidden if word in page.text] == []


async def test_an_incident_recorded_through_the_api_is_counted(exchanger: Exchanger) -> None:
    """The report reads what the API writes: an incident, a person, a signed-off assessment and an
    outcome, all through the routes."""
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    client = exchanger.client
    opened = await client.post("/v1/incidents", json=incident_payload(), headers=officer)
    assert opened.status_code == 201, opened.text
    incident_id = opened.json()["id"]
    bound = bearer(
        await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    )
    url = f"/v1/incidents/{incident_id}"
    subject = await client.post(f"{url}/subjects", json={"nhs_number": "9000000009"}, headers=bound)
    assert subject.status_code == 201, subject.text
    assessment = await client.post(
        f"{url}/subjects/{subject.json()['id']}/assessment",
        json={
            "content": assessment_content(
                crisis_flag_consulted=True, crisis_flag_changed_decision=True
            )
        },
        headers=bound,
    )
    assert assessment.status_code == 201, assessment.text
    outcome = await client.put(
        f"{url}/outcome",
        json={
            "codes": ["s136_detention"],
            "place_of_safety": "health_based_place_of_safety",
            "conveyance": "ambulance",
            "left_scene_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        },
        headers=bound,
    )
    assert outcome.status_code == 201, outcome.text

    today = datetime.now(UTC).date()
    period = {
        "from": str(today - timedelta(days=2)),
        "to": str(today + timedelta(days=2)),
        "group_by": "week",
    }
    total = (await report(exchanger, **period))["total"]
    assert total["incidents"] == 1
    assert (total["s136_detentions"], total["conveyance_ambulance"]) == (1, 1)
    assert total["place_of_safety_health_based"] == 1
    # The assessment says the flag was consulted and changed the decision, but no lookup was
    # made through the service: not counted as consulted, so not as changed either.
    assert (total["assessed"], total["crisis_flag_consulted"]) == (1, 0)
    assert (total["crisis_flag_changed_decision"], total["lookups"]) == (0, 0)
    # Called 50 minutes ago, arrived 35 ago, left 5 ago (tests/factories.py).
    assert total["call_to_arrival_median_minutes"] == pytest.approx(15.0, abs=0.1)
    assert total["time_at_scene_median_minutes"] == pytest.approx(30.0, abs=0.1)

    # Changes reach the report at once: the outcome replaced, the assessment rewritten.
    replaced = await client.put(
        f"{url}/outcome",
        json={"codes": ["s136_considered_not_used", "referral_crisis_team"]},
        headers=bound | {"if-match": outcome.headers["etag"]},
    )
    assert replaced.status_code == 200, replaced.text
    rewritten = await client.put(
        f"{url}/subjects/{subject.json()['id']}/assessment",
        json={
            "content": assessment_content(
                crisis_flag_consulted=False, crisis_flag_changed_decision=None
            )
        },
        headers=bound | {"if-match": assessment.headers["etag"]},
    )
    assert rewritten.status_code == 200, rewritten.text
    total = (await report(exchanger, **period))["total"]
    assert (total["s136_detentions"], total["s136_considered_not_used"]) == (0, 1)
    assert (total["conveyance_ambulance"], total["time_at_scene_count"]) == (0, 0)
    assert (total["assessed"], total["crisis_flag_consulted"]) == (1, 0)


async def test_report_facts_always_equal_their_source(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """`incident_fact` is kept by triggers; after every kind of write it equals the view that
    defines it, row for row."""
    await make_quarter(connection, lookups=True)
    await test_an_incident_recorded_through_the_api_is_counted(exchanger)
    await connection.execute(text("RESET ROLE"))
    columns = (
        "incident_id, organisation_code, partner_trust_code, time_of_call_at, call_date,"
        " triage_mode, area_code, codes, place_of_safety, conveyance, seconds_at_scene,"
        " seconds_to_arrival, assessed, crisis_flag_consulted, crisis_flag_changed_decision,"
        " person_ids, lookups"
    )
    differences = await connection.execute(
        text(
            f"(SELECT {columns} FROM incident_fact EXCEPT SELECT {columns} FROM incident_fact_source)"
            f" UNION ALL (SELECT {columns} FROM incident_fact_source"
            f" EXCEPT SELECT {columns} FROM incident_fact)"
        )
    )
    assert differences.all() == []
    facts = await connection.execute(text("SELECT count(*) FROM incident_fact"))
    assert facts.scalar_one() == 11
