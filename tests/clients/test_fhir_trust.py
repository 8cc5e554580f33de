"""The trust FHIR adapter: safety-alert Flags and the crisis CarePlan, in the partnership profile."""

import copy
import time
from collections.abc import Callable
from datetime import date
from datetime import time as dt_time
from typing import Any

import httpx
import pytest

from clients.errors import PartnerBadResponse
from clients.fhir_trust import (
    APPROACH_ADVICE,
    CATEGORY_SYSTEM,
    CLINICAL,
    CRISIS_CONTACT,
    LEVEL_SYSTEM,
    FhirTrustClient,
)
from models.contact_hours import ContactHours, HoursPeriod, Weekday
from models.partner import (
    AlertCategory,
    AlertLevel,
    CrisisContact,
    SafetyAlert,
    TrustRecord,
    UnmappedAlert,
)
from tests.partners import RecordingTransport, fhir, fixture, partner_http

NHS = "9000000009"
SUBJECT = {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}}


def flag(category: str, level: str) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "status": "active",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}],
        "code": {"coding": [{"system": LEVEL_SYSTEM, "code": level}]},
        "subject": SUBJECT,
    }


def parts(**values: str) -> list[dict[str, str]]:
    return [{"url": name.replace("_", "-"), "valueString": value} for name, value in values.items()]


CARE_PLAN: dict[str, Any] = {
    "resourceType": "CarePlan",
    "status": "active",
    "intent": "plan",
    "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "736253002"}]}],
    "meta": {"lastUpdated": "2026-10-01T10:00:00+00:00"},
    "subject": SUBJECT,
    "period": {"end": "2027-03-01"},
    "extension": [
        {
            "url": APPROACH_ADVICE,
            "valueString": "Speak calmly, use his first name, give him space.",
        },
        {
            "url": CRISIS_CONTACT,
            "extension": parts(
                team="Leeds crisis team",
                phone="0113 555 0100",
                hours="Mon-Fri 09:00-17:00",
                out_of_hours="0800 555 0199",
            ),
        },
        {
            "url": CLINICAL,
            "extension": parts(
                triggers="Anniversaries", what_helps="His sister", mha_status="Informal"
            ),
        },
    ],
}


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def trust(flags: list[dict[str, Any]], plans: list[dict[str, Any]]) -> RecordingTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        resources = flags if request.url.path.endswith("/Flag") else plans
        return fhir(200, bundle(*resources))

    return RecordingTransport(answer)


async def record(transport: RecordingTransport) -> TrustRecord:
    async with transport.client() as client:
        return await FhirTrustClient(partner_http(client, name="trust-RQI"), "RQI").crisis_record(
            NHS, deadline=time.monotonic() + 2
        )


async def test_alerts_and_plan_are_read_in_parallel_searches() -> None:
    # A flag of another kind (a reasonable adjustment), about the same person: kept, unread.
    other_kind = fixture("flags/Bundle-NHSE-PatientFlag-RA-searchset.json")["entry"][0]["resource"]
    other_kind = other_kind | {"subject": SUBJECT}
    transport = trust(
        [flag("risk-to-self", "high"), flag("risk-to-others", "low"), other_kind], [CARE_PLAN]
    )
    result = await record(transport)
    assert result.known
    assert result.alerts == [
        SafetyAlert(category=AlertCategory.risk_to_self, level=AlertLevel.high),
        SafetyAlert(category=AlertCategory.risk_to_others, level=AlertLevel.low),
    ]
    assert result.unmapped_alerts == [UnmappedAlert()]
    assert result.plan is not None
    assert result.plan.custodian_code == "RQI"
    assert result.plan.review_date == date(2027, 3, 1)
    assert result.plan.approach_advice == "Speak calmly, use his first name, give him space."
    assert result.plan.crisis_contact is not None
    assert result.plan.crisis_contact.out_of_hours == "0800 555 0199"
    assert result.plan.clinical.what_helps == "His sister"
    paths = sorted(request.url.path for request in transport.requests)
    assert paths == ["/FHIR/R4/CarePlan", "/FHIR/R4/Flag"]
    careplan = next(r for r in transport.requests if r.url.path.endswith("CarePlan"))
    assert careplan.url.params["category"] == "http://snomed.info/sct|736253002"


async def test_unknown_person_is_not_known() -> None:
    result = await record(trust([], []))
    assert result == TrustRecord(organisation_code="RQI", known=False)


async def test_an_unrecognised_level_or_category_is_kept_unread_never_dropped() -> None:
    result = await record(
        trust([flag("risk-from-others", "severe"), flag("risk-to-pets", "high")], [])
    )
    assert result.known
    assert result.alerts == []
    assert result.unmapped_alerts == [
        UnmappedAlert(category=AlertCategory.risk_from_others),
        UnmappedAlert(category=None),
    ]


def _plan(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    plan = copy.deepcopy(CARE_PLAN)
    change(plan)
    return plan


@pytest.mark.parametrize(
    ("flags", "plans", "reason"),
    [
        (
            [
                flag("risk-to-self", "high")
                | {"subject": {"identifier": {**SUBJECT["identifier"], "value": "9912003890"}}}
            ],
            [],
            "invalid_nhs_number",
        ),
        (
            [],
            [_plan(lambda p: p["subject"]["identifier"].update(value="9000000025"))],
            "wrong_subject",
        ),
        ([], [CARE_PLAN, CARE_PLAN], "several_active_plans"),
        (
            [],
            [_plan(lambda p: p["extension"][0].update(valueString="x" * 501))],
            "approach_advice_too_long",
        ),
        (
            [],
            [
                _plan(
                    lambda p: p["extension"][1].update(
                        extension=parts(team="T", phone="0113 555 0100")
                    )
                )
            ],
            "incomplete_crisis_contact",
        ),
        ([], [_plan(lambda p: p.update(period={"end": "not a date"}))], "malformed_resource"),
    ],
)
async def test_records_that_cannot_be_trusted_are_bad_data(
    flags: list[dict[str, Any]], plans: list[dict[str, Any]], reason: str
) -> None:
    with pytest.raises(PartnerBadResponse) as caught:
        await record(trust(flags, plans))
    assert caught.value.reason == reason


# Crisis contact hours: the partner's words, read into a schedule and an out-of-hours number


def _contact_plan(hours: str, out_of_hours: str) -> dict[str, Any]:
    return _plan(
        lambda p: p["extension"][1].update(
            extension=parts(
                team="Leeds crisis team",
                phone="0113 555 0100",
                hours=hours,
                out_of_hours=out_of_hours,
            )
        )
    )


@pytest.mark.parametrize(
    ("hours", "out_of_hours", "schedule", "out_of_hours_phone"),
    [
        (
            "Mon-Fri 09:00-17:00",
            "Crisis line 0800 555 0199, 24 hours",
            ContactHours(
                periods=(
                    HoursPeriod(
                        days=(Weekday.mon, Weekday.tue, Weekday.wed, Weekday.thu, Weekday.fri),
                        opens=dt_time(9),
                        closes=dt_time(17),
                    ),
                )
            ),
            "0800 555 0199",
        ),
        ("24 hours", "0800 555 0199", ContactHours(always=True), "0800 555 0199"),
        ("Office hours", "NHS 111, option 2", None, None),
        ("9-5", "0113 555 0100 or 0800 555 0199", None, None),
    ],
)
async def test_contact_hours_are_read_from_the_words_and_kept_as_written(
    hours: str, out_of_hours: str, schedule: ContactHours | None, out_of_hours_phone: str | None
) -> None:
    result = await record(trust([], [_contact_plan(hours, out_of_hours)]))
    assert result.plan is not None
    assert result.plan.crisis_contact == CrisisContact(
        team="Leeds crisis team",
        phone="0113 555 0100",
        hours=hours,
        out_of_hours=out_of_hours,
        schedule=schedule,
        out_of_hours_phone=out_of_hours_phone,
    )


async def test_a_contact_part_named_like_a_field_of_ours_is_not_taken_as_one() -> None:
    plan = _contact_plan("Office hours", "NHS 111, option 2")
    plan["extension"][1]["extension"] += parts(
        schedule="always", out_of_hours_phone="0800 555 0100"
    )
    result = await record(trust([], [plan]))
    assert result.plan is not None
    assert result.plan.crisis_contact is not None
    assert result.plan.crisis_contact.schedule is None
    assert result.plan.crisis_contact.out_of_hours_phone is None


# The patient index: whether the trust cares for the person at all


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], False),
        ([fixture("pds/Patient.json")], True),
    ],
)
async def test_the_patient_index_says_whether_the_trust_cares_for_the_person(
    entries: list[dict[str, Any]], expected: bool
) -> None:
    transport = RecordingTransport(
        lambda request: fhir(
            200,
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": e} for e in entries],
            },
        )
    )
    trust = FhirTrustClient(partner_http(transport.client(), "trust-rqi"), "RQI")
    assert await trust.knows_patient(NHS, deadline=time.monotonic() + 1) is expected
    [request] = transport.requests
    assert request.url.path.endswith("/Patient")
    assert request.url.params["identifier"] == f"https://fhir.nhs.uk/Id/nhs-number|{NHS}"


async def test_a_patient_index_answering_about_someone_else_is_bad_data() -> None:
    someone_else = fixture("pds/Minimal_Patient.json")  # 9000000033
    transport = RecordingTransport(
        lambda request: fhir(200, {"resourceType": "Bundle", "entry": [{"resource": someone_else}]})
    )
    trust = FhirTrustClient(partner_http(transport.client(), "trust-rqi"), "RQI")
    with pytest.raises(PartnerBadResponse) as caught:
        await trust.knows_patient(NHS, deadline=time.monotonic() + 1)
    assert caught.value.reason == "wrong_subject"


# A page is not the whole answer


@pytest.mark.parametrize(
    "bundle",
    [
        {"resourceType": "Bundle", "type": "searchset", "total": 3, "entry": []},
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": [{"relation": "next", "url": "https://rqi.test/FHIR/R4/Flag?page=2"}],
            "entry": [{"resource": flag("risk-to-self", "low")}],
        },
    ],
    ids=["count-only", "first-page"],
)
async def test_a_count_only_or_first_page_answer_is_bad_data_not_nothing_held(
    bundle: dict[str, Any],
) -> None:
    transport = RecordingTransport(lambda request: fhir(200, bundle))
    trust = FhirTrustClient(partner_http(transport.client(), "trust-rqi"), "RQI")
    with pytest.raises(PartnerBadResponse) as caught:
        await trust.crisis_record(NHS, deadline=time.monotonic() + 1)
    assert caught.value.reason == "incomplete_searchset"
