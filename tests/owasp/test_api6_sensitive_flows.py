"""API6:2023 Unrestricted Access to Sensitive Business Flows.

The sensitive flow here is the crisis flag lookup: it tells police who is known to mental health
services. It cannot be bulk-harvested: the agreement's quotas of lookups per user per hour,
different people per incident, and lookups per organisation per day each stop the next lookup with
429, before any partner is asked and with nothing recorded as disclosed, and each refusal is
itself an audit event (`crisis_flag.refuse`, reason `quota`). It needs a live incident: closing one
revokes every token bound to it, a new token for a closed incident carries no lookup scope (and a
break-glass one is not issued), and even a token that somehow carried it meets the service's own
refusal. A token works for the one incident it is bound to and no other, on every incident route.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt as jose_jwt
from pydantic import SecretStr
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.app import create_app
from api.migration import upgrade_async
from api.settings import Settings
from auth.keys import load_signing_keys
from models import Scope
from tests import lookups
from tests.api.test_token_attacks import sign_with
from tests.conftest import Exchanger, bearer
from tests.database import scratch_database
from tests.factories import nhs_number, outcome_payload
from tests.identity_provider import IdentityProvider, KeyMaterial
from tests.lookups import look_up, scene, with_faked_partners
from tests.owasp.routes import protected_routes, token_scopes
from tests.partners import FakePartners
from tests.problems import problem, user_id

partners = lookups.partners
partner_transport = lookups.partner_transport

QUOTAS = {"per_user_per_hour": 3, "per_organisation_per_day": 4, "people_per_incident": 2}
PERSON = "9000000009"
JUSTIFICATION = "Man on the railway bridge; his plan is needed now"


def _small_quotas(document: dict[str, Any]) -> None:
    document["agreement"]["lookup_quotas"] = QUOTAS


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path, _small_quotas)


async def lookups_recorded(connection: AsyncConnection) -> int:
    await connection.execute(text("RESET ROLE"))
    count = await connection.scalar(text("SELECT count(*) FROM flag_lookup"))
    return int(count or 0)


async def refusal_event(connection: AsyncConnection, response: httpx.Response) -> RowMapping:
    await connection.execute(text("RESET ROLE"))
    rows = (
        (
            await connection.execute(
                text(
                    "SELECT outcome, reason, actor_user_id::text AS actor, incident_id, route,"
                    " data_classes FROM audit_event"
                    " WHERE action = 'crisis_flag.refuse' AND request_id = :request_id"
                ),
                {"request_id": response.headers["x-request-id"]},
            )
        )
        .mappings()
        .all()
    )
    assert len(rows) == 1, rows
    event: RowMapping = rows[0]
    return event


async def assert_quota_refused(
    connection: AsyncConnection,
    partners: FakePartners,
    response: httpx.Response,
    *,
    incident_id: uuid.UUID,
    actor: str,
    recorded_before: int,
    detail: str,
) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["type"].endswith("/lookup-quota-exceeded")
    assert detail in body["detail"]
    assert PERSON not in response.text
    assert partners.requests == [], "a partner was asked after the quota was reached"
    assert await lookups_recorded(connection) == recorded_before
    event = await refusal_event(connection, response)
    assert (event["outcome"], event["reason"], event["actor"]) == ("denied", "quota", actor)
    assert event["incident_id"] == incident_id
    assert event["route"] == "/v1/incidents/{incident_id}/flag-lookups"
    assert event["data_classes"] == []


async def test_the_hourly_quota_per_user_stops_bulk_lookups_and_is_audited(
    exchanger: Exchanger, connection: AsyncConnection, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    for _ in range(QUOTAS["per_user_per_hour"]):
        assert (await look_up(exchanger, incident_id, {"nhs_number": PERSON})).status_code == 200
    partners.requests.clear()
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    refused = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/flag-lookups",
        json={"nhs_number": PERSON},
        headers=bearer(token),
    )
    await assert_quota_refused(
        connection,
        partners,
        refused,
        incident_id=incident_id,
        actor=user_id(token),
        recorded_before=QUOTAS["per_user_per_hour"],
        detail="this hour",
    )


async def test_the_people_per_incident_quota_stops_trawling_and_is_audited(
    exchanger: Exchanger, connection: AsyncConnection, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    for number in ("9000000009", "9000000025"):
        assert (await look_up(exchanger, incident_id, {"nhs_number": number})).status_code == 200
    partners.requests.clear()
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    url = f"/v1/incidents/{incident_id}/flag-lookups"
    refused = await exchanger.client.post(
        url, json={"nhs_number": "9000000033"}, headers=bearer(token)
    )
    await assert_quota_refused(
        connection,
        partners,
        refused,
        incident_id=incident_id,
        actor=user_id(token),
        recorded_before=2,
        detail="different people",
    )
    # The nurse of the same incident counts toward the same people.
    nurse = await look_up(
        exchanger, incident_id, {"nhs_number": "9000000033"}, "mh_practitioner", "RQI"
    )
    assert nurse.status_code == 429
    # Someone already looked up at this incident is not a new person.
    again = await exchanger.client.post(url, json={"nhs_number": PERSON}, headers=bearer(token))
    assert again.status_code == 200


async def test_the_daily_quota_per_organisation_stops_many_users_together_and_is_audited(
    exchanger: Exchanger, connection: AsyncConnection, partners: FakePartners
) -> None:
    per_officer = QUOTAS["per_organisation_per_day"] // 2
    for officer in ("pc-1", "pc-2"):
        incident_id = await scene(exchanger)
        subject = exchanger.idp.token("officer", "NSP", sub=officer)
        for _ in range(per_officer):
            response = await look_up(
                exchanger, incident_id, {"nhs_number": PERSON}, subject_token=subject
            )
            assert response.status_code == 200, response.text
    partners.requests.clear()
    incident_id = await scene(exchanger)
    subject = exchanger.idp.token("officer", "NSP", sub="pc-3")
    token = await exchanger.token(
        "officer", "NSP", "street-triage", incident_id=incident_id, subject_token=subject
    )
    refused = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/flag-lookups",
        json={"nhs_number": PERSON},
        headers=bearer(token),
    )
    await assert_quota_refused(
        connection,
        partners,
        refused,
        incident_id=incident_id,
        actor=user_id(token),
        recorded_before=QUOTAS["per_organisation_per_day"],
        detail="organisation's lookups today",
    )


async def close(exchanger: Exchanger, incident_id: uuid.UUID, token: str) -> None:
    url = f"/v1/incidents/{incident_id}"
    recorded = await exchanger.client.put(
        f"{url}/outcome", json=outcome_payload(), headers=bearer(token)
    )
    assert recorded.status_code == 201, recorded.text
    closed = await exchanger.client.post(f"{url}/close", headers=bearer(token))
    assert closed.status_code == 200, closed.text


async def test_no_lookup_on_a_closed_incident(
    exchanger: Exchanger,
    connection: AsyncConnection,
    partners: FakePartners,
    key_material: KeyMaterial,
) -> None:
    incident_id = await scene(exchanger)
    url = f"/v1/incidents/{incident_id}/flag-lookups"
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    glass = await exchanger.token(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident_id,
        justification=JUSTIFICATION,
    )
    await close(exchanger, incident_id, officer)
    partners.requests.clear()

    # Tokens issued while it was open, the break-glass one included, were revoked at the close.
    for token in (officer, glass):
        refused = await exchanger.client.post(
            url, json={"nhs_number": PERSON}, headers=bearer(token)
        )
        problem(refused, 401, "unauthenticated")
    # A token issued now may read it, not look anyone up.
    after = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    assert token_scopes(after) == {Scope.incident_read, Scope.incident_amend}
    refused = await exchanger.client.post(url, json={"nhs_number": PERSON}, headers=bearer(after))
    problem(refused, 403, "forbidden")
    again = await exchanger.request(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident_id,
        justification=JUSTIFICATION,
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_target"

    # The second lock: a token carrying the lookup scope for the closed incident (forged with our
    # own key, from the live token just issued) meets the service's refusal.
    claims = jose_jwt.get_unverified_claims(after)
    claims["scope"] = " ".join(sorted({*claims["scope"].split(), Scope.crisis_flag_lookup}))
    key = load_signing_keys(key_material.signing_keys_file).active
    forged = sign_with(key.private_key, {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, claims)
    refused = await exchanger.client.post(url, json={"nhs_number": PERSON}, headers=bearer(forged))
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/incident-closed")

    assert partners.requests == []
    assert await lookups_recorded(connection) == 0


async def test_a_token_works_only_for_the_incident_it_is_bound_to(
    app: FastAPI,
    exchanger: Exchanger,
    connection: AsyncConnection,
    partners: FakePartners,
) -> None:
    """Bound to incident A, the officer's token is refused on every route of incident B (both
    the officer's force's own), and B is left as it was."""
    bound_to = await scene(exchanger)
    other = await scene(exchanger)
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=bound_to)
    assert (
        await exchanger.client.get(f"/v1/incidents/{bound_to}", headers=bearer(token))
    ).status_code == 200
    bodies: dict[str, Any] = {
        "/v1/incidents/{incident_id}/subjects": {"description": "Man, 30s"},
        "/v1/incidents/{incident_id}/outcome": outcome_payload(),
        "/v1/incidents/{incident_id}/flag-lookups": {"nhs_number": PERSON},
    }
    swept = []
    for route in protected_routes(app):
        if "{incident_id}" not in route.path or not route.incident_bound:
            continue
        response = await exchanger.client.request(
            route.method,
            route.url(incident_id=other),
            json=bodies.get(route.path, {}) if route.has_body else None,
            headers=bearer(token),
        )
        problem(response, 403, "forbidden")
        swept.append(str(route))
    assert len(swept) >= 9
    assert partners.requests == []
    await connection.execute(text("RESET ROLE"))
    state = (
        await connection.execute(
            text(
                "SELECT i.status,"
                " (SELECT count(*) FROM incident_subject WHERE incident_id = i.id) AS subjects,"
                " (SELECT count(*) FROM incident_outcome WHERE incident_id = i.id) AS outcomes,"
                " (SELECT count(*) FROM flag_lookup WHERE incident_id = i.id) AS lookups"
                " FROM incident i WHERE i.id = :id"
            ),
            {"id": other},
        )
    ).one()
    assert tuple(state) == ("open", 0, 0, 0)
    reasons = (
        (
            await connection.execute(
                text(
                    "SELECT DISTINCT reason FROM audit_event WHERE action = 'access.refuse'"
                    " AND token_jti = :jti"
                ),
                {"jti": jose_jwt.get_unverified_claims(token)["jti"]},
            )
        )
        .scalars()
        .all()
    )
    assert list(reasons) == ["incident_mismatch"]


async def test_a_token_lives_minutes_not_a_shift(exchanger: Exchanger) -> None:
    """Street triage 5 minutes, break-glass 2: a leaked token is worth little for long."""
    incident_id = await scene(exchanger)
    now = time.time()
    for purpose, extra, cap in (
        ("street-triage", {"incident_id": incident_id}, 300),
        ("break-glass", {"incident_id": incident_id, "justification": JUSTIFICATION}, 120),
    ):
        role = "mh_practitioner"
        token = await exchanger.token(role, "RQI", purpose, **extra)
        claims = jose_jwt.get_unverified_claims(token)
        assert claims["exp"] - claims["iat"] <= cap
        assert claims["exp"] <= now + cap + 5


@pytest.fixture
async def concurrent(
    settings: Settings, database_server_url: str, idp: IdentityProvider, partners: FakePartners
) -> AsyncIterator[Exchanger]:
    """The app on a database of its own, each request committing on its own connection, so
    concurrent requests really run side by side (on the shared test connection they cannot)."""
    async with scratch_database(database_server_url, prefix="triage_owasp") as url:
        await upgrade_async(url)
        app = create_app(
            settings.model_copy(
                update={"database_url": SecretStr(url), "db_pool_size": 25, "db_max_overflow": 0}
            ),
            partner_transport=partners.transport(),
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://triage.test",
            ) as client,
        ):
            yield Exchanger(client, idp)


@pytest.mark.parametrize("quota", ["per_user_per_hour", "people_per_incident"])
async def test_concurrent_lookups_cannot_overrun_a_quota(concurrent: Exchanger, quota: str) -> None:
    incident_id = await scene(concurrent)
    token = await concurrent.token("officer", "NSP", "street-triage", incident_id=incident_id)
    if quota == "per_user_per_hour":
        people = [PERSON] * 10
    else:
        people = [nhs_number(900000100 + 10 * n) for n in range(10)]

    async def look(number: str) -> int:
        response = await concurrent.client.post(
            f"/v1/incidents/{incident_id}/flag-lookups",
            json={"nhs_number": number},
            headers=bearer(token),
        )
        return response.status_code

    statuses = await asyncio.gather(*(look(number) for number in people))
    allowed = QUOTAS[quota]
    assert sorted(statuses) == [200] * allowed + [429] * (len(people) - allowed)
