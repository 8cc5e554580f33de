"""Every person the partner simulator knows, looked up through the API as an officer would: the
answers the README shows, and none of them readable as "safe" where a source did not answer.

The simulator runs in-process behind the partners' transport, serving the demo partnership's
addresses, so these are the answers `triage demo` gives.
"""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.lookup import service
from sim.app import create_sim_app
from tests.conftest import Exchanger
from tests.lookups import look_up, scene

U, NR = "unknown", "not_recorded"

# asked -> identification, known_to_services, crisis_plan, (to self, to others, from others),
#          custodians of the plans listed, unread alerts' custodians
BY_NUMBER: dict[str, tuple[str, str, str, tuple[str, str, str], list[str], list[str]]] = {
    "9000000009": ("verified", "yes", "present", ("high", "low", NR), ["RQI"], []),
    "9000000017": ("verified", "yes", "present", ("high", "low", NR), ["RQI"], []),
    "9000000025": ("verified", "yes", "present", ("medium", NR, "high"), ["Y05868"], []),
    "9000000033": ("verified", "no", "absent", (NR, NR, NR), [], []),
    "9000000041": ("not_found", U, U, (U, U, U), [], []),
    "9111231130": ("not_found", U, U, (U, U, U), [], []),
    "9000000068": ("verified", "yes", "present", ("medium", NR, NR), ["RQI"], []),
    "9000000076": ("verified", "yes", "present", ("low", "medium", NR), ["RQI", "Y05868"], []),
    "9000000122": ("not_found", "yes", "present", ("high", U, U), ["RQI"], []),
    "9000000130": ("verified", "yes", "present", ("high", "low", NR), ["RQI"], []),
    "9000000157": ("verified", "yes", "present", ("medium", NR, NR), ["RQI", "Y05868"], []),
    "9000000165": ("verified", "yes", "present", (NR, "medium", NR), ["Y05868"], []),
    "9000000173": ("verified", "yes", "absent", (U, U, U), [], ["RQI"]),
    "9000000181": ("verified", "yes", "absent", ("low", U, NR), [], ["Y05868"]),
}
TRACES: dict[str, tuple[dict[str, str], str, str | None, str, str, tuple[str, str, str]]] = {
    # name -> demographics, identification, NHS number found, known_to_services, crisis_plan,
    #         alerts
    "smith": (
        {"family": "Smith", "given": "Jane", "birth_date": "2010-10-22", "postcode": "LS1 6AE"},
        "probable",
        "9000000009",
        "yes",
        "present",
        ("high", "low", U),
    ),
    "jones": (
        {"family": "Jones", "given": "Ann", "birth_date": "1980-01-01"},
        "ambiguous",
        None,
        U,
        U,
        (U, U, U),
    ),
    "hartley": (
        {"family": "Hartley", "given": "Rose", "birth_date": "1990-04-12"},
        "verified",
        "9000000114",
        "yes",
        "present",
        ("medium", NR, "high"),
    ),
    "hartley-postcode": (
        {"family": "Hartley", "given": "Rose", "birth_date": "1990-04-12", "postcode": "LS1 6AE"},
        "no_match",
        None,
        U,
        U,
        (U, U, U),
    ),
    "whitfield": (
        {"family": "Whitfield", "given": "Owen", "birth_date": "1964-12-03", "postcode": "LS6 2QT"},
        "probable",
        "9000000203",
        "yes",
        U,
        ("medium", U, U),
    ),
    "pryce": (
        {"family": "Pryce", "given": "Evan", "birth_date": "1958-03-21"},
        "not_traced",
        None,
        U,
        U,
        (U, U, U),
    ),
}


@pytest.fixture
def partner_transport() -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=create_sim_app())


def never_reassures(answer: dict[str, Any]) -> None:
    """Where any source did not answer, nothing in the answer reads as 'nothing' or 'safe'."""
    silent = [s for s in answer["sources"] if s["status"] in ("unavailable", "error")]
    identified = answer["person"]["identification"] == "verified"
    if silent or not identified:
        assert answer["known_to_services"] != "no"
        assert answer["crisis_plan"] != "absent"
        assert "not_recorded" not in answer["safety_alerts"].values()


@pytest.mark.parametrize("nhs_number", list(BY_NUMBER))
async def test_each_simulated_person_by_number(exchanger: Exchanger, nhs_number: str) -> None:
    identification, known, plan, alerts, plans, unread = BY_NUMBER[nhs_number]
    incident_id = await scene(exchanger)
    response = await look_up(exchanger, incident_id, {"nhs_number": nhs_number})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["person"]["identification"] == identification
    assert (answer["known_to_services"], answer["crisis_plan"]) == (known, plan)
    assert tuple(answer["safety_alerts"].values()) == alerts
    assert [p["custodian"]["organisation_code"] for p in answer["plans"]] == plans
    assert [a["custodian"]["organisation_code"] for a in answer["unread_alerts"]] == unread
    never_reassures(answer)


@pytest.mark.parametrize("name", list(TRACES))
async def test_each_simulated_trace(exchanger: Exchanger, name: str) -> None:
    demographics, identification, nhs_number, known, plan, alerts = TRACES[name]
    incident_id = await scene(exchanger)
    response = await look_up(exchanger, incident_id, {"demographics": demographics})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["person"]["identification"] == identification
    assert answer["person"]["nhs_number"] == nhs_number
    assert (answer["known_to_services"], answer["crisis_plan"]) == (known, plan)
    assert tuple(answer["safety_alerts"].values()) == alerts
    never_reassures(answer)


async def test_the_restricted_person_found_by_trace_is_marked_restricted(
    exchanger: Exchanger,
) -> None:
    incident_id = await scene(exchanger)
    demographics = TRACES["hartley"][0]
    response = await look_up(exchanger, incident_id, {"demographics": demographics})
    assert response.json()["person"]["demographics_restricted"] is True


# asked, moment (UTC) -> the number to call now per custodian, and why
NIGHT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # a Tuesday, 2 a.m. in London
TUESDAY_NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BANK_HOLIDAY_NOON = datetime(2026, 12, 28, 12, 0, tzinfo=UTC)  # Boxing Day's substitute Monday
CALL_NOW = [
    (
        "9000000157",
        NIGHT,
        {"RQI": ("0113 555 0100", "always_answered"), "Y05868": ("0800 555 0199", "out_of_hours")},
    ),
    (
        "9000000157",
        TUESDAY_NOON,
        {"RQI": ("0113 555 0100", "always_answered"), "Y05868": ("0117 555 0123", "in_hours")},
    ),
    (
        "9000000157",
        BANK_HOLIDAY_NOON,
        # Whether the office opens on a bank holiday its hours do not say: both numbers.
        {"RQI": ("0113 555 0100", "always_answered"), "Y05868": (None, "hours_unknown")},
    ),
    ("9000000165", NIGHT, {"Y05868": (None, "hours_unknown")}),
    ("9000000165", TUESDAY_NOON, {"Y05868": (None, "hours_unknown")}),
]


@pytest.mark.parametrize(("nhs_number", "moment", "expected"), CALL_NOW)
async def test_the_number_to_call_is_the_one_answered_at_that_hour(
    exchanger: Exchanger,
    monkeypatch: pytest.MonkeyPatch,
    nhs_number: str,
    moment: datetime,
    expected: dict[str, tuple[str | None, str]],
) -> None:
    incident_id = await scene(exchanger)
    monkeypatch.setattr(service, "utcnow", lambda: moment)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": nhs_number})).json()
    calls = {
        plan["custodian"]["organisation_code"]: plan["crisis_contact"]["call_now"]
        for plan in answer["plans"]
    }
    assert {code: (call["phone"], call["reason"]) for code, call in calls.items()} == expected
    for call in calls.values():
        assert call["at"].startswith(moment.strftime("%Y-%m-%dT%H:%M"))
        if call["reason"] == "hours_unknown":
            # Both numbers, none chosen: the officer is told the hours are unknown.
            assert len(call["numbers"]) == 2
