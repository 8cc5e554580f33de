"""Crisis plans written here as the lookup's `local` source: the police section for officers, the
clinical one for the custodian's practitioners, stale past review, gone once withdrawn."""

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from tests import lookups
from tests.api.test_lookup import OFFICER_KEYS, statuses
from tests.conftest import Exchanger, bearer
from tests.factories import crisis_plan_payload
from tests.lookups import look_up, scene, with_faked_partners

# No partner knows this person: whatever the lookup says of them comes from the plan written here.
ONLY_HERE = "9000000033"

partners = lookups.partners
partner_transport = lookups.partner_transport


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


async def write_plan(exchanger: Exchanger, **overrides: Any) -> dict[str, Any]:
    nurse = await exchanger.token("mh_practitioner", "RQI", "crisis-planning")
    response = await exchanger.client.post(
        "/v1/crisis-plans",
        json=crisis_plan_payload(nhs_number=ONLY_HERE, **overrides),
        headers=bearer(nurse),
    )
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def test_an_officer_gets_the_police_section_of_a_plan_written_here(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    plan = await write_plan(exchanger)
    incident_id = await scene(exchanger)
    response = await look_up(exchanger, incident_id, {"nhs_number": ONLY_HERE})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == OFFICER_KEYS
    police = crisis_plan_payload()["police"]
    assert (answer["known_to_services"], answer["crisis_plan"]) == ("yes", "present")
    assert answer["safety_alerts"] == police["safety_alerts"]
    [shown] = answer["plans"]
    assert shown["approach_advice"] == police["approach_advice"]
    contact = shown["crisis_contact"]
    assert (contact["team"], contact["phone"]) == (
        police["crisis_contact"]["team"],
        police["crisis_contact"]["phone"],
    )
    assert contact["call_now"]["phone"] in contact["call_now"]["numbers"] + [None]
    assert shown["custodian"]["organisation_code"] == "RQI"
    assert (shown["review_due"], shown["stale"]) == (plan["review_date"], False)
    assert shown["last_reviewed"] is not None
    assert statuses(answer)["local"] == "found"
    # The custodian is told, once, as for a partner's plan.
    await connection.execute(text("RESET ROLE"))
    notified = (
        await connection.execute(
            text("SELECT organisation_code FROM access_notification WHERE lookup_id = :id"),
            {"id": uuid.UUID(answer["lookup_id"])},
        )
    ).all()
    assert [row.organisation_code for row in notified] == ["RQI"]


async def test_the_custodians_practitioner_gets_the_clinical_section_and_no_one_elses_does(
    exchanger: Exchanger,
) -> None:
    await write_plan(exchanger)
    incident_id = await scene(exchanger)
    clinical = crisis_plan_payload()["clinical"]
    own = (
        await look_up(exchanger, incident_id, {"nhs_number": ONLY_HERE}, "mh_practitioner", "RQI")
    ).json()
    [own_plan] = own["plans"]
    assert own_plan["clinical"]["triggers"] == clinical["triggers"]
    assert own_plan["clinical"]["safeguarding"] == clinical["safeguarding"]
    assert own_plan["clinical"]["actions"] == clinical["actions"]
    # A nurse of the other trust, at a scene of their own.
    their_scene = await scene(exchanger, trust="Y05868")
    other = (
        await look_up(
            exchanger, their_scene, {"nhs_number": ONLY_HERE}, "mh_practitioner", "Y05868"
        )
    ).json()
    [their_plan] = other["plans"]
    assert their_plan["clinical"] is None
    assert their_plan["approach_advice"] == crisis_plan_payload()["police"]["approach_advice"]


async def test_a_plan_past_its_review_date_is_stale(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    plan = await write_plan(exchanger)
    # Time passes: the review date it was written with is now behind us.
    await connection.execute(text("RESET ROLE"))
    await connection.execute(
        text("UPDATE crisis_plan SET review_date = current_date - 1 WHERE id = :id"),
        {"id": uuid.UUID(plan["id"])},
    )
    incident_id = await scene(exchanger)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": ONLY_HERE})).json()
    [shown] = answer["plans"]
    assert shown["stale"] is True
    assert shown["approach_advice"] is not None  # stale is shown, not hidden


async def test_a_withdrawn_plan_drops_out_of_lookups_and_stays_in_the_history(
    exchanger: Exchanger,
) -> None:
    plan = await write_plan(exchanger)
    nurse = await exchanger.token("mh_practitioner", "RQI", "crisis-planning")
    withdrawn = await exchanger.client.post(
        f"/v1/crisis-plans/{plan['id']}/withdraw",
        json={"reason": "Discharged from the service; the plan no longer applies."},
        headers=bearer(nurse) | {"if-match": f'"{plan["revision"]}"'},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    incident_id = await scene(exchanger)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": ONLY_HERE})).json()
    assert statuses(answer)["local"] == "not_found"
    assert (answer["known_to_services"], answer["crisis_plan"]) == ("no", "absent")
    assert answer["plans"] == []
    versions = await exchanger.client.get(
        f"/v1/crisis-plans/{plan['id']}/versions", headers=bearer(nurse)
    )
    assert [version["kind"] for version in versions.json()] == ["created", "withdrawn"]
