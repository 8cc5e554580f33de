"""The crisis flag lookup, end to end: real tokens, real database, partners faked at the transport."""

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.lookup import merge
from api.settings import Settings
from tests import lookups
from tests.conftest import METRICS, Exchanger, bearer
from tests.lookups import look_up, scene, with_faked_partners
from tests.partners import HOSTS, FakePartners, fhir, fixture

OFFICER_KEYS = {
    "view",
    "lookup_id",
    "looked_up_at",
    "person",
    "known_to_services",
    "crisis_plan",
    "safety_alerts",
    "highest_recorded",
    "unread_alerts",
    "plans",
    "custodians",
    "sources",
}
PLAN_KEYS = {
    "custodian",
    "last_reviewed",
    "review_due",
    "stale",
    "approach_advice",
    "crisis_contact",
}
CLINICAL_WORDS = (
    "Anniversary",
    "Informal patient",
    "triggers",
    "mha_status",
    "clinical",
    "documents",
    "url",
)

partners = lookups.partners
partner_transport = lookups.partner_transport


def _small_quotas(document: dict[str, Any]) -> None:
    document["agreement"]["lookup_quotas"] = {
        "per_user_per_hour": 6,
        "per_organisation_per_day": 1000,
        "people_per_incident": 3,
    }


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path, _small_quotas, lookup_deadline_seconds=0.8)


def statuses(answer: dict[str, Any]) -> dict[str, str]:
    """Each source's status; a source asked again under a replaced number's successor is
    `name@current`."""
    return {
        source["name"] + ("@current" if source["under"] == "current" else ""): source["status"]
        for source in answer["sources"]
    }


async def test_officer_is_told_what_helps_and_nothing_clinical(
    exchanger: Exchanger, connection: AsyncConnection, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    response = await look_up(exchanger, incident_id, {"nhs_number": "9000000009"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == OFFICER_KEYS
    assert answer["view"] == "officer"
    assert not any(word in response.text for word in CLINICAL_WORDS)
    assert answer["person"] == {
        "identification": "verified",
        "demographics_restricted": False,
        "nhs_number": "9000000009",
        "nhs_number_asked": "9000000009",
        "number_changed": False,
        "check": None,
    }
    assert answer["known_to_services"] == "yes"
    assert answer["crisis_plan"] == "present"
    assert answer["safety_alerts"] == {
        "risk_to_self": "high",
        "risk_to_others": "low",
        "risk_from_others": "not_recorded",
    }
    assert answer["unread_alerts"] == []
    [plan] = answer["plans"]
    assert set(plan) == PLAN_KEYS
    assert plan["approach_advice"] == "Speak calmly; he responds to his first name, Alan."
    contact = plan["crisis_contact"]
    assert (contact["team"], contact["phone"], contact["hours"], contact["out_of_hours"]) == (
        "Crisis resolution team",
        "0113 555 0100",
        "24 hours",
        "0800 555 0199",
    )
    assert contact["call_now"]["phone"] == "0113 555 0100"
    rqi = {"organisation_code": "RQI", "name": "Northshire Mental Health NHS Foundation Trust"}
    assert plan["custodian"] == rqi
    assert answer["custodians"] == [rqi]
    assert (plan["review_due"], plan["stale"]) == ("2027-03-01", False)
    assert statuses(answer) == {
        "pds": "found",
        "nrl": "found",
        "trust-rqi": "found",
        "trust-y05868": "not_found",
        "local": "not_found",
    }
    # The NHS number travelled to NRL in a body, and to no partner in our logs.
    nrl = next(r for r in partners.requests if r.url.host == "nrl.test")
    assert "9000000009" not in str(nrl.url)

    await connection.execute(text("RESET ROLE"))
    event = (
        await connection.execute(
            text(
                "SELECT person_id, data_classes, source_systems, details FROM audit_event"
                " WHERE action = 'crisis_flag.lookup' AND incident_id = :id"
            ),
            {"id": incident_id},
        )
    ).one()
    assert event.person_id is not None
    assert event.data_classes == [
        "crisis_flag",
        "crisis_plan_exists",
        "safety_alerts",
        "crisis_contact",
        "approach_advice",
    ]
    assert sorted(event.source_systems) == ["local", "nrl", "pds", "trust-rqi", "trust-y05868"]
    assert event.details["sources"]["trust-rqi"] == "found"
    notified = (
        await connection.execute(
            text(
                "SELECT organisation_code, actor_role, cad_reference, break_glass FROM access_notification WHERE incident_id = :id"
            ),
            {"id": incident_id},
        )
    ).all()
    assert [tuple(row) for row in notified] == [("RQI", "officer", "LP-20261121-0412", False)]


async def test_practitioner_sees_own_trusts_plan_content(exchanger: Exchanger) -> None:
    incident_id = await scene(exchanger, trust="RQI")
    answer = (
        await look_up(
            exchanger, incident_id, {"nhs_number": "9000000009"}, "mh_practitioner", "RQI"
        )
    ).json()
    assert answer["view"] == "practitioner"
    assert answer["plans"][0]["clinical"]["triggers"] == "Anniversary of his brother's death"
    assert [document["custodian_code"] for document in answer["documents"]] == ["RQI"]


async def test_another_trusts_practitioner_needs_break_glass(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await scene(exchanger, trust="Y05868")
    plain = (
        await look_up(
            exchanger, incident_id, {"nhs_number": "9000000009"}, "mh_practitioner", "Y05868"
        )
    ).json()
    assert plain["plans"][0]["clinical"] is None
    assert plain["documents"] == []
    # What police may see, the practitioner may too.
    assert plain["plans"][0]["approach_advice"] is not None

    glass = await look_up(
        exchanger,
        incident_id,
        {"nhs_number": "9000000009"},
        "mh_practitioner",
        "Y05868",
        purpose="break-glass",
        justification="Person on the railway bridge; plan held by Northshire trust",
    )
    assert glass.status_code == 200, glass.text
    assert glass.json()["plans"][0]["clinical"]["mha_status"] == "Informal patient"
    await connection.execute(text("RESET ROLE"))
    flagged = (
        (
            await connection.execute(
                text(
                    "SELECT break_glass FROM access_notification WHERE incident_id = :id ORDER BY created_at"
                ),
                {"id": incident_id},
            )
        )
        .scalars()
        .all()
    )
    assert flagged == [False, True]


async def test_restricted_person_is_marked_and_never_located(exchanger: Exchanger) -> None:
    incident_id = await scene(exchanger)
    response = await look_up(exchanger, incident_id, {"nhs_number": "9000000025"})
    answer = response.json()
    assert answer["person"]["demographics_restricted"] is True
    assert answer["safety_alerts"]["risk_from_others"] == "high"
    assert answer["plans"][0]["stale"] is True  # review date 2026-06-01 has passed
    for word in ("address", "postalCode", "telecom", "line"):
        assert word not in response.text


async def test_known_to_no_one_is_no(exchanger: Exchanger) -> None:
    incident_id = await scene(exchanger)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": "9000000033"})).json()
    assert (answer["known_to_services"], answer["crisis_plan"]) == ("no", "absent")
    assert answer["safety_alerts"] == {
        "risk_to_self": "not_recorded",
        "risk_to_others": "not_recorded",
        "risk_from_others": "not_recorded",
    }
    assert statuses(answer) == {
        "pds": "found",
        "nrl": "not_found",
        "trust-rqi": "not_found",
        "trust-y05868": "not_found",
        "local": "not_found",
    }


async def test_not_found_in_pds(exchanger: Exchanger) -> None:
    incident_id = await scene(exchanger)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": "9111231130"})).json()
    assert answer["person"]["identification"] == "not_found"
    assert statuses(answer)["pds"] == "not_found"


@pytest.mark.parametrize("fault", ["down", "hanging", "dripping"])
async def test_one_partner_failing_makes_the_answer_unknown_not_no_within_the_deadline(
    exchanger: Exchanger, partners: FakePartners, fault: str
) -> None:
    incident_id = await scene(exchanger)
    getattr(partners, fault).add("trust-rqi")
    started = time.monotonic()
    answer = (await look_up(exchanger, incident_id, {"nhs_number": "9000000033"})).json()
    elapsed = time.monotonic() - started
    assert elapsed < 2.5  # token exchange included; the lookup itself holds 0.8 s
    assert answer["known_to_services"] == "unknown"
    assert answer["crisis_plan"] == "unknown"
    assert answer["safety_alerts"]["risk_to_self"] == "unknown"
    assert statuses(answer)["trust-rqi"] == "unavailable"


async def test_all_partners_down_still_answers(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    partners.down.update({"pds", "nrl", "trust-rqi", "trust-y05868"})
    response = await look_up(exchanger, incident_id, {"nhs_number": "9000000009"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["person"]["identification"] == "unverified"
    assert answer["known_to_services"] == "unknown"
    # Only the plans written here could be read, and there are none.
    assert statuses(answer) == {
        "pds": "unavailable",
        "nrl": "unavailable",
        "trust-rqi": "unavailable",
        "trust-y05868": "unavailable",
        "local": "not_found",
    }


@pytest.mark.parametrize("fault", ["garbage", "oversized"])
async def test_bad_partner_payloads_are_errors_not_500s(
    exchanger: Exchanger, partners: FakePartners, fault: str
) -> None:
    incident_id = await scene(exchanger)
    getattr(partners, fault).add("nrl")
    response = await look_up(exchanger, incident_id, {"nhs_number": "9000000033"})
    assert response.status_code == 200
    answer = response.json()
    assert statuses(answer)["nrl"] == "error"
    assert answer["known_to_services"] == "unknown"


async def test_demographics_unique_and_ambiguous(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await scene(exchanger)
    unique = await look_up(
        exchanger,
        incident_id,
        {
            "demographics": {
                "family": "Smith",
                "given": "Jane",
                "birth_date": "2010-10-22",
                "postcode": "LS1 6AE",
            }
        },
    )
    assert unique.json()["person"]["nhs_number"] == "9000000009"
    assert unique.json()["known_to_services"] == "yes"
    ambiguous = await look_up(
        exchanger,
        incident_id,
        {"demographics": {"family": "Jones", "given": "Ann", "birth_date": "1980-01-01"}},
    )
    answer = ambiguous.json()
    assert answer["person"]["identification"] == "ambiguous"
    assert answer["person"]["nhs_number"] is None
    assert answer["known_to_services"] == "unknown"
    assert set(answer["safety_alerts"].values()) == {"unknown"}
    assert (answer["plans"], answer["custodians"]) == ([], [])
    assert [source["name"] for source in answer["sources"]] == ["pds"]  # no one else was asked


async def test_invalid_nhs_number_is_422_and_no_partner_is_called(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    response = await look_up(exchanger, incident_id, {"nhs_number": "9000000008"})
    assert response.status_code == 422
    assert "9000000008" not in response.text
    assert partners.requests == []


async def test_quotas_give_429_and_are_audited(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await scene(exchanger)
    for number in ("9000000009", "9000000025", "9000000033"):
        assert (await look_up(exchanger, incident_id, {"nhs_number": number})).status_code == 200
    fourth_person = await look_up(exchanger, incident_id, {"nhs_number": "9111231130"})
    assert fourth_person.status_code == 429
    assert fourth_person.json()["type"].endswith("/lookup-quota-exceeded")
    # The same people again are fine until the hourly limit (6).
    for _ in range(3):
        assert (
            await look_up(exchanger, incident_id, {"nhs_number": "9000000009"})
        ).status_code == 200
    hourly = await look_up(exchanger, incident_id, {"nhs_number": "9000000009"})
    assert hourly.status_code == 429
    assert hourly.headers["retry-after"] == "3600"
    await connection.execute(text("RESET ROLE"))
    refused = await connection.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE action = 'crisis_flag.refuse' AND request_id = :r"
        ),
        {"r": hourly.headers["x-request-id"]},
    )
    assert refused == 1


async def test_a_traced_person_counts_toward_the_incident_quota_before_any_record_is_asked(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    for number in ("9000000025", "9000000033", "9111231130"):
        assert (await look_up(exchanger, incident_id, {"nhs_number": number})).status_code == 200
    partners.requests.clear()
    traced = await look_up(
        exchanger,
        incident_id,
        {"demographics": {"family": "Smith", "given": "Jane", "birth_date": "2010-10-22"}},
    )
    assert traced.status_code == 429
    assert traced.json()["type"].endswith("/lookup-quota-exceeded")
    # PDS named a fourth person; no record holder was asked about them.
    assert [HOSTS[request.url.host] for request in partners.requests] == ["pds"]
    # Someone already looked up is not a new person: traced to one of the three, it is answered.
    again = await look_up(exchanger, incident_id, {"nhs_number": "9000000025"})
    assert again.status_code == 200


async def test_a_superseded_number_is_looked_up_again_under_the_current_one(
    exchanger: Exchanger,
    connection: AsyncConnection,
    partners: FakePartners,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PDS answers the old number with the record now held under 9000000009 (as it does for a
    # merged or replaced number); only the current number is known to NRL and the trust.
    answer_as_pds = partners._pds

    def superseding(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Patient/9000000017"):
            return fhir(200, fixture("pds/Patient.json"))
        return answer_as_pds(request)

    monkeypatch.setattr(partners, "_pds", superseding)
    incident_id = await scene(exchanger)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": "9000000017"})).json()
    assert answer["person"] == {
        "identification": "verified",
        "demographics_restricted": False,
        "nhs_number": "9000000009",
        "nhs_number_asked": "9000000017",
        "number_changed": True,
        "check": merge.NUMBER_CHANGED,
    }
    # Not a false "no": what the holders file under the current number is found.
    assert (answer["known_to_services"], answer["crisis_plan"]) == ("yes", "present")
    assert statuses(answer) == {
        "pds": "found",
        "nrl": "not_found",
        "trust-rqi": "not_found",
        "trust-y05868": "not_found",
        "local": "not_found",
        "nrl@current": "found",
        "trust-rqi@current": "found",
        "trust-y05868@current": "not_found",
        "local@current": "not_found",
    }
    trust_numbers = {
        request.url.params["patient.identifier"].split("|")[1]
        for request in partners.requests
        if HOSTS[request.url.host].startswith("trust-")
    }
    assert trust_numbers == {"9000000017", "9000000009"}
    await connection.execute(text("RESET ROLE"))
    audited = (
        await connection.execute(
            text(
                "SELECT person.nhs_number FROM audit_event JOIN person"
                " ON person.id = audit_event.person_id"
                " WHERE action = 'crisis_flag.lookup' AND incident_id = :id"
            ),
            {"id": incident_id},
        )
    ).scalar_one()
    assert audited == "9000000009"


async def test_only_bound_street_triage_or_break_glass_tokens_may_look_up(
    exchanger: Exchanger,
) -> None:
    incident_id = await scene(exchanger)
    url = f"/v1/incidents/{incident_id}/flag-lookups"
    for role, org, purpose in (
        ("officer", "NSP", "street-triage"),
        ("supervisor", "NSP", "supervision"),
    ):
        token = await exchanger.token(role, org, purpose)
        response = await exchanger.client.post(
            url, json={"nhs_number": "9000000009"}, headers=bearer(token)
        )
        assert response.status_code == 403


async def test_partner_metrics_are_exported(
    exchanger: Exchanger, client: httpx.AsyncClient, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    partners.down.add("trust-y05868")
    await look_up(exchanger, incident_id, {"nhs_number": "9000000009"})
    metrics = (await client.get("/metrics", headers=METRICS)).text
    assert 'triage_partner_calls_total{outcome="ok",partner="pds"}' in metrics
    assert 'triage_partner_calls_total{outcome="status_503",partner="trust-y05868"}' in metrics
    assert 'triage_partner_breaker_state{partner="nrl"} 0.0' in metrics
    assert "triage_partner_call_duration_seconds_bucket" in metrics
    assert 'triage_flag_lookups_total{known="yes"} 1.0' in metrics


async def test_trace_with_pds_down_is_unknown_not_no(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    partners.down.add("pds")
    answer = (
        await look_up(
            exchanger,
            incident_id,
            {"demographics": {"family": "Smith", "given": "Jane", "birth_date": "2010-10-22"}},
        )
    ).json()
    assert answer["person"]["identification"] == "not_traced"
    assert answer["known_to_services"] == "unknown"
    assert answer["crisis_plan"] == "unknown"
    assert set(answer["safety_alerts"].values()) == {"unknown"}
    assert statuses(answer) == {"pds": "unavailable"}
