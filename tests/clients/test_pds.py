"""The PDS adapter against the published PDS payloads."""

import copy
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

from clients.errors import PartnerBadResponse
from clients.pds import PdsClient
from models.partner import Demographics, PdsTrace, PdsTraceOutcome, PdsVerification
from tests.partners import RecordingTransport, fhir, fixture, partner_http

PATIENTS = {
    "9000000009": fixture("pds/Patient.json"),
    "9000000025": fixture("pds/Sensitive_Patient.json"),
    "9000000033": fixture("pds/Minimal_Patient.json"),
}


def pds_sandbox(request: httpx.Request) -> httpx.Response:
    number = request.url.path.rsplit("/", 1)[-1]
    if number in PATIENTS:
        return fhir(200, PATIENTS[number])
    if number == "9000000017":  # superseded: the record comes back under its current number
        return fhir(200, PATIENTS["9000000009"])
    if number == "9000000041":
        return fhir(404, fixture("pds/error_INVALIDATED_RESOURCE.json"))
    if number == "9000000000":
        return fhir(400, fixture("pds/error_INVALID_RESOURCE_ID.json"))
    return fhir(404, fixture("pds/error_RESOURCE_NOT_FOUND.json"))


def deadline() -> float:
    return time.monotonic() + 2


async def verify(number: str) -> tuple[PdsVerification, RecordingTransport]:
    transport = RecordingTransport(pds_sandbox)
    async with transport.client() as client:
        result = await PdsClient(partner_http(client)).verify(number, deadline=deadline())
    return result, transport


async def test_found_unrestricted() -> None:
    result, transport = await verify("9000000009")
    assert result == PdsVerification(found=True, nhs_number="9000000009")
    (request,) = transport.requests
    assert request.url.path == "/FHIR/R4/Patient/9000000009"
    assert request.headers["accept"] == "application/fhir+json"
    assert len(request.headers["x-request-id"]) == 36


async def test_restricted_is_reported() -> None:
    result, _ = await verify("9000000025")
    assert result.model_dump() == {
        "found": True,
        "invalidated": False,
        "nhs_number": "9000000025",
        "superseded": False,
        "restricted": True,
    }


async def test_minimal_record_is_found() -> None:
    result, _ = await verify("9000000033")
    assert result.found
    assert not result.restricted


async def test_superseded_number_returns_the_current_one() -> None:
    result, _ = await verify("9000000017")
    assert (result.found, result.nhs_number, result.superseded) == (True, "9000000009", True)


async def test_not_found_and_invalidated() -> None:
    missing, _ = await verify("9111231130")
    assert (missing.found, missing.invalidated) == (False, False)
    invalidated, _ = await verify("9000000041")
    assert (invalidated.found, invalidated.invalidated) == (False, True)


async def test_pds_refusing_the_number_is_bad_data() -> None:
    with pytest.raises(PartnerBadResponse, match="status_400"):
        await verify("9000000000")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.update(resourceType="Practitioner"), "wrong_resource_type"),
        (lambda p: p.update(id=["not", "a", "string"]), "malformed_resource"),
        (lambda p: p["identifier"][0].update(value="9912003890"), "invalid_nhs_number"),
        (lambda p: p.update(identifier=[]), "no_nhs_number"),
        (lambda p: p.update(id="9000000025"), "identifier_mismatch"),
    ],
)
async def test_payloads_that_cannot_be_trusted_are_bad_data(
    mutate: Callable[[dict[str, Any]], None], reason: str
) -> None:
    patient = copy.deepcopy(PATIENTS["9000000009"])
    mutate(patient)
    transport = RecordingTransport(lambda request: fhir(200, patient))
    async with transport.client() as client:
        with pytest.raises(PartnerBadResponse) as caught:
            await PdsClient(partner_http(client)).verify("9000000009", deadline=deadline())
    assert caught.value.reason == reason


def search_returning(response: httpx.Response) -> RecordingTransport:
    return RecordingTransport(lambda request: response)


async def trace(transport: RecordingTransport, postcode: str | None = "LS1 6AE") -> PdsTrace:
    person = Demographics(
        family="Smith", given="Jane", birth_date=date(2010, 10, 22), postcode=postcode
    )
    async with transport.client() as client:
        return await PdsClient(partner_http(client)).trace(person, deadline=deadline())


async def test_trace_unique_match_names_the_person() -> None:
    transport = search_returning(fhir(200, fixture("pds/PatientSearch.json")))
    result = await trace(transport)
    assert (result.outcome, result.nhs_number, result.restricted) == (
        PdsTraceOutcome.unique,
        "9000000009",
        False,
    )
    (request,) = transport.requests
    assert dict(request.url.params) == {
        "family": "Smith",
        "given": "Jane",
        "birthdate": "eq2010-10-22",
        "address-postalcode": "LS1 6AE",
    }


async def test_trace_several_matches_is_ambiguous_and_names_no_one() -> None:
    bundle = fixture("pds/PatientSearch.json")
    bundle["entry"] = bundle["entry"] * 2
    result = await trace(search_returning(fhir(200, bundle)))
    assert result.model_dump() == {
        "outcome": PdsTraceOutcome.ambiguous,
        "nhs_number": None,
        "restricted": False,
        "score": None,
    }
    too_many = await trace(
        search_returning(fhir(200, fixture("pds/error_TOO_MANY_MATCHES.json"))), postcode=None
    )
    assert too_many.outcome == PdsTraceOutcome.ambiguous


async def test_trace_no_match() -> None:
    empty = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    result = await trace(search_returning(fhir(200, empty)))
    assert result.outcome == PdsTraceOutcome.none
