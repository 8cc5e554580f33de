"""Crisis plans in the answer: every custodian's listed, none hiding another's, and a restricted
person's whereabouts withheld even from the practitioner."""

from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from tests import lookups
from tests.conftest import Exchanger
from tests.lookups import look_up, scene, with_faked_partners
from tests.partners import NRL_POINTERS, SAFETY, TRUST_RECORDS, FakePartners, _flag, _plan

partners = lookups.partners
partner_transport = lookups.partner_transport

BOTH = "9000000033"  # PDS knows them (the published minimal record)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


def _updated(plan: dict[str, Any], when: str) -> dict[str, Any]:
    plan["meta"]["lastUpdated"] = when
    return plan


@pytest.fixture
def at_both_trusts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person who moved: an older plan at RQI, a newer one at Y05868, alerts at both."""
    monkeypatch.setitem(NRL_POINTERS, BOTH, ["RQI", "Y05868"])
    monkeypatch.setitem(
        TRUST_RECORDS,
        ("trust-rqi", BOTH),
        (
            [_flag(BOTH, "risk-to-others", "high"), _flag(BOTH, "risk-to-self", "low")],
            [_updated(_plan(BOTH, "2027-01-01", "RQI advice"), "2025-02-01T09:00:00+00:00")],
        ),
    )
    monkeypatch.setitem(
        TRUST_RECORDS,
        ("trust-y05868", BOTH),
        (
            [_flag(BOTH, "risk-to-self", "medium")],
            [_updated(_plan(BOTH, "2027-05-01", "Y05868 advice"), "2026-11-01T09:00:00+00:00")],
        ),
    )


@pytest.mark.usefixtures("at_both_trusts")
async def test_every_custodians_plan_is_listed_most_recently_reviewed_first(
    exchanger: Exchanger,
) -> None:
    incident_id = await scene(exchanger)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": BOTH})).json()
    plans = answer["plans"]
    assert [plan["custodian"]["organisation_code"] for plan in plans] == ["Y05868", "RQI"]
    assert [plan["approach_advice"] for plan in plans] == ["Y05868 advice", "RQI advice"]
    assert [plan["review_due"] for plan in plans] == ["2027-05-01", "2027-01-01"]
    assert all(plan["crisis_contact"]["call_now"]["numbers"] for plan in plans)
    assert [c["organisation_code"] for c in answer["custodians"]] == ["RQI", "Y05868"]
    # The summary takes the highest level per category across the custodians.
    assert answer["safety_alerts"] == {
        "risk_to_self": "medium",
        "risk_to_others": "high",
        "risk_from_others": "not_recorded",
    }


@pytest.mark.usefixtures("at_both_trusts")
async def test_a_practitioner_sees_their_own_plans_clinical_part_beside_the_others_police_part(
    exchanger: Exchanger,
) -> None:
    incident_id = await scene(exchanger, trust="RQI")
    answer = (
        await look_up(exchanger, incident_id, {"nhs_number": BOTH}, "mh_practitioner", "RQI")
    ).json()
    by_custodian = {plan["custodian"]["organisation_code"]: plan for plan in answer["plans"]}
    assert by_custodian["RQI"]["clinical"]["mha_status"] == "Informal patient"
    assert by_custodian["Y05868"]["clinical"] is None
    assert by_custodian["Y05868"]["approach_advice"] == "Y05868 advice"


def with_access_notes(monkeypatch: pytest.MonkeyPatch, trust: str, nhs_number: str) -> None:
    """The trust's plan for the person, with access notes naming where they are."""
    flags, [plan] = TRUST_RECORDS[(trust, nhs_number)]
    plan = {**plan, "extension": [dict(extension) for extension in plan["extension"]]}
    clinical = next(e for e in plan["extension"] if e["url"].endswith("/clinical"))
    assert clinical["url"] == f"{SAFETY}/StructureDefinition/clinical"
    clinical["extension"] = [
        *clinical["extension"],
        {"url": "access-notes", "valueString": "Refuge at 4 Mill Lane; ring the office bell"},
    ]
    monkeypatch.setitem(TRUST_RECORDS, (trust, nhs_number), (flags, [plan]))


@pytest.mark.parametrize(
    ("nhs_number", "trust", "organisation", "pds_down"),
    [
        ("9000000025", "trust-y05868", "Y05868", False),  # PDS says restricted
        ("9000000009", "trust-rqi", "RQI", True),  # PDS could not say: they may be
    ],
    ids=["restricted", "restriction-unknown"],
)
async def test_access_notes_reach_no_one_unless_pds_says_the_person_is_not_restricted(
    exchanger: Exchanger,
    monkeypatch: pytest.MonkeyPatch,
    partners: FakePartners,
    nhs_number: str,
    trust: str,
    organisation: str,
    pds_down: bool,
) -> None:
    with_access_notes(monkeypatch, trust, nhs_number)
    if pds_down:
        partners.down.add("pds")
    incident_id = await scene(exchanger, trust=organisation)
    response = await look_up(
        exchanger, incident_id, {"nhs_number": nhs_number}, "mh_practitioner", organisation
    )
    answer = response.json()
    assert answer["person"]["demographics_restricted"] is not pds_down
    [shown] = answer["plans"]
    assert shown["clinical"]["mha_status"] == "Informal patient"  # the rest of the plan is there
    assert shown["clinical"]["access_notes"] is None
    assert "Mill Lane" not in response.text


async def test_access_notes_reach_the_custodians_practitioner_of_a_person_pds_says_is_not_restricted(
    exchanger: Exchanger, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_access_notes(monkeypatch, "trust-rqi", "9000000009")
    incident_id = await scene(exchanger, trust="RQI")
    answer = (
        await look_up(
            exchanger, incident_id, {"nhs_number": "9000000009"}, "mh_practitioner", "RQI"
        )
    ).json()
    [shown] = answer["plans"]
    assert shown["clinical"]["access_notes"] == "Refuge at 4 Mill Lane; ring the office bell"
