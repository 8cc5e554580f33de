"""Organisation isolation: in every query, and again in PostgreSQL's row-level security."""

import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

import models
from api.settings import DEMO_PARTNERSHIP_FILE, Settings
from models import APPLICATION_ROLE
from tests.conftest import Exchanger, bearer
from tests.factories import incident_payload


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The demo partnership with a second police force."""
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    document["organisations"].append(
        {"code": "SWP", "name": "Southmoor Police", "kind": "police_force"}
    )
    path = tmp_path / "two-forces.yaml"
    path.write_text(yaml.safe_dump(document))
    return settings.model_copy(update={"partnership_file": path})


async def open_incident(exchanger: Exchanger, force: str, trust: str = "RQI") -> uuid.UUID:
    token = await exchanger.token("officer", force, "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(partner_trust_code=trust), headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def test_another_force_never_sees_an_incident(exchanger: Exchanger) -> None:
    incident_id = await open_incident(exchanger, "NSP")
    url = f"/v1/incidents/{incident_id}"

    supervisor = await exchanger.token("supervisor", "SWP", "supervision")
    assert (await exchanger.client.get(url, headers=bearer(supervisor))).status_code == 404
    listed = await exchanger.client.get("/v1/incidents", headers=bearer(supervisor))
    assert listed.status_code == 200
    assert str(incident_id) not in listed.text

    bind = await exchanger.request("officer", "SWP", "street-triage", incident_id=incident_id)
    assert bind.status_code == 400
    assert bind.json()["error"] == "invalid_target"

    # The owning force and the named trust see it; another trust does not.
    for org, expected in (("NSP", 200), ("RQI", 200), ("Y05868", 404)):
        token = await exchanger.token("supervisor", org, "supervision")
        assert (await exchanger.client.get(url, headers=bearer(token))).status_code == expected, org


async def test_children_of_another_forces_incident_are_unreachable(exchanger: Exchanger) -> None:
    incident_id = await open_incident(exchanger, "NSP")
    own = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    subject = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"description": "Man, 30s"},
        headers=bearer(own),
    )
    assert subject.status_code == 201

    other_incident = await open_incident(exchanger, "SWP")
    other = await exchanger.token("officer", "SWP", "street-triage", incident_id=other_incident)
    # A token bound to its own incident cannot reach another's children through the path.
    subject_url = f"/v1/incidents/{incident_id}/subjects"
    assert (await exchanger.client.get(subject_url, headers=bearer(other))).status_code == 403
    outcome_url = f"/v1/incidents/{incident_id}/outcome"
    assert (await exchanger.client.get(outcome_url, headers=bearer(other))).status_code == 403


async def tenant_count(connection: AsyncConnection, org: str | None, incident_id: uuid.UUID) -> int:
    """Count the incident as the application's role would see it, with `org` as the tenant."""
    await connection.execute(text(f"SET LOCAL ROLE {APPLICATION_ROLE}"))
    if org is not None:
        await connection.execute(text("SELECT set_config('app.org', :org, true)"), {"org": org})
    else:
        await connection.execute(text("SELECT set_config('app.org', '', true)"))
    count = await connection.scalar(
        text("SELECT count(*) FROM incident WHERE id = :id"), {"id": incident_id}
    )
    subjects = await connection.scalar(
        text("SELECT count(*) FROM incident_subject WHERE incident_id = :id"), {"id": incident_id}
    )
    await connection.execute(text("RESET ROLE"))
    assert count in (0, 1)
    assert subjects == count  # the child row follows its incident
    return int(count)


async def test_database_hides_other_tenants_rows_from_the_application_role(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await open_incident(exchanger, "NSP")
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    added = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"description": "Woman, 40s"},
        headers=bearer(token),
    )
    assert added.status_code == 201

    assert await tenant_count(connection, "NSP", incident_id) == 1
    assert await tenant_count(connection, "RQI", incident_id) == 1  # named partner trust
    assert await tenant_count(connection, "SWP", incident_id) == 0
    assert await tenant_count(connection, "Y05868", incident_id) == 0
    assert await tenant_count(connection, None, incident_id) == 0  # no tenant, no rows


async def test_database_refuses_writing_into_another_tenant(connection: AsyncConnection) -> None:
    user_id = await connection.scalar(text("SELECT id FROM user_account LIMIT 1"))
    if user_id is None:
        user_id = uuid.uuid4()
        await connection.execute(
            text(
                "INSERT INTO user_account (id, issuer, subject, display_name, role, organisation_code,"
                " active, first_seen_at, last_seen_at) VALUES (:id, 'i', 's', 'n', 'officer', 'NSP',"
                " true, now(), now())"
            ),
            {"id": user_id},
        )
    await connection.execute(text(f"SET LOCAL ROLE {APPLICATION_ROLE}"))
    await connection.execute(text("SELECT set_config('app.org', 'SWP', true)"))
    nested = await connection.begin_nested()
    with pytest.raises(DBAPIError, match="row-level security"):
        await connection.execute(
            text(
                "INSERT INTO incident (id, cad_reference, organisation_code, status, time_of_call_at,"
                " location_area_code, attendance_reason, triage_mode, opened_by, opened_at)"
                " VALUES (:id, 'LP-1', 'NSP', 'open', now(), 'E01', 'crime', 'phone', :user, now())"
            ),
            {"id": uuid.uuid4(), "user": user_id},
        )
    await nested.rollback()
    await connection.execute(text("RESET ROLE"))


async def test_application_role_cannot_change_or_remove_audit_events(
    connection: AsyncConnection,
) -> None:
    await connection.execute(text(f"SET LOCAL ROLE {APPLICATION_ROLE}"))
    for statement in (
        "UPDATE audit_event SET reason = 'x'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ):
        nested = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(statement))
        await nested.rollback()
    await connection.execute(text("RESET ROLE"))


async def test_application_role_can_reach_every_table_it_needs(connection: AsyncConnection) -> None:
    tables = set(models.metadata.tables)
    granted = set(
        (
            await connection.execute(
                text(
                    "SELECT table_name FROM information_schema.role_table_grants"
                    " WHERE grantee = :role AND privilege_type = 'SELECT'"
                ),
                {"role": APPLICATION_ROLE},
            )
        ).scalars()
    )
    assert tables - granted == set()


async def test_rls_is_forced_on_every_incident_table(connection: AsyncConnection) -> None:
    rows = (
        await connection.execute(
            text(
                "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity"
                " AND relnamespace = 'public'::regnamespace"
            )
        )
    ).scalars()
    assert set(rows) == {
        "incident",
        "incident_subject",
        "assessment",
        "assessment_revision",
        "assessment_signature",
        "incident_outcome",
        "flag_lookup",
        "access_notification",
        "crisis_plan",
        "crisis_plan_version",
        "crisis_plan_relationship",
        "idempotency_record",
        "incident_fact",
        "outcome_statistic",
        "purged_prior_contact",
    }


async def test_listing_for_an_unbound_officer_shows_only_their_own(
    exchanger: Exchanger, client: httpx.AsyncClient, idp: object
) -> None:
    mine = await open_incident(exchanger, "NSP")
    colleague_token = await exchanger.token(
        "officer",
        "NSP",
        "street-triage",
        subject_token=exchanger.idp.token("officer", "NSP", sub="pc-2"),
    )
    colleague = await client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(colleague_token)
    )
    assert colleague.status_code == 201
    token = await exchanger.token("officer", "NSP", "street-triage")
    listed = (await client.get("/v1/incidents", headers=bearer(token))).json()
    ids = {item["id"] for item in listed["items"]}
    assert str(mine) in ids
    assert colleague.json()["id"] not in ids
