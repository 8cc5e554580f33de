"""Idempotency-Key: a retried POST returns the first response and writes nothing twice."""

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from api.settings import async_database_url
from tests.conftest import Committing, Exchanger, bearer
from tests.factories import incident_payload


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
