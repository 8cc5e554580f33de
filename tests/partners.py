"""Partner systems faked at the httpx transport, with the published NHS payloads."""

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clients.http import PartnerHttp

FIXTURES = Path(__file__).parent / "fixtures"

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / relative).read_text())
    return loaded


def fhir(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/fhir+json", **headers},
    )


@dataclass
class RecordingTransport:
    """Answers with `handler` and keeps every request it was sent."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, base_url: str = "https://partner.test/FHIR/R4/") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.MockTransport(self),
            base_url=base_url,
            follow_redirects=False,
            trust_env=False,
        )


def partner_http(client: httpx.AsyncClient, name: str = "pds", **overrides: Any) -> PartnerHttp:
    options: dict[str, Any] = {
        "timeout_seconds": 1.0,
        "max_response_bytes": 1024 * 1024,
        "max_concurrency": 10,
    } | overrides
    return PartnerHttp(name=name, http=client, **options)


SAFETY = "https://fhir.street-triage.nhs.example"
PARTNER_CONFIG: list[dict[str, Any]] = [
    {"name": "pds", "kind": "pds", "base_url": "https://pds.test/FHIR/R4/"},
    {"name": "nrl", "kind": "nrl", "base_url": "https://nrl.test/FHIR/R4/"},
    {
        "name": "trust-rqi",
        "kind": "fhir_trust",
        "organisation_code": "RQI",
        "base_url": "https://rqi.test/FHIR/R4/",
    },
    {
        "name": "trust-y05868",
        "kind": "fhir_trust",
        "organisation_code": "Y05868",
        "base_url": "https://y05868.test/FHIR/R4/",
    },
]
HOSTS = {
    "pds.test": "pds",
    "nrl.test": "nrl",
    "rqi.test": "trust-rqi",
    "y05868.test": "trust-y05868",
}


def _subject(nhs: str) -> dict[str, Any]:
    return {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}}


def _flag(nhs: str, category: str, level: str) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "status": "active",
        "category": [
            {"coding": [{"system": f"{SAFETY}/CodeSystem/safety-alert-category", "code": category}]}
        ],
        "code": {"coding": [{"system": f"{SAFETY}/CodeSystem/risk-level", "code": level}]},
        "subject": _subject(nhs),
    }


def _plan(nhs: str, review: str, advice: str) -> dict[str, Any]:
    def parts(**values: str) -> list[dict[str, str]]:
        return [{"url": k.replace("_", "-"), "valueString": v} for k, v in values.items()]

    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "736253002"}]}],
        "meta": {"lastUpdated": "2026-10-01T10:00:00+00:00"},
        "subject": _subject(nhs),
        "period": {"end": review},
        "extension": [
            {"url": f"{SAFETY}/StructureDefinition/approach-advice", "valueString": advice},
            {
                "url": f"{SAFETY}/StructureDefinition/crisis-contact",
                "extension": parts(
                    team="Crisis resolution team",
                    phone="0113 555 0100",
                    hours="24 hours",
                    out_of_hours="0800 555 0199",
                ),
            },
            {
                "url": f"{SAFETY}/StructureDefinition/clinical",
                "extension": parts(
                    triggers="Anniversary of his brother's death", mha_status="Informal patient"
                ),
            },
        ],
    }


def _pointer(nhs: str, custodian: str) -> dict[str, Any]:
    pointer = fixture("nrl/nrlf_RQI-736253002-Valid.json")
    pointer["subject"] = _subject(nhs)
    pointer["custodian"]["identifier"]["value"] = custodian
    return pointer


# Synthetic people, on the PDS sandbox numbers.
TRUST_RECORDS: dict[tuple[str, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    ("trust-rqi", "9000000009"): (
        [_flag("9000000009", "risk-to-self", "high"), _flag("9000000009", "risk-to-others", "low")],
        [_plan("9000000009", "2027-03-01", "Speak calmly; he responds to his first name, Alan.")],
    ),
    ("trust-y05868", "9000000025"): (
        [_flag("9000000025", "risk-from-others", "high")],
        [_plan("9000000025", "2026-06-01", "Do not approach with more than one officer.")],
    ),
}
NRL_POINTERS = {"9000000009": ["RQI"], "9000000025": ["Y05868"], "9000000033": []}
# The trusts' patient indexes: RQI, for whose nurses most tests write plans, holds everyone but
# these strangers; Y05868 only the people it holds records of.
STRANGERS = frozenset({"9111231130"})


def in_patient_index(partner: str, nhs_number: str) -> bool:
    if nhs_number in STRANGERS:
        return False
    return partner == "trust-rqi" or (partner, nhs_number) in TRUST_RECORDS


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


@dataclass
class FakePartners:
    """PDS, NRL and two trusts at the transport, with faults to switch on per partner."""

    down: set[str] = field(default_factory=set)
    hanging: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)
    oversized: set[str] = field(default_factory=set)
    dripping: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        partner = HOSTS[request.url.host]
        if partner in self.down:
            return fhir(503, {"resourceType": "OperationOutcome", "issue": []})
        if partner in self.hanging:
            await asyncio.sleep(30)
        if partner in self.garbage:
            return httpx.Response(
                200, content=b"<html>oops", headers={"content-type": "application/fhir+json"}
            )
        if partner in self.oversized:
            return fhir(200, {"resourceType": "Bundle", "padding": "x" * (2 * 1024 * 1024)})
        if partner in self.dripping:

            async def drip() -> Any:
                for byte in json.dumps(_searchset([])).encode():
                    await asyncio.sleep(0.05)
                    yield bytes([byte])

            return httpx.Response(
                200, headers={"content-type": "application/fhir+json"}, content=drip()
            )
        if partner == "pds":
            return self._pds(request)
        if partner == "nrl":
            return self._nrl(request)
        return self._trust(partner, request)

    def _pds(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Patient"):
            family = request.url.params.get("family")
            bundle = fixture("pds/PatientSearch.json")
            if family == "Jones":
                bundle["entry"] = bundle["entry"] * 2
            elif family != "Smith":
                bundle = _searchset([])
            return fhir(200, bundle)
        number = request.url.path.rsplit("/", 1)[-1]
        records = {
            "9000000009": "pds/Patient.json",
            "9000000025": "pds/Sensitive_Patient.json",
            "9000000033": "pds/Minimal_Patient.json",
        }
        if number in records:
            return fhir(200, fixture(records[number]))
        return fhir(404, fixture("pds/error_RESOURCE_NOT_FOUND.json"))

    def _nrl(self, request: httpx.Request) -> httpx.Response:
        number = json.loads(request.content)["subject:identifier"].split("|")[1]
        if number not in NRL_POINTERS:
            return fhir(
                404,
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"details": {"coding": [{"code": "NO_RECORD_FOUND"}]}}],
                },
            )
        return fhir(200, _searchset([_pointer(number, code) for code in NRL_POINTERS[number]]))

    def _trust(self, partner: str, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Patient"):
            number = request.url.params["identifier"].split("|")[1]
            patient = fixture("pds/Minimal_Patient.json")
            patient["id"] = number
            patient["identifier"][0]["value"] = number
            return fhir(200, _searchset([patient] if in_patient_index(partner, number) else []))
        number = request.url.params["patient.identifier"].split("|")[1]
        flags, plans = TRUST_RECORDS.get((partner, number), ([], []))
        return fhir(200, _searchset(flags if request.url.path.endswith("/Flag") else plans))
