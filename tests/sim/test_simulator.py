"""The partner simulator, driven through the real adapters, and its faults."""

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from api.cli import main as cli_main
from clients.auth import ClientAssertionAuth
from clients.errors import PartnerBadResponse, PartnerUnavailable
from clients.fhir_trust import FhirTrustClient
from clients.nrl import NrlClient
from clients.pds import PdsClient
from models.nhs_number import is_valid_nhs_number
from models.partner import (
    AlertCategory,
    AlertLevel,
    CrisisPlanPointer,
    Demographics,
    NrlResult,
    PdsTrace,
    PdsTraceOutcome,
    PdsVerification,
    TrustRecord,
    UnmappedAlert,
)
from sim import (
    PARTNERS,
    FaultConfigError,
    PartnerFaults,
    create_sim_app,
    fhir,
    load_fault_file,
    people,
    published,
)
from sim.faults import OVERSIZED_BYTES, parse_fault_config
from tests.identity_provider import IdentityProvider
from tests.partners import fixture, partner_http
from tests.processes import simulator_process

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 21)
NHS = "https://fhir.nhs.uk/Id/nhs-number"
PROFILE = "https://fhir.street-triage.nhs.example"
CRISIS_PLAN = "http://snomed.info/sct|736253002"
UNKNOWN_VALID_NUMBER = "9000000106"
EMPTY_SEARCHSET = {"resourceType": "Bundle", "type": "searchset", "total": 0}
# One person (two for the superseded case) for each clinical safety case.
SAFETY_CASE_NUMBERS = (
    "9000000114",
    "9000000122",
    "9000000130",
    "9000000149",
    "9000000157",
    "9000000165",
    "9000000173",
    "9000000181",
    "9000000203",
    "9000000211",
)
SANDBOX_CASES = {
    "9000000009": "normal",
    "9000000017": "superseded",
    "9000000025": "restricted",
    "9000000033": "minimal",
    "9000000041": "invalidated",
    "9111231130": "not found",
}


def sim(faults: dict[str, PartnerFaults] | None = None) -> ASGIApp:
    return create_sim_app(faults, today=lambda: TODAY)


def sim_client(app: ASGIApp, base_url: str = "http://sim/") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url, trust_env=False
    )


def deadline(seconds: float = 2.0) -> float:
    return time.monotonic() + seconds


@asynccontextmanager
async def pds_client(app: ASGIApp, **options: Any) -> AsyncIterator[PdsClient]:
    async with sim_client(app, "http://sim/pds/FHIR/R4/") as client:
        yield PdsClient(partner_http(client, "pds", **options))


@asynccontextmanager
async def nrl_client(app: ASGIApp, **options: Any) -> AsyncIterator[NrlClient]:
    async with sim_client(app, "http://sim/nrl/FHIR/R4/") as client:
        yield NrlClient(partner_http(client, "nrl", **options))


async def verify(app: ASGIApp, nhs_number: str, **options: Any) -> PdsVerification:
    async with pds_client(app, **options) as pds:
        return await pds.verify(nhs_number, deadline=deadline())


def patient(nhs_number: str) -> str:
    return f"{NHS}|{nhs_number}"


# The data


@pytest.mark.parametrize(
    ("template", "source"),
    [
        (published.PATIENT, "pds/Patient.json"),
        (published.SENSITIVE_PATIENT, "pds/Sensitive_Patient.json"),
        (published.MINIMAL_PATIENT, "pds/Minimal_Patient.json"),
        (published.PATIENT_SEARCH, "pds/PatientSearch.json"),
        (published.ERROR_RESOURCE_NOT_FOUND, "pds/error_RESOURCE_NOT_FOUND.json"),
        (published.ERROR_INVALIDATED_RESOURCE, "pds/error_INVALIDATED_RESOURCE.json"),
        (published.ERROR_INVALID_RESOURCE_ID, "pds/error_INVALID_RESOURCE_ID.json"),
        (published.CRISIS_PLAN_POINTER, "nrl/nrlf_RQI-736253002-Valid.json"),
    ],
)
def test_templates_are_the_published_payloads(template: dict[str, Any], source: str) -> None:
    assert template == fixture(source)


def test_seeded_people_are_consistent() -> None:
    numbers = [person.nhs_number for person in people.PEOPLE]
    assert len(set(numbers)) == len(numbers)
    assert UNKNOWN_VALID_NUMBER not in numbers
    for number in [*numbers, UNKNOWN_VALID_NUMBER]:
        assert is_valid_nhs_number(number), number
    for person in people.PEOPLE:
        assert (person.record is not None) == (person.pds is people.PdsState.found)
        if person.superseded_by is not None:
            assert people.BY_NHS_NUMBER[person.superseded_by].pds is people.PdsState.found
        for custodian in person.nrl_pointers or ():
            assert person.trusts[custodian].plan is not None, (person.nhs_number, custodian)
        for ods, record in person.trusts.items():
            assert ods in people.TRUSTS
            if record.plan is not None:
                assert len(record.plan.approach_advice) <= 500
        for ods, record in person.trusts.items():
            ids = [fhir.safety_flag(flag, person.nhs_number, ods)["id"] for flag in record.flags]
            assert len(set(ids)) == len(ids), (person.nhs_number, ods)
    for trace in people.TRACES:
        for number in trace.nhs_numbers:
            assert people.BY_NHS_NUMBER[number].pds is people.PdsState.found
        # PDS never finds a restricted person by postcode, so no rule may need one to.
        if trace.postcode is not None:
            assert not any(people.BY_NHS_NUMBER[n].restricted for n in trace.nhs_numbers)
        if trace.misreported_as is not None:
            assert len(trace.nhs_numbers) == 1
            assert not is_valid_nhs_number(trace.misreported_as)
        assert 0 < trace.score <= 1


def test_every_safety_case_has_a_new_valid_number_and_the_sandbox_cases_stay() -> None:
    for number in SAFETY_CASE_NUMBERS:
        assert is_valid_nhs_number(number), number
        assert number not in SANDBOX_CASES
        assert people.person(number) is not None, number
    for number, case in SANDBOX_CASES.items():
        seeded = people.person(number)
        assert seeded is not None
        assert seeded.about.startswith(case), number
    assert people.trace("Jones", None, date(1990, 1, 1), None) is not None


async def test_the_people_listing_says_what_each_case_must_answer() -> None:
    async with sim_client(sim()) as client:
        listed = (await client.get("_sim/people")).json()
    assert listed == [
        {"nhs_number": person.nhs_number, "about": person.about} for person in people.PEOPLE
    ]
    abouts = {entry["nhs_number"]: entry["about"] for entry in listed}
    for number in SAFETY_CASE_NUMBERS:
        assert "answer must" in abouts[number], number


# PDS


@pytest.mark.parametrize(
    ("nhs_number", "expected"),
    [
        ("9000000009", PdsVerification(found=True, nhs_number="9000000009")),
        ("9000000025", PdsVerification(found=True, nhs_number="9000000025", restricted=True)),
        ("9000000033", PdsVerification(found=True, nhs_number="9000000033")),
        (
            "9000000017",
            PdsVerification(found=True, nhs_number="9000000009", superseded=True),
        ),
        ("9111231130", PdsVerification(found=False)),
        ("9000000041", PdsVerification(found=False, invalidated=True)),
        ("9000000068", PdsVerification(found=True, nhs_number="9000000068")),
        ("9000000076", PdsVerification(found=True, nhs_number="9000000076")),
        ("9000000114", PdsVerification(found=True, nhs_number="9000000114", restricted=True)),
        ("9000000122", PdsVerification(found=False)),
        (
            "9000000130",
            PdsVerification(found=True, nhs_number="9000000149", superseded=True),
        ),
        ("9000000149", PdsVerification(found=True, nhs_number="9000000149")),
        ("9000000211", PdsVerification(found=True, nhs_number="9000000211")),
        (UNKNOWN_VALID_NUMBER, PdsVerification(found=False)),
    ],
)
async def test_pds_verifies_each_seeded_person(nhs_number: str, expected: PdsVerification) -> None:
    assert await verify(sim(), nhs_number) == expected


async def test_pds_answers_with_the_published_records() -> None:
    async with sim_client(sim(), "http://sim/pds/FHIR/R4/") as client:
        normal = await client.get("Patient/9000000009")
        restricted = await client.get("Patient/9000000025")
        not_found = await client.get("Patient/9111231130")
    assert normal.headers["content-type"] == "application/fhir+json"
    assert normal.json() == fixture("pds/Patient.json")
    assert restricted.json() == fixture("pds/Sensitive_Patient.json")
    assert "address" not in restricted.json()
    assert not_found.status_code == 404
    assert not_found.json() == fixture("pds/error_RESOURCE_NOT_FOUND.json")


async def test_new_people_are_the_published_patient_under_their_own_number_and_name() -> None:
    async with sim_client(sim(), "http://sim/pds/FHIR/R4/") as client:
        body = (await client.get("Patient/9000000068")).json()
    assert body["id"] == body["identifier"][0]["value"] == "9000000068"
    assert body["name"][0]["family"] == "Okafor"
    assert body["birthDate"] == "1988-03-14"
    assert "deceasedDateTime" not in body
    assert body["address"] == published.PATIENT["address"]


async def test_an_invalid_number_is_refused_as_pds_refuses_it() -> None:
    with pytest.raises(PartnerBadResponse) as caught:
        await verify(sim(), "9000000000")
    assert caught.value.reason == "status_400"


def smith(postcode: str | None = None, family: str = "Smith", given: str = "Jane") -> Demographics:
    return Demographics(
        family=family, given=given, birth_date=date(2010, 10, 22), postcode=postcode
    )


@pytest.mark.parametrize(
    ("demographics", "expected"),
    [
        (smith(), PdsTrace(outcome=PdsTraceOutcome.unique, nhs_number="9000000009", score=0.75)),
        (
            smith(family="SMITH", given="jane", postcode="ls16ae"),
            PdsTrace(outcome=PdsTraceOutcome.unique, nhs_number="9000000009", score=0.75),
        ),
        (smith(postcode="LS2 7UE"), PdsTrace(outcome=PdsTraceOutcome.none)),
        (smith(given="Janet"), PdsTrace(outcome=PdsTraceOutcome.none)),
        (smith(family="Jones", given="Rhys"), PdsTrace(outcome=PdsTraceOutcome.ambiguous)),
        (smith(family="Brown"), PdsTrace(outcome=PdsTraceOutcome.none)),
    ],
)
async def test_pds_traces_by_demographics(demographics: Demographics, expected: PdsTrace) -> None:
    async with pds_client(sim()) as pds:
        assert await pds.trace(demographics, deadline=deadline()) == expected


async def test_the_unique_trace_is_the_published_search_and_jones_finds_two() -> None:
    async with sim_client(sim(), "http://sim/pds/FHIR/R4/") as client:
        unique = await client.get(
            "Patient", params={"family": "Smith", "given": "Jane", "birthdate": "eq2010-10-22"}
        )
        jones = await client.get("Patient", params={"family": "Jones", "birthdate": "eq1990-01-01"})
        missing = await client.get("Patient", params={"family": "Smith"})
    assert unique.json() == fixture("pds/PatientSearch.json")
    entries = jones.json()["entry"]
    assert jones.json()["total"] == 2
    assert [entry["resource"]["id"] for entry in entries] == ["9000000084", "9000000092"]
    assert {entry["resource"]["name"][0]["family"] for entry in entries} == {"Jones"}
    assert missing.status_code == 400
    assert missing.json()["issue"][0]["details"]["coding"][0]["code"] == "INVALID_SEARCH_DATA"


# NRL

RQI_POINTER = CrisisPlanPointer(
    custodian_code="RQI",
    title="Mental health crisis plan report",
    url="https://spine-proxy.national.ncrs.nhs.uk/https%3A%2F%2Fp1.nhs.uk%2FMentalhealthCrisisPlanReport.pdf",
    content_type="application/pdf",
    contact_details=False,
    created="2022-12-21T10:45:41+11:00",
)


@pytest.mark.parametrize(
    ("nhs_number", "expected"),
    [
        ("9000000009", NrlResult(known=True, pointers=[RQI_POINTER])),
        (
            "9000000025",
            NrlResult(
                known=True, pointers=[RQI_POINTER.model_copy(update={"custodian_code": "Y05868"})]
            ),
        ),
        ("9000000033", NrlResult(known=True, pointers=[])),
        ("9000000068", NrlResult(known=True, pointers=[RQI_POINTER])),
        (
            "9000000076",
            NrlResult(
                known=True,
                pointers=[RQI_POINTER, RQI_POINTER.model_copy(update={"custodian_code": "Y05868"})],
            ),
        ),
        ("9111231130", NrlResult(known=False)),
        ("9000000041", NrlResult(known=False)),
        (UNKNOWN_VALID_NUMBER, NrlResult(known=False)),
    ],
)
async def test_nrl_finds_crisis_plan_pointers(nhs_number: str, expected: NrlResult) -> None:
    async with nrl_client(sim()) as nrl:
        assert await nrl.crisis_plan_pointers(nhs_number, deadline=deadline()) == expected


async def test_nrl_pointers_are_the_published_pointer_with_subject_and_custodian_changed() -> None:
    async with sim_client(sim(), "http://sim/nrl/FHIR/R4/") as client:
        response = await client.post(
            "DocumentReference/_search",
            json={"subject:identifier": patient("9000000025"), "type": CRISIS_PLAN},
        )
        other_type = await client.post(
            "DocumentReference/_search",
            json={
                "subject:identifier": patient("9000000025"),
                "type": "http://snomed.info/sct|1382601000000107",
            },
        )
        unknown = await client.post(
            "DocumentReference/_search", json={"subject:identifier": patient("9111231130")}
        )
    pointer = response.json()["entry"][0]["resource"]
    expected = fixture("nrl/nrlf_Y05868-736253002-Valid.json")
    for changed in ("id", "subject", "context"):
        del pointer[changed], expected[changed]
    assert pointer == expected
    assert other_type.json() == EMPTY_SEARCHSET
    assert unknown.status_code == 404
    assert unknown.json()["issue"][0]["details"]["coding"][0]["code"] == "NO_RECORD_FOUND"


# Trusts


async def trust_search(
    ods: str, resource: str, nhs_number: str, app: ASGIApp | None = None
) -> httpx.Response:
    params = {"patient.identifier": patient(nhs_number), "status": "active"}
    if resource == "CarePlan":
        params["category"] = CRISIS_PLAN
    async with sim_client(app or sim()) as client:
        return await client.get(f"trust/{ods}/FHIR/R4/{resource}", params=params)


async def test_trust_flags_are_searchset_bundles_of_flags() -> None:
    response = await trust_search("RQI", "Flag", "9000000009")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = response.json()
    assert {key: bundle[key] for key in ("resourceType", "type", "total")} == {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 3,
    }
    flags = [entry["resource"] for entry in bundle["entry"]]
    for entry, flag in zip(bundle["entry"], flags, strict=True):
        assert entry["fullUrl"] == f"http://sim/trust/RQI/FHIR/R4/Flag/{flag['id']}"
    assert flags[0] == {
        "resourceType": "Flag",
        "id": flags[0]["id"],
        "status": "active",
        "category": [
            {
                "coding": [
                    {
                        "system": f"{PROFILE}/CodeSystem/safety-alert-category",
                        "code": "risk-to-self",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": f"{PROFILE}/CodeSystem/risk-level", "code": "high"}],
            "text": "Self-harm when distressed; ligature risk reported",
        },
        "subject": {"identifier": {"system": NHS, "value": "9000000009"}},
        "period": {"start": "2026-01-05"},
        "author": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RQI"}
        },
    }
    levels = {
        flag["category"][0]["coding"][0]["code"]: flag["code"]["coding"][0]["code"]
        for flag in flags
    }
    assert levels == {"risk-to-self": "high", "risk-to-others": "low", "risk-from-others": "none"}
    assert len({flag["id"] for flag in flags}) == 3
    assert not any("9000000009" in flag["id"] for flag in flags)


async def test_trust_crisis_plan_is_a_care_plan_with_the_profile_extensions() -> None:
    bundle = (await trust_search("RQI", "CarePlan", "9000000009")).json()
    assert bundle["total"] == 1
    plan = bundle["entry"][0]["resource"]
    assert {key: plan[key] for key in ("resourceType", "status", "intent")} == {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
    }
    assert plan["meta"] == {"lastUpdated": "2026-10-01T10:00:00+00:00"}
    assert plan["category"] == [
        {"coding": [{"system": "http://snomed.info/sct", "code": "736253002"}]}
    ]
    assert plan["subject"] == {"identifier": {"system": NHS, "value": "9000000009"}}
    assert plan["period"] == {"end": (TODAY + timedelta(days=120)).isoformat()}
    assert plan["author"]["identifier"]["value"] == "RQI"
    advice, contact, clinical = plan["extension"]
    assert advice["url"] == f"{PROFILE}/StructureDefinition/approach-advice"
    assert 0 < len(advice["valueString"]) <= 500
    assert contact == {
        "url": f"{PROFILE}/StructureDefinition/crisis-contact",
        "extension": [
            {"url": "team", "valueString": "Northshire Crisis Resolution and Home Treatment Team"},
            {"url": "phone", "valueString": "0113 555 0100"},
            {"url": "hours", "valueString": "Mon-Fri 09:00-17:00"},
            {"url": "out-of-hours", "valueString": "Crisis line 0800 555 0199, 24 hours"},
        ],
    }
    assert clinical["url"] == f"{PROFILE}/StructureDefinition/clinical"
    assert [part["url"] for part in clinical["extension"]] == [
        "triggers",
        "early-signs",
        "what-helps",
        "what-to-avoid",
        "mha-status",
        "care-coordinator",
        "dependants",
        "access-notes",
    ]
    assert all(part["valueString"] for part in clinical["extension"])


async def test_a_stale_plan_has_a_review_date_in_the_past() -> None:
    plan = (await trust_search("RQI", "CarePlan", "9000000068")).json()["entry"][0]["resource"]
    assert date.fromisoformat(plan["period"]["end"]) < TODAY


@pytest.mark.parametrize(
    ("ods", "nhs_number"),
    [
        ("Y05868", "9000000009"),
        ("RQI", "9000000025"),
        ("RQI", "9000000033"),
        ("Y05868", UNKNOWN_VALID_NUMBER),
    ],
)
@pytest.mark.parametrize("resource", ["Flag", "CarePlan"])
async def test_a_trust_that_does_not_know_the_person_returns_an_empty_bundle(
    ods: str, nhs_number: str, resource: str
) -> None:
    response = await trust_search(ods, resource, nhs_number)
    assert response.status_code == 200
    assert response.json() == EMPTY_SEARCHSET


async def test_the_restricted_person_is_known_to_y05868() -> None:
    flags = (await trust_search("Y05868", "Flag", "9000000025")).json()
    plans = (await trust_search("Y05868", "CarePlan", "9000000025")).json()
    assert flags["total"] == 3
    assert plans["total"] == 1
    assert plans["entry"][0]["resource"]["author"]["identifier"]["value"] == "Y05868"


async def test_trust_searches_refuse_what_they_cannot_answer() -> None:
    async with sim_client(sim()) as client:
        no_trust = await client.get(
            "trust/RXX/FHIR/R4/Flag", params={"patient.identifier": patient("9000000009")}
        )
        no_patient = await client.get("trust/RQI/FHIR/R4/Flag")
        bad_number = await client.get(
            "trust/RQI/FHIR/R4/Flag", params={"patient.identifier": patient("9000000000")}
        )
        other_category = await client.get(
            "trust/RQI/FHIR/R4/CarePlan",
            params={
                "patient.identifier": patient("9000000009"),
                "category": "http://snomed.info/sct|1",
            },
        )
    assert no_trust.status_code == 404
    assert no_trust.json()["resourceType"] == "OperationOutcome"
    assert no_patient.status_code == bad_number.status_code == 400
    assert other_category.json() == EMPTY_SEARCHSET


async def test_the_trust_adapter_reads_the_simulated_trust() -> None:
    async with sim_client(sim(), "http://sim/trust/RQI/FHIR/R4/") as client:
        trust = FhirTrustClient(partner_http(client, "trust-rqi"), "RQI")
        record = await trust.crisis_record("9000000009", deadline=deadline())
    assert record.known
    assert {alert.category: alert.level for alert in record.alerts} == {
        AlertCategory.risk_to_self: AlertLevel.high,
        AlertCategory.risk_to_others: AlertLevel.low,
        AlertCategory.risk_from_others: AlertLevel.not_recorded,
    }
    assert record.plan is not None
    assert record.plan.review_date == TODAY + timedelta(days=120)
    assert record.plan.crisis_contact is not None
    assert record.plan.crisis_contact.phone == "0113 555 0100"
    assert record.plan.clinical.mha_status == "Informal; no current section or CTO"


@pytest.mark.parametrize(
    ("ods", "nhs_number", "known"),
    [
        ("RQI", "9000000009", True),  # alerts and a plan there
        ("RQI", "9000000033", True),  # in the index only: RQI may write the first plan here
        ("Y05868", "9000000033", False),
        ("Y05868", "9000000025", True),
        ("RQI", "9111231130", False),  # no one's patient
    ],
)
async def test_a_trusts_patient_index_holds_the_people_it_cares_for(
    ods: str, nhs_number: str, known: bool
) -> None:
    async with sim_client(sim(), f"http://sim/trust/{ods}/FHIR/R4/") as client:
        trust = FhirTrustClient(partner_http(client, f"trust-{ods.lower()}"), ods)
        assert await trust.knows_patient(nhs_number, deadline=deadline()) is known


# Clinical safety cases: one synthetic person each


async def pds_search(app: ASGIApp, **params: str) -> dict[str, Any]:
    async with sim_client(app, "http://sim/pds/FHIR/R4/") as client:
        response = await client.get("Patient", params=params)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def nrl_custodians(nhs_number: str, app: ASGIApp | None = None) -> list[str] | None:
    """The custodians of the crisis plan pointers NRL holds; None: NRL has no record at all."""
    async with sim_client(app or sim(), "http://sim/nrl/FHIR/R4/") as client:
        response = await client.post(
            "DocumentReference/_search",
            json={"subject:identifier": patient(nhs_number), "type": CRISIS_PLAN},
        )
    if response.status_code == 404:
        return None
    pointers = [entry["resource"] for entry in response.json().get("entry", [])]
    for pointer in pointers:
        assert pointer["subject"]["identifier"] == {"system": NHS, "value": nhs_number}
        assert pointer["type"]["coding"][0]["code"] == "736253002"
    return [pointer["custodian"]["identifier"]["value"] for pointer in pointers]


async def resources(ods: str, resource: str, nhs_number: str) -> list[dict[str, Any]]:
    response = await trust_search(ods, resource, nhs_number)
    assert response.status_code == 200
    found = [entry["resource"] for entry in response.json().get("entry", [])]
    for each in found:
        assert each["subject"] == {"identifier": {"system": NHS, "value": nhs_number}}
        assert each["status"] == "active"
    return found


def risk_levels(flags: list[dict[str, Any]]) -> dict[str, str]:
    return {
        flag["category"][0]["coding"][0]["code"]: flag["code"]["coding"][0]["code"]
        for flag in flags
    }


def contact_of(plan: dict[str, Any]) -> dict[str, str]:
    (contact,) = [ext for ext in plan["extension"] if ext["url"].endswith("/crisis-contact")]
    return {part["url"]: part["valueString"] for part in contact["extension"]}


def is_restricted(resource: dict[str, Any]) -> bool:
    return any(label["code"] == "R" for label in resource.get("meta", {}).get("security", []))


async def trust_record(ods: str, nhs_number: str) -> TrustRecord:
    async with sim_client(sim(), f"http://sim/trust/{ods}/FHIR/R4/") as client:
        trust = FhirTrustClient(partner_http(client, f"trust-{ods.lower()}"), ods)
        return await trust.crisis_record(nhs_number, deadline=deadline())


HARTLEY = {"family": "Hartley", "given": "Rose", "birthdate": "eq1990-04-12"}


async def test_a_restricted_person_is_traced_by_name_and_birth_date_without_a_postcode() -> None:
    app = sim()
    found = await pds_search(app, **HARTLEY)
    with_postcode = await pds_search(app, **HARTLEY, **{"address-postalcode": "LS1 6AE"})
    (entry,) = found["entry"]
    match = entry["resource"]
    assert found["total"] == 1
    assert entry["search"]["score"] == 1
    assert entry["fullUrl"].endswith("/Patient/9000000114")
    assert match["id"] == match["identifier"][0]["value"] == "9000000114"
    assert is_restricted(match)
    assert (match["name"][0]["family"], match["birthDate"]) == ("Hartley", "1990-04-12")
    for withheld in ("address", "telecom", "contact", "generalPractitioner", "deceasedDateTime"):
        assert withheld not in match, withheld
    assert with_postcode["total"] == 0
    assert "entry" not in with_postcode
    async with pds_client(app) as pds:
        traced = await pds.trace(
            Demographics(family="Hartley", given="Rose", birth_date=date(1990, 4, 12)),
            deadline=deadline(),
        )
    assert traced == PdsTrace(
        outcome=PdsTraceOutcome.unique, nhs_number="9000000114", restricted=True, score=1.0
    )
    assert await nrl_custodians("9000000114") == ["RQI"]
    flags = await resources("RQI", "Flag", "9000000114")
    assert risk_levels(flags) == {"risk-from-others": "high", "risk-to-self": "medium"}
    assert len(await resources("RQI", "CarePlan", "9000000114")) == 1


def searches_with_a_postcode() -> list[dict[str, str]]:
    """Every trace rule's own terms, and every restricted person's name and birth date, each
    with a postcode."""
    terms = [
        {
            "family": trace.family,
            "given": trace.given or "Any",
            "birthdate": f"eq{trace.birth_date or date(1990, 1, 1)}",
            "address-postalcode": trace.postcode or "LS1 6AE",
        }
        for trace in people.TRACES
    ]
    for person in people.PEOPLE:
        record = person.record
        if record is not None and person.restricted:
            name = record.template["name"][0]
            terms.append(
                {
                    "family": record.family or name["family"],
                    "given": record.given or name["given"][0],
                    "birthdate": f"eq{record.birth_date or date(2010, 10, 22)}",
                    "address-postalcode": "LS1 6AE",
                }
            )
    return terms


@pytest.mark.parametrize("params", searches_with_a_postcode())
async def test_a_search_with_a_postcode_never_returns_a_restricted_person(
    params: dict[str, str],
) -> None:
    found = await pds_search(sim(), **params)
    assert not any(is_restricted(entry["resource"]) for entry in found.get("entry", []))


async def test_pds_does_not_know_a_number_that_nrl_and_the_trust_hold() -> None:
    async with sim_client(sim(), "http://sim/pds/FHIR/R4/") as client:
        read = await client.get("Patient/9000000122")
    assert read.status_code == 404
    assert read.json() == fixture("pds/error_RESOURCE_NOT_FOUND.json")
    assert await nrl_custodians("9000000122") == ["RQI"]
    assert risk_levels(await resources("RQI", "Flag", "9000000122")) == {"risk-to-self": "high"}
    (plan,) = await resources("RQI", "CarePlan", "9000000122")
    assert plan["author"]["identifier"]["value"] == "RQI"
    assert await resources("Y05868", "Flag", "9000000122") == []


async def test_a_plan_filed_under_a_superseded_number_is_found_only_under_that_number() -> None:
    async with sim_client(sim(), "http://sim/pds/FHIR/R4/") as client:
        old = (await client.get("Patient/9000000130")).json()
        current = (await client.get("Patient/9000000149")).json()
    assert old == current
    assert old["id"] == old["identifier"][0]["value"] == "9000000149"
    assert old["name"][0]["family"] == "Brennan"
    assert await nrl_custodians("9000000130") == ["RQI"]
    assert await nrl_custodians("9000000149") == []
    assert len(await resources("RQI", "CarePlan", "9000000130")) == 1
    assert await resources("RQI", "CarePlan", "9000000149") == []
    assert risk_levels(await resources("RQI", "Flag", "9000000130")) == {"risk-to-self": "high"}
    assert risk_levels(await resources("RQI", "Flag", "9000000149")) == {"risk-to-others": "low"}


async def test_plans_at_both_trusts_keep_their_own_contact_hours_and_review_dates() -> None:
    assert await nrl_custodians("9000000157") == ["RQI", "Y05868"]
    (rqi,) = await resources("RQI", "CarePlan", "9000000157")
    (y05868,) = await resources("Y05868", "CarePlan", "9000000157")
    assert contact_of(rqi) == {
        "team": "Northshire Crisis Resolution and Home Treatment Team",
        "phone": "0113 555 0100",
        "hours": "24 hours",
        "out-of-hours": "NHS 111, option 2, 24 hours",
    }
    assert contact_of(y05868) == {
        "team": "Avonmere Community Mental Health Team (West)",
        "phone": "0117 555 0123",
        "hours": "Mon-Fri 09:00-17:00",
        "out-of-hours": "Crisis line 0800 555 0199, 24 hours",
    }
    assert rqi["period"] == {"end": (TODAY + timedelta(days=90)).isoformat()}
    assert y05868["period"] == {"end": (TODAY + timedelta(days=14)).isoformat()}
    assert rqi["author"]["identifier"]["value"] == "RQI"
    assert y05868["author"]["identifier"]["value"] == "Y05868"


async def test_a_contact_whose_hours_cannot_be_read_still_gives_both_numbers() -> None:
    assert await nrl_custodians("9000000165") == ["Y05868"]
    (plan,) = await resources("Y05868", "CarePlan", "9000000165")
    assert contact_of(plan) == {
        "team": "Avonmere Early Intervention in Psychosis Team",
        "phone": "0117 555 0166",
        "hours": "Office hours",
        "out-of-hours": "Avonmere crisis line 0800 555 0188, 24 hours",
    }


async def test_an_active_flag_coded_outside_the_partnership_lists_is_a_plain_fhir_flag() -> None:
    flags = await resources("RQI", "Flag", "9000000173")
    mapped, foreign = flags
    assert risk_levels([mapped]) == {"risk-to-others": "none"}
    assert foreign["category"] == [
        {
            "coding": [
                {
                    "system": people.RQI_ALERT_SYSTEM,
                    "code": "SCENE-UNSAFE-WEAPON",
                    "display": "Scene unsafe: weapon",
                }
            ]
        }
    ]
    assert foreign["code"] == {"text": "Weapon (knife) seen at address"}
    assert PROFILE not in json.dumps(foreign)
    assert await nrl_custodians("9000000173") == []
    record = await trust_record("RQI", "9000000173")
    assert record.known
    assert [(alert.category, alert.level) for alert in record.alerts] == [
        (AlertCategory.risk_to_others, AlertLevel.not_recorded)
    ]
    assert record.unmapped_alerts == [UnmappedAlert()]


async def test_a_partnership_category_with_a_level_outside_its_list_is_kept() -> None:
    flags = await resources("Y05868", "Flag", "9000000181")
    assert risk_levels(flags) == {"risk-to-others": "very-high", "risk-to-self": "low"}
    assert {flag["code"]["coding"][0]["system"] for flag in flags} == {
        f"{PROFILE}/CodeSystem/risk-level"
    }
    record = await trust_record("Y05868", "9000000181")
    assert [(alert.category, alert.level) for alert in record.alerts] == [
        (AlertCategory.risk_to_self, AlertLevel.low)
    ]
    assert record.unmapped_alerts == [UnmappedAlert(category=AlertCategory.risk_to_others)]


WHITFIELD = {"family": "Whitfield", "given": "Owen", "birthdate": "eq1964-12-03"}


async def test_a_trace_whose_single_match_scores_below_one_is_a_probable_match() -> None:
    app = sim()
    found = await pds_search(app, **WHITFIELD, **{"address-postalcode": "LS6 2QT"})
    elsewhere = await pds_search(app, **WHITFIELD, **{"address-postalcode": "LS1 6AE"})
    (entry,) = found["entry"]
    assert entry["search"] == {"score": 0.8}
    assert entry["resource"]["id"] == "9000000203"
    assert elsewhere["total"] == 0
    async with pds_client(app) as pds:
        traced = await pds.trace(
            Demographics(
                family="Whitfield", given="Owen", birth_date=date(1964, 12, 3), postcode="LS6 2QT"
            ),
            deadline=deadline(),
        )
    assert traced == PdsTrace(outcome=PdsTraceOutcome.unique, nhs_number="9000000203", score=0.8)
    assert risk_levels(await resources("RQI", "Flag", "9000000203")) == {"risk-to-self": "medium"}


async def test_a_trace_whose_match_carries_a_number_failing_modulus_11_is_bad_data() -> None:
    app = sim()
    found = await pds_search(app, family="Pryce", given="Evan", birthdate="eq1958-03-21")
    (entry,) = found["entry"]
    match = entry["resource"]
    assert match["id"] == match["identifier"][0]["value"] == people.PRYCE_MISREPORTED
    assert entry["fullUrl"].endswith(f"/Patient/{people.PRYCE_MISREPORTED}")
    assert not is_valid_nhs_number(people.PRYCE_MISREPORTED)
    assert entry["search"]["score"] == 1
    async with pds_client(app) as pds:
        with pytest.raises(PartnerBadResponse) as caught:
            await pds.trace(
                Demographics(family="Pryce", given="Evan", birth_date=date(1958, 3, 21)),
                deadline=deadline(),
            )
    assert caught.value.reason == "invalid_nhs_number"
    assert (await verify(app, "9000000211")).nhs_number == "9000000211"


# Token endpoint


@pytest.fixture(scope="module")
def key() -> IdentityProvider:
    return IdentityProvider.generate()


def client_auth(client: httpx.AsyncClient, key: IdentityProvider) -> ClientAssertionAuth:
    return ClientAssertionAuth(
        partner="pds",
        http=client,
        token_url="http://sim/oauth2/token",
        client_id="street-triage-app",
        private_key_pem=key.private_pem,
        key_id="triage-1",
    )


async def test_the_token_endpoint_serves_client_assertion_auth(key: IdentityProvider) -> None:
    app = create_sim_app(require_token=True)
    async with sim_client(app, "http://sim/pds/FHIR/R4/") as client:
        auth = client_auth(client, key)
        token = await auth.access_token()
        with_token = PdsClient(partner_http(client, "pds", auth=auth))
        without_token = PdsClient(partner_http(client, "pds"))
        found = await with_token.verify("9000000009", deadline=deadline())
        with pytest.raises(PartnerBadResponse) as refused:
            await without_token.verify("9000000009", deadline=deadline())
        forged = await client.get("Patient/9000000009", headers={"Authorization": "Bearer forged"})
    assert len(token) >= 32
    assert found == PdsVerification(found=True, nhs_number="9000000009")
    assert refused.value.reason == "status_401"
    assert forged.status_code == 401


async def test_the_token_endpoint_answers_a_good_request_as_nhs_endpoints_do(
    key: IdentityProvider,
) -> None:
    async with sim_client(sim()) as client:
        assertion = client_auth(client, key).assertion()
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
        good = await client.post("oauth2/token", data=form)
        again = await client.post("oauth2/token", data=form)
        missing = await client.post("oauth2/token", data={"grant_type": "client_credentials"})
        not_jwt = await client.post("oauth2/token", data=form | {"client_assertion": "a.b"})
        unsigned = await client.post(
            "oauth2/token", data=form | {"client_assertion": assertion.rsplit(".", 1)[0] + "."}
        )
    body = good.json()
    assert good.status_code == 200
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert (body["expires_in"], body["token_type"]) == (599, "Bearer")
    assert body["access_token"] != again.json()["access_token"]
    for refused in (missing, not_jwt, unsigned):
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_request"


async def test_the_token_endpoint_has_faults_of_its_own(key: IdentityProvider) -> None:
    app = sim({"token": PartnerFaults(error_rate=1)})
    async with sim_client(app) as client:
        with pytest.raises(PartnerUnavailable) as caught:
            await client_auth(client, key).access_token()
    assert caught.value.reason == "token_endpoint_503"


# Faults


async def test_latency_is_added_before_answering() -> None:
    started = time.monotonic()
    await verify(sim(), "9000000009")
    plain = time.monotonic() - started
    started = time.monotonic()
    result = await verify(sim({"pds": PartnerFaults(latency_ms=300)}), "9000000009")
    slow = time.monotonic() - started
    assert result.found
    assert slow >= 0.3
    assert slow - plain >= 0.25


async def test_an_error_rate_of_one_makes_the_partner_unavailable() -> None:
    with pytest.raises(PartnerUnavailable) as caught:
        await verify(sim({"pds": PartnerFaults(error_rate=1)}), "9000000009")
    assert caught.value.reason == "status_503"


async def statuses(app: ASGIApp, count: int = 40) -> list[int]:
    async with sim_client(app, "http://sim/pds/FHIR/R4/") as client:
        return [(await client.get("Patient/9000000009")).status_code for _ in range(count)]


async def test_errors_are_drawn_from_a_seeded_random_source() -> None:
    half = {"pds": PartnerFaults(error_rate=0.5)}
    first = await statuses(create_sim_app(half, seed=7))
    second = await statuses(create_sim_app(half, seed=7))
    other = await statuses(create_sim_app(half, seed=8))
    assert first == second
    assert first != other
    assert set(first) == {200, 503}


async def test_garbage_is_a_malformed_answer() -> None:
    with pytest.raises(PartnerBadResponse) as caught:
        await verify(sim({"pds": PartnerFaults(garbage=True)}), "9000000009")
    assert caught.value.reason == "malformed"


async def test_an_oversized_answer_is_refused() -> None:
    app = sim({"nrl": PartnerFaults(oversized=True)})
    async with sim_client(app, "http://sim/nrl/FHIR/R4/") as client:
        raw = await client.post(
            "DocumentReference/_search", json={"subject:identifier": patient("9000000009")}
        )
    assert raw.status_code == 200
    assert len(raw.content) == OVERSIZED_BYTES
    assert raw.json()["resourceType"] == "Bundle"
    async with nrl_client(app, max_response_bytes=1024 * 1024) as nrl:
        with pytest.raises(PartnerBadResponse) as caught:
            await nrl.crisis_plan_pointers("9000000009", deadline=deadline())
    assert caught.value.reason == "oversized"


async def test_a_hanging_partner_is_unavailable_when_the_deadline_passes() -> None:
    started = time.monotonic()
    async with pds_client(sim({"pds": PartnerFaults(hang=True)})) as pds:
        with pytest.raises(PartnerUnavailable) as caught:
            await pds.verify("9000000009", deadline=deadline(0.3))
    assert time.monotonic() - started < 0.6
    assert caught.value.reason == "timeout"


async def test_a_dripping_partner_is_slow_and_times_out_inside_the_deadline() -> None:
    size = len(json.dumps(published.MINIMAL_PATIENT, separators=(",", ":")))
    app = sim({"pds": PartnerFaults(drip_bytes_per_second=4000)})
    started = time.monotonic()
    assert (await verify(app, "9000000033")).found
    assert time.monotonic() - started >= 0.8 * size / 4000
    async with pds_client(app) as pds:
        with pytest.raises(PartnerUnavailable) as caught:
            await pds.verify("9000000033", deadline=deadline(0.1))
    assert caught.value.reason == "timeout"


async def test_a_forced_status_is_answered_with_an_operation_outcome() -> None:
    with pytest.raises(PartnerUnavailable) as unavailable:
        await verify(sim({"pds": PartnerFaults(status=500)}), "9000000009")
    with pytest.raises(PartnerBadResponse) as bad:
        await verify(sim({"pds": PartnerFaults(status=404)}), "9000000009")
    async with sim_client(sim({"trust-RQI": PartnerFaults(status=429)})) as client:
        limited = await client.get(
            "trust/RQI/FHIR/R4/Flag", params={"patient.identifier": patient("9000000009")}
        )
    assert unavailable.value.reason == "status_500"
    assert bad.value.reason == "status_404"
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["resourceType"] == "OperationOutcome"


async def test_faults_touch_only_their_partner() -> None:
    app = sim({"pds": PartnerFaults(error_rate=1), "trust-Y05868": PartnerFaults(garbage=True)})
    async with nrl_client(app) as nrl:
        assert (await nrl.crisis_plan_pointers("9000000009", deadline=deadline())).known
    assert (await trust_search("RQI", "Flag", "9000000009", app)).json()["total"] == 3
    async with sim_client(app) as client:
        assert (await client.get("_sim/health")).json() == {"status": "ok"}


async def test_faults_change_at_run_time() -> None:
    app = sim()
    async with sim_client(app) as control:
        put = await control.put("_sim/faults/pds", json={"garbage": True})
        assert put.status_code == 200
        assert put.json() == {"garbage": True}
        with pytest.raises(PartnerBadResponse):
            await verify(app, "9000000009")
        assert (
            await control.put("_sim/faults/trust-rqi", json={"latency_ms": 5})
        ).status_code == 200
        listed = (await control.get("_sim/faults")).json()
        assert listed == {
            "token": {},
            "pds": {"garbage": True},
            "nrl": {},
            "trust-RQI": {"latency_ms": 5},
            "trust-Y05868": {},
        }
        assert (await control.delete("_sim/faults/pds")).status_code == 204
        assert (await verify(app, "9000000009")).found
        assert (await control.delete("_sim/faults")).status_code == 204
        assert (await control.get("_sim/faults")).json()["trust-RQI"] == {}
        unknown = await control.put("_sim/faults/spine", json={"hang": True})
        out_of_range = await control.put("_sim/faults/pds", json={"error_rate": 2})
        misspelt = await control.put("_sim/faults/pds", json={"latency": 100})
    assert unknown.status_code == 404
    assert out_of_range.status_code == misspelt.status_code == 422


def test_a_fault_file_sets_the_seed_and_the_faults(tmp_path: Path) -> None:
    yaml_file = tmp_path / "faults.yaml"
    yaml_file.write_text("seed: 11\npds:\n  latency_ms: 250\ntrust-Y05868:\n  hang: true\n")
    json_file = tmp_path / "faults.json"
    json_file.write_text(json.dumps({"nrl": {"error_rate": 0.25, "drip_bytes_per_second": 10}}))
    from_yaml = load_fault_file(yaml_file)
    from_json = load_fault_file(json_file)
    assert from_yaml.seed == 11
    assert from_yaml.partners == {
        "pds": PartnerFaults(latency_ms=250),
        "trust-Y05868": PartnerFaults(hang=True),
    }
    assert from_json.partners == {"nrl": PartnerFaults(error_rate=0.25, drip_bytes_per_second=10)}
    create_sim_app(from_yaml.partners, seed=from_yaml.seed)
    assert set(PARTNERS) == {"token", "pds", "nrl", "trust-RQI", "trust-Y05868"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"pds": {"latency": 5}}, "faults of pds: latency"),
        ({"nrl": {"error_rate": 1.5}}, "faults of nrl: error_rate"),
        ({"seed": "seven"}, "seed must be an integer"),
        (["pds"], "a fault file is a mapping"),
    ],
)
def test_a_bad_fault_file_says_what_is_wrong(document: object, message: str) -> None:
    with pytest.raises(FaultConfigError, match=message):
        parse_fault_config(document)


def test_faults_for_an_unknown_partner_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FaultConfigError, match="unknown partner 'spine'"):
        create_sim_app({"spine": PartnerFaults(hang=True)})
    bad = tmp_path / "faults.yaml"
    bad.write_text("spine:\n  hang: true\n")
    assert cli_main(["partner-sim", "--faults", str(bad)]) == 2
    assert "unknown partner 'spine'" in capsys.readouterr().err


# A real process over real HTTP


@pytest.fixture
def running_simulator(tmp_path: Path) -> Iterator[str]:
    with simulator_process(tmp_path) as base:
        yield base


async def test_the_simulator_serves_real_http_in_its_own_process(running_simulator: str) -> None:
    async with httpx.AsyncClient(
        base_url=f"{running_simulator}/pds/FHIR/R4/", trust_env=False
    ) as client:
        pds = PdsClient(partner_http(client, "pds"))
        assert await pds.verify("9000000025", deadline=deadline()) == PdsVerification(
            found=True, nhs_number="9000000025", restricted=True
        )
        # Over a real socket the body really trickles: the adapter's deadline still holds.
        await client.put(
            f"{running_simulator}/_sim/faults/pds", json={"drip_bytes_per_second": 100}
        )
        started = time.monotonic()
        with pytest.raises(PartnerUnavailable):
            await pds.verify("9000000033", deadline=deadline(0.5))
        assert time.monotonic() - started < 1.0
        health = await client.get(f"{running_simulator}/_sim/health")
        listed = await client.get(f"{running_simulator}/_sim/people")
        await client.delete(f"{running_simulator}/_sim/faults/pds")
        restricted = await client.get("Patient", params=HARTLEY)
        by_postcode = await client.get(
            "Patient", params=HARTLEY | {"address-postalcode": "LS1 6AE"}
        )
    assert health.json() == {"status": "ok"}
    assert {entry["nhs_number"] for entry in listed.json()} >= set(SAFETY_CASE_NUMBERS)
    assert is_restricted(restricted.json()["entry"][0]["resource"])
    assert by_postcode.json()["total"] == 0
