"""The lookup's answer as a truth table: every PDS outcome against every record-holder outcome.

Each row is a real lookup through the API (real tokens, real database), with PDS, NRL and both
trusts faked at the transport from the published payloads. The expected columns are written out
by hand, row by row, so the table reads as the rules do in the README: a row that could be read
as "safe" when a source did not answer is a defect.
"""

import asyncio
import copy
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import Settings
from tests.conftest import Exchanger
from tests.lookups import look_up, scene, with_faked_partners
from tests.partners import HOSTS, _flag, _plan, _pointer, _searchset, fhir, fixture

NOT_FOUND = "pds/error_RESOURCE_NOT_FOUND.json"
WEAPON_SYSTEM = "https://fhir.rqi.example/CodeSystem/scene-safety"


class Pds(StrEnum):
    found = "found"
    restricted = "restricted"
    superseded = "superseded"
    not_found = "not_found"
    error = "error"
    timeout = "timeout"
    # By demographic trace
    traced = "traced"  # a single match scoring 1
    traced_restricted = "traced_restricted"
    probable = "probable"  # a single match scoring below 1
    ambiguous = "ambiguous"
    invalid_in_match = "invalid_in_match"  # the match's NHS number fails Modulus 11
    trace_error = "trace_error"


class Holders(StrEnum):
    """What the record holders (NRL and the trust RQI) answer; Y05868 always holds nothing."""

    found = "found"
    not_found = "not_found"
    error = "error"  # answers with something that is not FHIR
    timeout = "timeout"
    unmapped = "unmapped"  # RQI holds only an active flag coded outside the partnership's lists


ASKED = {
    Pds.found: "9000000009",
    Pds.restricted: "9000000025",
    Pds.superseded: "9000000017",  # PDS answers with the record under 9000000009
    Pds.not_found: "9111231130",
    Pds.error: "9000000009",
    Pds.timeout: "9000000009",
}
TRACE = {"family": "Smith", "given": "Jane", "birth_date": "2010-10-22"}


def _unmapped_flag(nhs: str) -> dict[str, Any]:
    flag = _flag(nhs, "risk-to-others", "high")
    flag["category"] = [
        {"coding": [{"system": WEAPON_SYSTEM, "code": "unsafe", "display": "Scene unsafe"}]}
    ]
    flag["code"] = {
        "coding": [{"system": WEAPON_SYSTEM, "code": "weapon", "display": "Weapon seen"}]
    }
    return flag


@dataclass
class Scenario:
    """Partners at the transport for one row: PDS in one state, the holders in another."""

    pds: Pds
    holders: Holders

    def holds(self, number: str) -> bool:
        """Holders file the person under the number first asked about (the old one, when
        superseded): the case in which a second round under the current number proves nothing."""
        if self.pds in (Pds.superseded,):
            return number == "9000000017"
        if self.pds in (Pds.restricted, Pds.traced_restricted):
            return number == "9000000025"
        return number in ("9000000009", "9111231130")

    async def handle(self, request: httpx.Request) -> httpx.Response:
        partner = HOSTS[request.url.host]
        if partner == "pds":
            return await self._pds(request)
        if partner == "trust-y05868":
            return fhir(200, _searchset([]))
        if self.holders == Holders.timeout:
            await asyncio.sleep(30)
        if self.holders == Holders.error:
            # Answered, but not with FHIR: bad data, not "nothing held".
            return httpx.Response(
                200, content=b"<html>maintenance", headers={"content-type": "application/fhir+json"}
            )
        if partner == "nrl":
            number = json.loads(request.content)["subject:identifier"].split("|")[1]
            if self.holders == Holders.found and self.holds(number):
                return fhir(200, _searchset([_pointer(number, "RQI")]))
            return fhir(
                404,
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"details": {"coding": [{"code": "NO_RECORD_FOUND"}]}}],
                },
            )
        number = request.url.params["patient.identifier"].split("|")[1]
        flags: list[dict[str, Any]] = []
        plans: list[dict[str, Any]] = []
        if self.holds(number) and self.holders == Holders.found:
            flags = [_flag(number, "risk-to-self", "high"), _flag(number, "risk-to-others", "low")]
            plans = [_plan(number, "2027-03-01", "Speak calmly.")]
        elif self.holds(number) and self.holders == Holders.unmapped:
            flags = [_unmapped_flag(number)]
        return fhir(200, _searchset(flags if request.url.path.endswith("/Flag") else plans))

    async def _pds(self, request: httpx.Request) -> httpx.Response:
        if self.pds in (Pds.timeout,):
            await asyncio.sleep(30)
        if self.pds in (Pds.error, Pds.trace_error):
            return fhir(500, {"resourceType": "OperationOutcome", "issue": []})
        if request.url.path.endswith("/Patient"):
            return fhir(200, self._search())
        number = request.url.path.rsplit("/", 1)[-1]
        if self.pds == Pds.not_found:
            return fhir(404, fixture(NOT_FOUND))
        if self.pds == Pds.restricted:
            return fhir(200, fixture("pds/Sensitive_Patient.json"))
        assert number == ASKED[self.pds]
        return fhir(200, fixture("pds/Patient.json"))  # for 9000000017 too: superseded

    def _search(self) -> dict[str, Any]:
        if self.pds == Pds.ambiguous:
            return fixture("pds/error_TOO_MANY_MATCHES.json")
        bundle = fixture("pds/PatientSearch.json")  # as published: one match scoring 0.75
        entry = bundle["entry"][0]
        if self.pds in (Pds.traced, Pds.traced_restricted):
            entry["search"]["score"] = 1
        if self.pds == Pds.traced_restricted:
            entry["resource"] = copy.deepcopy(fixture("pds/Sensitive_Patient.json"))
        if self.pds == Pds.invalid_in_match:
            entry["resource"]["identifier"][0]["value"] = "9000000008"
        return bundle


# pds, holders -> identification, known_to_services, crisis_plan,
#                 risk_to_self, risk_to_others, risk_from_others
U, NR = "unknown", "not_recorded"
TABLE: list[tuple[Pds, Holders, str, str, str, str, str, str]] = [
    (Pds.found, Holders.found, "verified", "yes", "present", "high", "low", NR),
    (Pds.found, Holders.not_found, "verified", "no", "absent", NR, NR, NR),
    (Pds.found, Holders.error, "verified", U, U, U, U, U),
    (Pds.found, Holders.timeout, "verified", U, U, U, U, U),
    (Pds.found, Holders.unmapped, "verified", "yes", "absent", U, U, U),
    (Pds.restricted, Holders.found, "verified", "yes", "present", "high", "low", NR),
    (Pds.restricted, Holders.not_found, "verified", "no", "absent", NR, NR, NR),
    (Pds.restricted, Holders.error, "verified", U, U, U, U, U),
    (Pds.restricted, Holders.timeout, "verified", U, U, U, U, U),
    (Pds.restricted, Holders.unmapped, "verified", "yes", "absent", U, U, U),
    (Pds.superseded, Holders.found, "verified", "yes", "present", "high", "low", NR),
    (Pds.superseded, Holders.not_found, "verified", "no", "absent", NR, NR, NR),
    (Pds.superseded, Holders.error, "verified", U, U, U, U, U),
    (Pds.superseded, Holders.timeout, "verified", U, U, U, U, U),
    (Pds.superseded, Holders.unmapped, "verified", "yes", "absent", U, U, U),
    # PDS does not know the number: never a "no", whatever the holders say.
    (Pds.not_found, Holders.found, "not_found", "yes", "present", "high", "low", U),
    (Pds.not_found, Holders.not_found, "not_found", U, U, U, U, U),
    (Pds.not_found, Holders.error, "not_found", U, U, U, U, U),
    (Pds.not_found, Holders.timeout, "not_found", U, U, U, U, U),
    (Pds.not_found, Holders.unmapped, "not_found", "yes", U, U, U, U),
    # PDS could not be asked: the number is unverified and may be superseded or mistyped.
    (Pds.error, Holders.found, "unverified", "yes", "present", "high", "low", U),
    (Pds.error, Holders.not_found, "unverified", U, U, U, U, U),
    (Pds.error, Holders.error, "unverified", U, U, U, U, U),
    (Pds.error, Holders.timeout, "unverified", U, U, U, U, U),
    (Pds.error, Holders.unmapped, "unverified", "yes", U, U, U, U),
    (Pds.timeout, Holders.found, "unverified", "yes", "present", "high", "low", U),
    (Pds.timeout, Holders.not_found, "unverified", U, U, U, U, U),
    (Pds.timeout, Holders.error, "unverified", U, U, U, U, U),
    (Pds.timeout, Holders.timeout, "unverified", U, U, U, U, U),
    (Pds.timeout, Holders.unmapped, "unverified", "yes", U, U, U, U),
    # By trace.
    (Pds.traced, Holders.found, "verified", "yes", "present", "high", "low", NR),
    (Pds.traced, Holders.not_found, "verified", "no", "absent", NR, NR, NR),
    (Pds.traced, Holders.error, "verified", U, U, U, U, U),
    (Pds.traced, Holders.timeout, "verified", U, U, U, U, U),
    (Pds.traced, Holders.unmapped, "verified", "yes", "absent", U, U, U),
    (Pds.traced_restricted, Holders.found, "verified", "yes", "present", "high", "low", NR),
    (Pds.traced_restricted, Holders.not_found, "verified", "no", "absent", NR, NR, NR),
    (Pds.traced_restricted, Holders.error, "verified", U, U, U, U, U),
    (Pds.traced_restricted, Holders.timeout, "verified", U, U, U, U, U),
    (Pds.traced_restricted, Holders.unmapped, "verified", "yes", "absent", U, U, U),
    (Pds.probable, Holders.found, "probable", "yes", "present", "high", "low", U),
    (Pds.probable, Holders.not_found, "probable", U, U, U, U, U),
    (Pds.probable, Holders.error, "probable", U, U, U, U, U),
    (Pds.probable, Holders.timeout, "probable", U, U, U, U, U),
    (Pds.probable, Holders.unmapped, "probable", "yes", U, U, U, U),
    # No one identified: no holder could be asked, so nothing is known either way.
    *[(Pds.ambiguous, holders, "ambiguous", U, U, U, U, U) for holders in Holders],
    *[(Pds.invalid_in_match, holders, "not_traced", U, U, U, U, U) for holders in Holders],
    *[(Pds.trace_error, holders, "not_traced", U, U, U, U, U) for holders in Holders],
]
BY_NUMBER = {Pds.found, Pds.restricted, Pds.superseded, Pds.not_found, Pds.error, Pds.timeout}
RESTRICTED = {Pds.restricted, Pds.traced_restricted}
HOLDER_STATUS = {
    Holders.found: "found",
    Holders.not_found: "not_found",
    Holders.error: "error",
    Holders.timeout: "unavailable",
    Holders.unmapped: "found",
}


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Scenario:
    pds, holders = request.param
    return Scenario(pds, holders)


@pytest.fixture
def partner_transport(scenario: Scenario) -> httpx.AsyncBaseTransport:
    return httpx.MockTransport(scenario.handle)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path, lookup_deadline_seconds=0.6)


def test_the_table_covers_every_combination() -> None:
    rows = {(row[0], row[1]) for row in TABLE}
    assert len(rows) == len(TABLE) == len(Pds) * len(Holders)


@pytest.mark.parametrize(
    ("scenario", "identification", "known", "plan", "to_self", "to_others", "from_others"),
    [pytest.param((row[0], row[1]), *row[2:], id=f"{row[0]}-{row[1]}") for row in TABLE],
    indirect=["scenario"],
)
async def test_truth_table(
    exchanger: Exchanger,
    scenario: Scenario,
    identification: str,
    known: str,
    plan: str,
    to_self: str,
    to_others: str,
    from_others: str,
) -> None:
    incident_id = await scene(exchanger)
    body: dict[str, Any] = (
        {"nhs_number": ASKED[scenario.pds]}
        if scenario.pds in BY_NUMBER
        else {"demographics": TRACE}
    )
    response = await look_up(exchanger, incident_id, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    person = answer["person"]

    assert person["identification"] == identification
    assert answer["known_to_services"] == known
    assert answer["crisis_plan"] == plan
    assert answer["safety_alerts"] == {
        "risk_to_self": to_self,
        "risk_to_others": to_others,
        "risk_from_others": from_others,
    }
    # What the holders that answered recorded stays visible, whatever the summary says.
    held = scenario.holders == Holders.found and person["nhs_number"] is not None
    assert answer["highest_recorded"] == (
        {"risk_to_self": "high", "risk_to_others": "low"} if held else {}
    )
    # However the person was identified, a PDS restriction marks the answer.
    assert person["demographics_restricted"] is (scenario.pds in RESTRICTED)
    # Every answer that is not a verified identification says what to check, in words.
    assert (person["check"] is None) is (
        identification == "verified" and not person["number_changed"]
    )
    # A holder that did not answer is named as such, never left out.
    holder_statuses = {
        source["status"] for source in answer["sources"] if source["name"] in ("nrl", "trust-rqi")
    }
    if person["nhs_number"] is None:
        assert holder_statuses == set()
    else:
        assert HOLDER_STATUS[scenario.holders] in holder_statuses
    # An alert this service cannot read is named with its custodian, never dropped.
    unread = [alert["custodian"]["organisation_code"] for alert in answer["unread_alerts"]]
    assert unread == (
        ["RQI"] if scenario.holders == Holders.unmapped and person["nhs_number"] else []
    )
    if scenario.pds == Pds.superseded:
        assert (person["nhs_number"], person["nhs_number_asked"]) == ("9000000009", "9000000017")
        assert person["number_changed"] is True
    if known == "yes" and plan == "present":
        [found] = answer["plans"]
        assert found["custodian"]["organisation_code"] == "RQI"
        assert [c["organisation_code"] for c in answer["custodians"]] == ["RQI"]
