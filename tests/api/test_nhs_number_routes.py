"""Every route taking an NHS number: ASCII digits only, 3-3-4 grouping accepted and stored plain.

A number in other digits (full-width, Arabic-Indic...) passes Modulus 11 but is another string: it
would be a second person, and a known person answered "not known". So each route refuses it.
"""

import json
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from tests import lookups
from tests.conftest import Exchanger, bearer
from tests.factories import crisis_plan_payload
from tests.lookups import look_up, scene, with_faked_partners
from tests.problems import PROBLEM_BASE, problem

partners = lookups.partners
partner_transport = lookups.partner_transport

# Known to PDS among the faked partners.
KNOWN = "9000000009"
# Known to no partner: only a plan written here makes it known.
ONLY_HERE = "9000000033"
PLANS = "/v1/crisis-plans"
REPORTS = "/v1/subject-access-reports"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


def in_digits_of(zero: str, number: str) -> str:
    return "".join(chr(ord(zero) + int(digit)) for digit in number)


def written_forms(number: str) -> dict[str, str]:
    """How people type a number, each accepted as `number`."""
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    return {
        "plain": number,
        "spaces": spaced,
        "hyphens": spaced.replace(" ", "-"),
        "surrounding-whitespace": f"  {spaced}\t",
    }


BAD: dict[str, Any] = {
    "full-width-digits": in_digits_of("\uff10", KNOWN),
    "arabic-indic-digits": in_digits_of("\u0660", KNOWN),
    "devanagari-digits": in_digits_of("\u0966", KNOWN),
    "one-full-width-digit": KNOWN[:9] + "\uff19",
    "full-width-digits-grouped": in_digits_of("\uff10", "900") + " 000 0009",
    "no-break-space-separators": "900\u00a0000\u00a00009",
    "ideographic-space-separators": "900\u3000000\u30000009",
    "ideographic-space-around": f"\u3000{KNOWN}\u3000",
    "grouped-4-6": "9000 000009",
    "mixed-separators": "900 000-0009",
    "dots": "900.000.0009",
    "all-zeros": "0000000000",
    "check-digit-fails": "9000000008",
    "often-quoted-9876544321": "9876544321",
    "often-quoted-9999999991": "9999999991",
    "a-json-number": int(KNOWN),
}


def echoes(value: Any) -> set[str]:
    """Every way the response could repeat `value`: as sent, JSON-escaped, in ASCII digits."""
    if not isinstance(value, str):
        return {str(value)}
    ascii_digits = "".join(
        str(unicodedata.decimal(character))
        for character in value
        if unicodedata.decimal(character, None) is not None
    )
    return {value.strip(), json.dumps(value)[1:-1].strip(), ascii_digits} - {""}


async def people(connection: AsyncConnection, number: str | None = None) -> int:
    await connection.execute(text("RESET ROLE"))
    query = "SELECT count(*) FROM person"
    if number is not None:
        query += " WHERE nhs_number = :number"
    found = await connection.scalar(text(query), {"number": number})
    assert isinstance(found, int)
    return found


async def nurse(exchanger: Exchanger) -> dict[str, str]:
    return bearer(await exchanger.token("mh_practitioner", "RQI", "crisis-planning"))


async def ig_officer(exchanger: Exchanger, org: str = "RQI") -> dict[str, str]:
    return bearer(await exchanger.token("ig_officer", org, "audit"))


async def create_plan(exchanger: Exchanger, number: Any) -> httpx.Response:
    return await exchanger.client.post(
        PLANS, json=crisis_plan_payload(nhs_number=number), headers=await nurse(exchanger)
    )


async def search_plans(exchanger: Exchanger, number: Any) -> httpx.Response:
    return await exchanger.client.post(
        f"{PLANS}/_search",
        json={"nhs_number": number, "include_withdrawn": True},
        headers=await nurse(exchanger),
    )


async def add_subject(
    exchanger: Exchanger, number: Any, incident_id: uuid.UUID | None = None
) -> httpx.Response:
    incident_id = incident_id or await scene(exchanger)
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    return await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"nhs_number": number},
        headers=bearer(officer),
    )


async def look_up_flag(exchanger: Exchanger, number: Any) -> httpx.Response:
    return await look_up(exchanger, await scene(exchanger), {"nhs_number": number})


async def report_access(exchanger: Exchanger, number: Any) -> httpx.Response:
    return await exchanger.client.post(
        REPORTS, json={"nhs_number": number}, headers=await ig_officer(exchanger)
    )


ROUTES: dict[str, Callable[[Exchanger, Any], Awaitable[httpx.Response]]] = {
    "flag-lookup": look_up_flag,
    "incident-subject": add_subject,
    "crisis-plan-create": create_plan,
    "crisis-plan-search": search_plans,
    "subject-access-report": report_access,
}


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
@pytest.mark.parametrize("number", BAD.values(), ids=BAD.keys())
async def test_anything_but_ascii_digits_is_422_and_never_echoed(
    exchanger: Exchanger,
    connection: AsyncConnection,
    route: Callable[[Exchanger, Any], Awaitable[httpx.Response]],
    number: Any,
) -> None:
    before = await people(connection)
    response = await route(exchanger, number)
    body = problem(response, 422, "validation")
    assert [param["location"] for param in body["invalid_params"]] == ["body.nhs_number"]
    for echo in echoes(number):
        assert echo not in response.text
    assert await people(connection) == before


@pytest.mark.parametrize("written", written_forms(KNOWN).values(), ids=written_forms(KNOWN).keys())
async def test_a_lookup_by_a_grouped_number_answers_for_the_plain_number(
    exchanger: Exchanger, written: str
) -> None:
    response = await look_up_flag(exchanger, written)
    assert response.status_code == 200, response.text
    assert response.json()["person"]["nhs_number"] == KNOWN


@pytest.mark.parametrize("written", written_forms(KNOWN).values(), ids=written_forms(KNOWN).keys())
async def test_a_subject_added_grouped_is_the_same_person_as_the_plain_number(
    exchanger: Exchanger, connection: AsyncConnection, written: str
) -> None:
    incident_id = await scene(exchanger)
    added = await add_subject(exchanger, written, incident_id)
    assert added.status_code == 201, added.text
    assert added.json()["nhs_number"] == KNOWN
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    listed = await exchanger.client.get(
        f"/v1/incidents/{incident_id}/subjects", headers=bearer(officer)
    )
    assert [subject["nhs_number"] for subject in listed.json()] == [KNOWN]
    # The plain number is the person already added, not a second one.
    again = await add_subject(exchanger, KNOWN, incident_id)
    # Not through `problem`: tests/problems.py has no title for this type.
    assert (again.status_code, again.json()["type"]) == (409, PROBLEM_BASE + "subject-exists")
    elsewhere = await add_subject(exchanger, KNOWN)
    assert elsewhere.status_code == 201, elsewhere.text
    assert await people(connection, KNOWN) == 1


@pytest.mark.parametrize("written", written_forms(KNOWN).values(), ids=written_forms(KNOWN).keys())
async def test_a_crisis_plan_written_grouped_is_found_by_any_form_of_the_number(
    exchanger: Exchanger, connection: AsyncConnection, written: str
) -> None:
    created = await create_plan(exchanger, written)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["nhs_number"] == KNOWN
    for form in written_forms(KNOWN).values():
        found = await search_plans(exchanger, form)
        assert found.status_code == 200, found.text
        assert [(item["id"], item["nhs_number"]) for item in found.json()] == [(plan["id"], KNOWN)]
    # One active plan per person: the plain number is the same person.
    problem(await create_plan(exchanger, KNOWN), 409, "crisis-plan-exists")
    assert await people(connection, KNOWN) == 1


@pytest.mark.parametrize(
    "written", written_forms(ONLY_HERE).values(), ids=written_forms(ONLY_HERE).keys()
)
async def test_a_subject_access_report_asked_grouped_answers_for_the_plain_number(
    exchanger: Exchanger, connection: AsyncConnection, written: str
) -> None:
    assert (await create_plan(exchanger, ONLY_HERE)).status_code == 201
    await connection.execute(text("RESET ROLE"))
    person_id = await connection.scalar(
        text("SELECT id FROM person WHERE nhs_number = :number"), {"number": ONLY_HERE}
    )
    response = await report_access(exchanger, written)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["nhs_number"], report["known"], report["person_id"]) == (
        ONLY_HERE,
        True,
        str(person_id),
    )
    assert [event["action"] for event in report["events"]] == ["crisis_plan.create"]
