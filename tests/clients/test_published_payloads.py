"""Published NHS England example payloads, served byte for byte, through the partner adapters.

Each file is in tests/fixtures/ with its repository, path and commit in tests/fixtures/README.md.
They were written by people other than us, so they carry the shapes our own fixtures forget: scores
below 1, several matches, restricted records, an NHS number that fails Modulus 11, errors that are
not "nothing known", flags coded outside our partnership's lists.
"""

import json
import time
from datetime import date
from typing import Any

import httpx
import pytest

from clients.errors import PartnerBadResponse
from clients.fhir_trust import FhirTrustClient
from clients.nrl import NrlClient
from clients.pds import PdsClient
from models.partner import (
    CrisisPlanPointer,
    Demographics,
    NrlResult,
    PdsTrace,
    PdsTraceOutcome,
    PdsVerification,
    TrustRecord,
    UnmappedAlert,
)
from tests.partners import FIXTURES, RecordingTransport, fixture, partner_http

ANY_PERSON = Demographics(family="Smith", given="Jane", birth_date=date(2010, 10, 22))


def published(status: int, relative: str) -> httpx.Response:
    """The file's own bytes, not a re-serialisation: what the partner publishes is what we parse."""
    return httpx.Response(
        status,
        content=(FIXTURES / relative).read_bytes(),
        headers={"content-type": "application/fhir+json"},
    )


def searchset(*resources: dict[str, Any]) -> httpx.Response:
    """A searchset around published resources that were published one by one."""
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource} for resource in resources],
    }
    return httpx.Response(
        200, content=json.dumps(bundle).encode(), headers={"content-type": "application/fhir+json"}
    )


def answering(response: httpx.Response) -> RecordingTransport:
    return RecordingTransport(lambda request: response)


def deadline() -> float:
    return time.monotonic() + 2


# PDS


async def trace(response: httpx.Response) -> PdsTrace:
    async with answering(response).client() as client:
        return await PdsClient(partner_http(client)).trace(ANY_PERSON, deadline=deadline())


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # The sandbox's own search result scores 0.75: a probable match, not a verified one.
        ("pds/PatientSearch.json", ("9000000009", False, 0.75)),
        ("pds/Minimal_PatientSearch.json", ("9000000033", False, 0.75)),
        ("pds/Sensitive_PatientSearch.json", ("9000000025", True, 0.75)),
        ("pds/rodney_godsoe_searchset.json", ("9693632125", True, 1)),
        ("pds/med_rowenad_searchset.json", ("9733162450", False, 0.6806)),
        # PDS answers a search with the retained record, never the superseded one.
        ("pds/cuff_superseded_searchset.json", ("9732019395", False, 1)),
    ],
)
async def test_pds_single_match_names_the_person_with_its_score_and_restriction(
    payload: str, expected: tuple[str, bool, float]
) -> None:
    nhs_number, restricted, score = expected
    assert await trace(published(200, payload)) == PdsTrace(
        outcome=PdsTraceOutcome.unique, nhs_number=nhs_number, restricted=restricted, score=score
    )


@pytest.mark.parametrize(
    "payload",
    [
        "pds/pauline_attison_searchset.json",  # two matches, 0.9317 and 0.9077
        "pds/mock_multiple_searchset.json",  # two exact matches, both scored 1
        "pds/youds_searchset.json",  # four exact matches
    ],
)
async def test_pds_several_matches_are_ambiguous_and_name_no_one(payload: str) -> None:
    result = await trace(published(200, payload))
    assert result == PdsTrace(outcome=PdsTraceOutcome.ambiguous)


async def test_pds_too_many_matches_comes_as_a_200_operation_outcome_and_is_ambiguous() -> None:
    result = await trace(published(200, "pds/error_TOO_MANY_MATCHES.json"))
    assert result == PdsTrace(outcome=PdsTraceOutcome.ambiguous)


async def test_pds_search_result_with_an_nhs_number_failing_modulus_11_is_bad_data() -> None:
    # The sandbox's compound-name example carries 9000000015, which fails the check digit.
    with pytest.raises(PartnerBadResponse) as caught:
        await trace(published(200, "pds/PatientCompoundName.json"))
    assert caught.value.reason == "invalid_nhs_number"


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (400, "pds/error_INVALID_SEARCH_DATA.json"),
        (401, "pds/error_ACCESS_DENIED.json"),
    ],
)
async def test_pds_search_errors_are_bad_responses_never_no_match(
    status: int, payload: str
) -> None:
    with pytest.raises(PartnerBadResponse) as caught:
        await trace(published(status, payload))
    assert caught.value.reason == f"status_{status}"


async def verify(requested: str, response: httpx.Response) -> PdsVerification:
    async with answering(response).client() as client:
        return await PdsClient(partner_http(client)).verify(requested, deadline=deadline())


@pytest.mark.parametrize(
    ("requested", "status", "payload", "expected"),
    [
        (
            "9000000025",
            200,
            "pds/Sensitive_Patient.json",
            PdsVerification(found=True, nhs_number="9000000025", restricted=True),
        ),
        # PDS answers a superseded number with the current record; only its id tells.
        (
            "9000000017",
            200,
            "pds/Patient.json",
            PdsVerification(found=True, nhs_number="9000000009", superseded=True),
        ),
        ("9111231130", 404, "pds/error_RESOURCE_NOT_FOUND.json", PdsVerification(found=False)),
        (
            "9000000041",
            404,
            "pds/error_INVALIDATED_RESOURCE.json",
            PdsVerification(found=False, invalidated=True),
        ),
    ],
)
async def test_pds_verify_reads_published_records_and_outcomes(
    requested: str, status: int, payload: str, expected: PdsVerification
) -> None:
    assert await verify(requested, published(status, payload)) == expected


@pytest.mark.parametrize(
    ("status", "payload", "reason"),
    [
        (400, "pds/error_INVALID_RESOURCE_ID.json", "status_400"),
        (401, "pds/error_ACCESS_DENIED.json", "status_401"),
        # A search result where a record was asked for: not a patient, whatever it holds.
        (200, "pds/Sensitive_PatientSearch.json", "wrong_resource_type"),
    ],
)
async def test_pds_verify_refusals_are_bad_responses_never_not_found(
    status: int, payload: str, reason: str
) -> None:
    with pytest.raises(PartnerBadResponse) as caught:
        await verify("9000000009", published(status, payload))
    assert caught.value.reason == reason


# NRL


async def pointers(response: httpx.Response, nhs_number: str) -> NrlResult:
    async with answering(response).client() as client:
        return await NrlClient(partner_http(client, name="nrl")).crisis_plan_pointers(
            nhs_number, deadline=deadline()
        )


async def test_nrl_several_published_pointers_all_come_back() -> None:
    result = await pointers(
        searchset(
            fixture("nrl/nrlf_RQI-736253002-Valid.json"),
            fixture("nrl/nrlf_Y05868-736253002-Valid.json"),
            fixture("nrl/nrlf_Y05868-736253002-Valid-with-ssp-content.json"),
        ),
        "6700028191",
    )
    assert result.known
    assert [(p.custodian_code, p.url is not None, p.contact_details) for p in result.pointers] == [
        ("RQI", True, False),
        ("Y05868", True, False),
        ("Y05868", True, False),
    ]
    # The SSP pointer is fetched through the Spine Secure Proxy; its address is kept as given.
    assert result.pointers[2].url is not None
    assert result.pointers[2].url.startswith("ssp://")


async def test_nrl_nrlf_consumer_search_example() -> None:
    result = await pointers(
        published(200, "nrl/nrlf_consumer_swagger_search_GET_example.json"), "4409815415"
    )
    assert result == NrlResult(
        known=True,
        pointers=[
            CrisisPlanPointer(
                custodian_code="Y05868",
                title="Physical",
                url="https://spine-proxy.national.ncrs.nhs.uk/p1.nhs.uk/EPAACS/MentalHealthCrisisPlan.pdf",
                content_type="application/pdf",
                created="2022-12-20T09:45:41+11:00",
            )
        ],
    )


async def test_nrl_pointer_of_another_record_type_is_left_out_beside_a_crisis_plan() -> None:
    crisis_plan = fixture("nrl/nrl_consumer_R4_fullResponse.json")["entry"][0]["resource"]
    emergency_plan = fixture("nrl/nrl_consumer_R4_read_887701000000100.json")
    result = await pointers(searchset(emergency_plan, crisis_plan), "9000000017")
    assert [pointer.custodian_code for pointer in result.pointers] == ["X26"]


async def test_nrl_pointer_for_someone_else_is_bad_data() -> None:
    with pytest.raises(PartnerBadResponse) as caught:
        await pointers(published(200, "nrl/nrl_consumer_R4_fullResponse.json"), "6700028191")
    assert caught.value.reason == "wrong_subject"


async def test_nrl_count_only_answer_is_not_known_with_no_pointers() -> None:
    # total 1 and no entries: a pointer exists that this answer does not carry.
    with pytest.raises(PartnerBadResponse) as caught:
        await pointers(
            published(200, "nrl/nrl_consumer_R4_countSummaryResponse.json"), "9000000017"
        )
    assert caught.value.reason == "incomplete_searchset"


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (400, "nrl/nrl_consumer_R4_search_error_INVALID_PARAMETER.json"),
        (400, "nrl/nrl_consumer_R4_search_error_MESSAGE_NOT_WELL_FORMED.json"),
        # "no pointers within requesting app" is a refusal to answer, not an answer of none.
        (403, "nrl/nrl_consumer_sandbox_403NoPointers.json"),
        (404, "nrl/nrl_consumer_R4_read_error_VALIDATION_ERROR.json"),
    ],
)
async def test_nrl_errors_are_bad_responses_never_no_record(status: int, payload: str) -> None:
    with pytest.raises(PartnerBadResponse) as caught:
        await pointers(published(status, payload), "9000000017")
    assert caught.value.reason == f"status_{status}"


# A trust's FHIR endpoint serving NHS England and UK Core resources instead of our profile


def served(payload: str) -> httpx.Response:
    """A published searchset as it is; a resource published on its own, inside a searchset."""
    if fixture(payload)["resourceType"] == "Bundle":
        return published(200, payload)
    return searchset(fixture(payload))


async def trust_record(flags: str | None = None, plans: str | None = None) -> TrustRecord:
    def answer(request: httpx.Request) -> httpx.Response:
        payload = flags if request.url.path.endswith("/Flag") else plans
        return served(payload) if payload is not None else searchset()

    async with RecordingTransport(answer).client() as client:
        return await FhirTrustClient(partner_http(client, name="trust-rqi"), "RQI").crisis_record(
            "9000000009", deadline=deadline()
        )


async def test_trust_active_flag_coded_outside_our_lists_is_unmapped_not_dropped() -> None:
    # An FGM flag: no category, a SNOMED code; whatever it means, the person is known here.
    result = await trust_record(flags="flags/FGM-BundleWithFoundFlag-Example.json")
    assert result == TrustRecord(
        organisation_code="RQI", known=True, alerts=[], unmapped_alerts=[UnmappedAlert()]
    )


@pytest.mark.parametrize(
    "flags", ["flags/FGM-BundleWithNoFlag-Example.json", "flags/FGM-RemovedFlag-Example.json"]
)
async def test_trust_no_flag_or_a_flag_entered_in_error_is_not_known(flags: str) -> None:
    assert await trust_record(flags=flags) == TrustRecord(organisation_code="RQI", known=False)


@pytest.mark.parametrize(
    ("flags", "plans"),
    [
        ("flags/UKCore-Flag-FoodAllergy-Example.json", None),
        ("flags/BaRS-FLA05-Flag-Scene-Safe2.json", None),  # "the scene is unsafe": a weapon
        ("flags/Bundle-NHSE-PatientFlag-RA-searchset.json", None),
        ("flags/cpis_programme_flag_example_R4.json", None),
    ],
)
async def test_trust_resource_naming_its_subject_only_by_reference_is_bad_data(
    flags: str | None, plans: str | None
) -> None:
    """These examples point at `Patient/<id>` or a `urn:uuid`, not an NHS number: we cannot tell
    whose they are, so the trust's answer is "could not check", never a record without them."""
    with pytest.raises(PartnerBadResponse) as caught:
        await trust_record(flags=flags, plans=plans)
    assert caught.value.reason == "no_nhs_number"


async def test_trust_answering_with_a_plan_that_is_not_a_crisis_plan_shows_no_crisis_plan() -> None:
    """A trust that ignores the search's category filter: its wellness plan is not shown as the
    person's crisis plan."""
    record = await trust_record(plans="careplans/UKCore-CarePlan-WellnessPlan-Example.json")
    assert record == TrustRecord(organisation_code="RQI", known=False)
