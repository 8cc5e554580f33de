"""Idempotency-Key: a retried POST returns the first response and writes nothing twice."""

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from api.app import create_app
from api.idempotency import replayed_references
from api.settings import Settings, async_database_url
from tests import lookups
from tests.conftest import Committing, Exchanger, bearer
from tests.factories import assessment_content, crisis_plan_payload, incident_payload
from tests.lookups import with_faked_partners
from tests.problems import problem

NHS_NUMBER = "9000000009"

partners = lookups.partners
partner_transport = lookups.partner_transport


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


async def count_incidents(connection: AsyncConnection, cad_reference: str) -> int:
    # Run as the connecting superuser: row-level security would hide rows from a test count.
    await connection.execute(text("RESET ROLE"))
    count = await connection.scalar(
        text("SELECT count(*) FROM incident WHERE cad_reference = :cad"), {"cad": cad_reference}
    )
    return int(count or 0)


async def test_retry_with_same_key_and_body_replays_the_first_response(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    headers = bearer(token) | {"Idempotency-Key": "tablet-7-0001"}
    payload = incident_payload(cad_reference="LP-IDEM-1")
    first = await exchanger.client.post("/v1/incidents", json=payload, headers=headers)
    second = await exchanger.client.post("/v1/incidents", json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_incidents(connection, "LP-IDEM-1") == 1


async def test_same_key_with_another_body_is_422(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    headers = bearer(token) | {"Idempotency-Key": "tablet-7-0002"}
    first = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(cad_reference="LP-IDEM-2"), headers=headers
    )
    assert first.status_code == 201
    other = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(cad_reference="LP-IDEM-3"), headers=headers
    )
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert await count_incidents(connection, "LP-IDEM-3") == 0


async def test_keys_belong_to_their_user(exchanger: Exchanger, connection: AsyncConnection) -> None:
    payload = incident_payload(cad_reference="LP-IDEM-4")
    for subject in ("pc-1", "pc-2"):
        token = await exchanger.token(
            "officer",
            "NSP",
            "street-triage",
            subject_token=exchanger.idp.token("officer", "NSP", sub=subject),
        )
        response = await exchanger.client.post(
            "/v1/incidents", json=payload, headers=bearer(token) | {"Idempotency-Key": "shared-key"}
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert await count_incidents(connection, "LP-IDEM-4") == 2


@pytest.mark.parametrize("key", [b"", b"has space", b"x" * 256, "naïve".encode("latin-1")])
async def test_malformed_key_is_400(exchanger: Exchanger, key: bytes) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    headers = [(name.encode(), value.encode()) for name, value in bearer(token).items()]
    headers.append((b"idempotency-key", key))
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=headers
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-idempotency-key")


async def test_key_older_than_a_day_starts_afresh(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    headers = bearer(token) | {"Idempotency-Key": "tablet-7-0005"}
    payload = incident_payload(cad_reference="LP-IDEM-5")
    assert (
        await exchanger.client.post("/v1/incidents", json=payload, headers=headers)
    ).status_code == 201
    await connection.execute(text("RESET ROLE"))
    await connection.execute(
        text(
            "UPDATE idempotency_record SET created_at = now() - interval '25 hours' WHERE key = :k"
        ),
        {"k": "tablet-7-0005"},
    )
    again = await exchanger.client.post("/v1/incidents", json=payload, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await count_incidents(connection, "LP-IDEM-5") == 2


async def test_failed_request_leaves_no_key(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    headers = bearer(token) | {"Idempotency-Key": "tablet-7-0006"}
    refused = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(partner_trust_code="NSP"), headers=headers
    )
    assert refused.status_code == 422
    fixed = await exchanger.client.post("/v1/incidents", json=incident_payload(), headers=headers)
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


async def test_twenty_concurrent_retries_leave_exactly_one_incident(committing: Committing) -> None:
    exchanger, url = committing.exchanger, committing.url
    token = await exchanger.token("officer", "NSP", "street-triage")
    headers = bearer(token) | {"Idempotency-Key": f"storm-{uuid.uuid4()}"}
    payload = incident_payload(cad_reference="LP-STORM-1")
    responses = await asyncio.gather(
        *(exchanger.client.post("/v1/incidents", json=payload, headers=headers) for _ in range(20))
    )
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum("idempotent-replayed" not in response.headers for response in responses) == 1

    engine = create_async_engine(async_database_url(url))
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM incident WHERE cad_reference = 'LP-STORM-1'")
            )
            events = await connection.scalar(
                text("SELECT count(*) FROM audit_event WHERE action = 'incident.open'")
            )
    finally:
        await engine.dispose()
    assert count == 1
    assert events == 1


async def subject_with_key(exchanger: Exchanger, key: str) -> tuple[uuid.UUID, str, httpx.Response]:
    """An officer opens an incident and adds a person with an Idempotency-Key: (incident, the
    bound token, the first response)."""
    opener = await exchanger.token("officer", "NSP", "street-triage")
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(opener)
    )
    incident_id = uuid.UUID(opened.json()["id"])
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    first = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"nhs_number": NHS_NUMBER},
        headers=bearer(token) | {"Idempotency-Key": key},
    )
    assert first.status_code == 201, first.text
    return incident_id, token, first


async def replay_events(connection: AsyncConnection, request_id: str) -> list[dict[str, Any]]:
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        text(
            "SELECT action, outcome, actor_user_id, incident_id, person_id, route, details"
            " FROM audit_event WHERE request_id = :id"
        ),
        {"id": request_id},
    )
    return [dict(row._mapping) for row in rows]


async def test_a_replay_is_audited_as_a_replay_naming_the_route_and_the_person(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id, token, first = await subject_with_key(exchanger, "tablet-7-replay-1")
    again = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"nhs_number": NHS_NUMBER},
        headers=bearer(token) | {"Idempotency-Key": "tablet-7-replay-1"},
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()

    person_id = await connection.scalar(
        text("SELECT id FROM person WHERE nhs_number = :nhs"), {"nhs": NHS_NUMBER}
    )
    [event] = await replay_events(connection, again.headers["x-request-id"])
    assert event["action"] == "idempotent.replay"
    assert event["outcome"] == "success"
    assert event["actor_user_id"] is not None
    assert event["incident_id"] == incident_id
    assert event["person_id"] == person_id
    assert event["route"] == "/v1/incidents/{incident_id}/subjects"
    assert event["details"]["status"] == 201
    # Ids only: the stored response's NHS number never reaches the audit trail.
    assert NHS_NUMBER not in str(event["details"])


async def test_a_replay_with_a_revoked_token_is_refused(exchanger: Exchanger) -> None:
    incident_id, token, _ = await subject_with_key(exchanger, "tablet-7-replay-2")
    revoked = await exchanger.client.post("/v1/token/revoke", data={"token": token})
    assert revoked.status_code == 200
    again = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"nhs_number": NHS_NUMBER},
        headers=bearer(token) | {"Idempotency-Key": "tablet-7-replay-2"},
    )
    problem(again, 401, "unauthenticated")
    assert NHS_NUMBER not in again.text
    assert "idempotent-replayed" not in again.headers


async def test_a_replay_with_a_token_bound_to_another_incident_is_refused(
    exchanger: Exchanger,
) -> None:
    incident_id, _, _ = await subject_with_key(exchanger, "tablet-7-replay-3")
    opener = await exchanger.token("officer", "NSP", "street-triage")
    other = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(opener)
    )
    rebound = await exchanger.token(
        "officer", "NSP", "street-triage", incident_id=other.json()["id"]
    )
    again = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"nhs_number": NHS_NUMBER},
        headers=bearer(rebound) | {"Idempotency-Key": "tablet-7-replay-3"},
    )
    problem(again, 403, "forbidden")
    assert NHS_NUMBER not in again.text
    assert "idempotent-replayed" not in again.headers


async def test_a_key_stored_for_one_organisation_is_never_replayed_for_another(
    exchanger: Exchanger,
) -> None:
    """One identity (issuer and subject) exchanged for two trusts is one user: the plan stored
    for RQI is not handed to the same person acting for Y05868."""
    nurse = exchanger.idp.token("mh_practitioner", "RQI", sub="nurse-who-moved")
    rqi = await exchanger.token("mh_practitioner", "RQI", "crisis-planning", subject_token=nurse)
    headers = {"Idempotency-Key": "plan-moved-1"}
    payload = crisis_plan_payload(nhs_number=NHS_NUMBER)
    first = await exchanger.client.post(
        "/v1/crisis-plans", json=payload, headers=bearer(rqi) | headers
    )
    assert first.status_code == 201, first.text

    moved = exchanger.idp.token("mh_practitioner", "Y05868", sub="nurse-who-moved")
    y05868 = await exchanger.token(
        "mh_practitioner", "Y05868", "crisis-planning", subject_token=moved
    )
    again = await exchanger.client.post(
        "/v1/crisis-plans", json=payload, headers=bearer(y05868) | headers
    )
    assert "idempotent-replayed" not in again.headers
    assert first.json()["id"] not in again.text


async def test_row_level_security_hides_another_organisations_stored_responses(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await subject_with_key(exchanger, "tablet-7-rls-1")

    async def visible_to(organisation_code: str) -> int:
        await connection.execute(
            text(
                "SELECT set_config('role', 'triage_app', true), set_config('app.org', :org, true)"
            ),
            {"org": organisation_code},
        )
        count = await connection.scalar(
            text("SELECT count(*) FROM idempotency_record WHERE key = 'tablet-7-rls-1'")
        )
        await connection.execute(text("RESET ROLE"))
        return int(count or 0)

    assert await visible_to("NSP") == 1
    assert await visible_to("RQI") == 0
    await connection.execute(
        text("SELECT set_config('role', 'triage_app', true), set_config('app.org', 'RQI', true)")
    )
    deleted = await connection.execute(
        text("DELETE FROM idempotency_record WHERE key = 'tablet-7-rls-1'")
    )
    await connection.execute(text("RESET ROLE"))
    assert deleted.rowcount == 0
    assert await visible_to("NSP") == 1


async def test_the_api_deletes_stored_responses_a_day_old_without_a_purge(
    committing: Committing, settings: Settings
) -> None:
    """The app deletes expired stored responses by itself from start-up on (`triage purge` is
    never run here), for every organisation, and keeps the ones still live."""
    exchanger, url = committing.exchanger, committing.url
    officer = await exchanger.token("officer", "NSP", "street-triage")
    for key in ("old-nsp", "fresh-nsp"):
        response = await exchanger.client.post(
            "/v1/incidents",
            json=incident_payload(),
            headers=bearer(officer) | {"Idempotency-Key": key},
        )
        assert response.status_code == 201
    # Another organisation's: the trust's nurse starts the joint assessment on a police incident.
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(officer)
    )
    incident_id = opened.json()["id"]
    bound = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    subject = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"nhs_number": NHS_NUMBER},
        headers=bearer(bound),
    )
    nurse = await exchanger.token(
        "mh_practitioner", "RQI", "street-triage", incident_id=incident_id
    )
    response = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects/{subject.json()['id']}/assessment",
        json={"content": assessment_content()},
        headers=bearer(nurse) | {"Idempotency-Key": "old-rqi"},
    )
    assert response.status_code == 201, response.text

    engine = create_async_engine(async_database_url(url))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE idempotency_record SET created_at = now() - interval '25 hours'"
                    " WHERE key LIKE 'old-%'"
                )
            )
        # Another replica starting: its lifespan begins sweeping at once.
        replica = create_app(settings.model_copy(update={"database_url": SecretStr(url)}))
        async with replica.router.lifespan_context(replica):
            deadline = time.monotonic() + 10
            while True:
                async with engine.connect() as connection:
                    keys = set(
                        (await connection.execute(text("SELECT key FROM idempotency_record")))
                        .scalars()
                        .all()
                    )
                if not keys & {"old-nsp", "old-rqi"} or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    assert keys == {"fresh-nsp"}


INCIDENT = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
SUBJECT = uuid.UUID("00000000-0000-4000-8000-0000000000b1")


@pytest.mark.parametrize(
    ("body", "references"),
    [
        ({"nhs_number": NHS_NUMBER, "incident_id": str(INCIDENT)}, (NHS_NUMBER, INCIDENT, None)),
        ({"incident_id": str(INCIDENT), "subject_id": str(SUBJECT)}, (None, INCIDENT, SUBJECT)),
        ({"id": str(INCIDENT), "cad_reference": "LP-1"}, (None, None, None)),
        ({"nhs_number": 9000000009, "subject_id": "not-a-uuid"}, (None, None, None)),
        ([{"nhs_number": NHS_NUMBER}], (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_the_people_a_stored_response_names(
    body: Any, references: tuple[str | None, uuid.UUID | None, uuid.UUID | None]
) -> None:
    assert replayed_references(body) == references
