"""Lookups made through the API reach the outcome report at once, whoever made them (the force's
officer, the partner trust's practitioner): a trigger on `flag_lookup` keeps the incident's facts
current. (That they stay counted once purged: tests/api/test_retention.py.)"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from tests import lookups
from tests.api.test_reports import supervisor
from tests.conftest import Exchanger
from tests.lookups import look_up, scene, with_faked_partners

partners = lookups.partners
partner_transport = lookups.partner_transport


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


async def total(exchanger: Exchanger, org: str) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    period = {"from": str(today - timedelta(days=2)), "to": str(today + timedelta(days=2))}
    response = await exchanger.client.get(
        "/v1/reports/outcomes", params=period, headers=await supervisor(exchanger, org)
    )
    assert response.status_code == 200, response.text
    figures: dict[str, Any] = response.json()["total"]
    return figures


async def test_lookups_made_through_the_api_are_counted(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await scene(exchanger, trust="RQI")
    before = await total(exchanger, "NSP")
    assert (before["incidents"], before["crisis_flag_consulted"], before["lookups"]) == (1, 0, 0)

    officer = await look_up(exchanger, incident_id, {"nhs_number": "9000000009"})
    assert officer.status_code == 200, officer.text
    nurse = await look_up(
        exchanger, incident_id, {"nhs_number": "9000000009"}, "mh_practitioner", "RQI"
    )
    assert nurse.status_code == 200, nurse.text

    # No assessment says anything: the two recorded lookups decide "consulted".
    for org in ("NSP", "RQI"):
        after = await total(exchanger, org)
        assert (after["assessed"], after["crisis_flag_consulted"]) == (0, 1), org
        assert (after["lookups"], after["lookups_per_incident"]) == (2, 2.0), org
    await connection.execute(text("RESET ROLE"))
    stored = await connection.execute(
        text("SELECT lookups FROM incident_fact WHERE incident_id = :id"), {"id": incident_id}
    )
    assert stored.scalar_one() == 2
