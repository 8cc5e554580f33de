"""The NRL adapter against the published NRL pointers."""

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clients.errors import PartnerBadResponse
from clients.nrl import NrlClient
from models.partner import CrisisPlanPointer, NrlResult
from tests.partners import RecordingTransport, fhir, fixture, partner_http

RQI_POINTER = fixture("nrl/nrlf_RQI-736253002-Valid.json")  # subject 6700028191
NO_RECORD = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "information",
            "code": "not-found",
            "details": {"coding": [{"code": "NO_RECORD_FOUND"}]},
        }
    ],
}


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource} for resource in resources],
    }


async def search(
    response: httpx.Response, nhs_number: str = "6700028191"
) -> tuple[NrlResult, RecordingTransport]:
    transport = RecordingTransport(lambda request: response)
    async with transport.client() as client:
        result = await NrlClient(partner_http(client, name="nrl")).crisis_plan_pointers(
            nhs_number, deadline=time.monotonic() + 2
        )
    return result, transport


async def test_pointer_found_by_post_with_the_number_in_the_body_only() -> None:
    result, transport = await search(fhir(200, searchset(RQI_POINTER)))
    assert result == NrlResult(
        known=True,
        pointers=[
            CrisisPlanPointer(
                custodian_code="RQI",
                title="Mental health crisis plan report",
                url=RQI_POINTER["content"][0]["attachment"]["url"],
                content_type="application/pdf",
                contact_details=False,
                created="2022-12-21T10:45:41+11:00",
            )
        ],
    )
    (request,) = transport.requests
    assert request.method == "POST"
    assert request.url.path == "/FHIR/R4/DocumentReference/_search"
    assert "6700028191" not in str(request.url)
    assert json.loads(request.content) == {
        "subject:identifier": "https://fhir.nhs.uk/Id/nhs-number|6700028191",
        "type": "http://snomed.info/sct|736253002",
    }


async def test_known_with_no_pointers_differs_from_not_known() -> None:
    known, _ = await search(fhir(200, searchset()))
    assert known == NrlResult(known=True, pointers=[])
    unknown, _ = await search(fhir(404, NO_RECORD))
    assert unknown == NrlResult(known=False)


async def test_consumer_example_bundle_parses() -> None:
    bundle = fixture("nrl/nrl_consumer_R4_fullResponse.json")
    result, _ = await search(fhir(200, bundle), nhs_number="9000000017")
    assert [pointer.custodian_code for pointer in result.pointers] == ["X26"]


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    pointer = copy.deepcopy(RQI_POINTER)
    change(pointer)
    return pointer


async def test_other_record_types_and_superseded_pointers_are_left_out() -> None:
    respect = _with(lambda p: p["type"]["coding"][0].update(code="1382601000000107"))
    superseded = _with(lambda p: p.update(status="superseded"))
    contact = _with(lambda p: p["content"][0]["format"].update(code="urn:nhs-ic:record-contact"))
    result, _ = await search(fhir(200, searchset(respect, superseded, contact)))
    assert len(result.pointers) == 1
    assert result.pointers[0].contact_details is True


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p["subject"]["identifier"].update(value="9912003890"), "invalid_nhs_number"),
        (lambda p: p["subject"]["identifier"].update(value="9000000009"), "wrong_subject"),
        (lambda p: p.pop("custodian"), "malformed_resource"),
        (lambda p: p.update(content=[]), "malformed_resource"),
        (lambda p: p.update(resourceType="Binary"), "wrong_resource_type"),
    ],
)
async def test_pointers_that_cannot_be_trusted_are_bad_data(
    change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    with pytest.raises(PartnerBadResponse) as caught:
        await search(fhir(200, searchset(_with(change))))
    assert caught.value.reason == reason


async def test_unexpected_statuses_are_bad_data() -> None:
    with pytest.raises(PartnerBadResponse, match="status_403"):
        await search(fhir(403, {"resourceType": "OperationOutcome", "issue": []}))
