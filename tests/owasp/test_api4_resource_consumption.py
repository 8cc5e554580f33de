"""API4:2023 Unrestricted Resource Consumption.

Nothing a caller sends makes the service spend without bound. A body over `max_body_bytes` is
refused with 413, on its declared length before a byte is read, or as soon as a streamed body
passes the limit, on protected and public routes alike; a JSON body nested past the parser's depth
is a 400, not a 500. Every paginated route (found in the app: any route with a `limit` query
parameter, and every route answering a page with `next_cursor`) caps its page size, a limit above
the cap is 422, and the cap itself is served. A report covers at most five years. Lookups are
held to the agreement's quotas with 429 (and `Retry-After` where waiting helps), refused before
any partner is asked; and partners that hang or drip bytes never hold a lookup past its deadline.
"""

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from models import Scope
from tests import lookups
from tests.api.test_server_time_and_input import open_past_the_quota
from tests.conftest import Exchanger, bearer
from tests.factories import incident_payload
from tests.lookups import look_up, scene, with_faked_partners
from tests.owasp.routes import Route, app_routes, has_limit_parameter, query_limit_cap
from tests.partners import HOSTS, FakePartners

partners = lookups.partners
partner_transport = lookups.partner_transport

LIMIT = 1024 * 1024
DEADLINE_SECONDS = 0.8
QUOTAS = {"per_user_per_hour": 3, "per_organisation_per_day": 5, "people_per_incident": 2}
# The paginated routes there are today, with their caps; a new one must be added here on purpose.
PAGINATED = {
    ("GET", "/v1/incidents"): 200,
    ("GET", "/v1/crisis-plans"): 100,
    ("GET", "/v1/notifications"): 100,
    ("GET", "/v1/audit-events"): 200,
    ("GET", "/v1/break-glass-reviews"): 200,
    ("GET", "/v1/crisis-plan-relationship-reviews"): 100,
}
# Who holds each scope that opens a paginated route: (role, organisation, purpose).
HOLDERS = {
    Scope.incident_review: ("supervisor", "NSP", "supervision"),
    Scope.crisis_plan_read: ("mh_practitioner", "RQI", "crisis-planning"),
    Scope.notification_read: ("mh_practitioner", "RQI", "crisis-planning"),
    Scope.audit_read: ("ig_officer", "NSP", "audit"),
}


def _small_quotas(document: dict[str, Any]) -> None:
    document["agreement"]["lookup_quotas"] = QUOTAS


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(
        settings, tmp_path, _small_quotas, lookup_deadline_seconds=DEADLINE_SECONDS
    )


def too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/body-too-large")


# --- request bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("/v1/incidents", "application/json"),
        ("/v1/crisis-plans", "application/json"),
        ("/v1/token", "application/x-www-form-urlencoded"),
    ],
)
async def test_a_declared_body_over_the_limit_is_413_before_a_byte_is_read(
    client: httpx.AsyncClient, exchanger: Exchanger, url: str, content_type: str
) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    reads = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal reads
        reads += 1
        yield b"{}"

    response = await client.post(
        url,
        content=body(),
        headers=bearer(token) | {"content-length": str(LIMIT + 1), "content-type": content_type},
    )
    too_large(response)
    assert reads == 0


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("/v1/incidents", "application/json"),
        ("/v1/token", "application/x-www-form-urlencoded"),
    ],
)
async def test_a_streamed_body_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, exchanger: Exchanger, url: str, content_type: str
) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB offered, in 64 KiB chunks
            sent += 1
            yield b" " * 64 * 1024

    response = await client.post(
        url, content=chunks(), headers=bearer(token) | {"content-type": content_type}
    )
    assert "content-length" not in response.request.headers
    too_large(response)
    # The reading stopped at the limit (16 chunks) and the chunk past it.
    assert sent <= LIMIT // (64 * 1024) + 2


async def test_a_body_within_the_limit_is_still_served(exchanger: Exchanger) -> None:
    """The control: the limit is the limit, not a refusal of big-ish bodies."""
    token = await exchanger.token("officer", "NSP", "street-triage")
    raw = (json.dumps(incident_payload()) + " " * (LIMIT - 2048)).encode()
    assert LIMIT - 2048 < len(raw) <= LIMIT
    response = await exchanger.client.post(
        "/v1/incidents",
        content=raw,
        headers=bearer(token) | {"content-type": "application/json"},
    )
    assert response.status_code == 201, response.text


async def test_json_nested_past_the_parsers_depth_is_400_not_500(exchanger: Exchanger) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    depth = 200_000
    started = time.monotonic()
    response = await exchanger.client.post(
        "/v1/incidents",
        content=b"[" * depth + b"]" * depth,
        headers=bearer(token) | {"content-type": "application/json"},
    )
    assert time.monotonic() - started < 5
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


# --- page sizes ----------------------------------------------------------------------------------


def _response_is_a_page(route: Route) -> bool:
    if route.dependant is None:
        return False
    model = getattr(route.dependant.call, "__annotations__", {}).get("return")
    return (
        isinstance(model, type)
        and issubclass(model, BaseModel)
        and "next_cursor" in model.model_fields
    )


def test_every_paginated_route_caps_its_page_size(app: FastAPI) -> None:
    routes = app_routes(app)
    paginated = {
        route.key: query_limit_cap(route) for route in routes if has_limit_parameter(route)
    }
    assert paginated == PAGINATED
    pages = {route.key for route in routes if _response_is_a_page(route)}
    assert pages == set(PAGINATED), "a route answers a page but takes no capped limit"


@pytest.mark.parametrize(("method", "path"), list(PAGINATED))
async def test_a_limit_above_the_cap_is_422_and_the_cap_is_served(
    app: FastAPI, exchanger: Exchanger, method: str, path: str
) -> None:
    route = next(route for route in app_routes(app) if route.key == (method, path))
    assert route.scopes is not None
    scope = next(scope for scope in sorted(route.scopes) if scope in HOLDERS)
    token = await exchanger.token(*HOLDERS[scope])
    cap = PAGINATED[(method, path)]
    for limit in (cap + 1, 10**12, 0, -1):
        refused = await exchanger.client.get(path, params={"limit": limit}, headers=bearer(token))
        assert refused.status_code == 422, (limit, refused.text)
        locations = [param["location"] for param in refused.json()["invalid_params"]]
        assert locations == ["query.limit"]
    served = await exchanger.client.get(path, params={"limit": cap}, headers=bearer(token))
    assert served.status_code == 200, served.text


async def test_a_report_covers_at_most_five_years(exchanger: Exchanger) -> None:
    token = bearer(await exchanger.token("supervisor", "NSP", "supervision"))
    url = "/v1/reports/outcomes"
    longest = await exchanger.client.get(
        url, params={"from": "2020-01-01", "to": "2025-01-01"}, headers=token
    )
    assert longest.status_code == 200, longest.text
    longer = await exchanger.client.get(
        url, params={"from": "2020-01-01", "to": "2025-01-02"}, headers=token
    )
    assert longer.status_code == 400
    assert longer.json()["type"].endswith("/invalid-report-period")


# --- lookup quotas -------------------------------------------------------------------------------


def quota_refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/lookup-quota-exceeded")
    return body


async def test_the_hourly_quota_is_429_with_retry_after_and_asks_no_partner(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    incident_id = await scene(exchanger)
    for _ in range(QUOTAS["per_user_per_hour"]):
        ok = await look_up(exchanger, incident_id, {"nhs_number": "9000000009"})
        assert ok.status_code == 200
    partners.requests.clear()
    refused = await look_up(exchanger, incident_id, {"nhs_number": "9000000009"})
    assert "hour" in quota_refusal(refused)["detail"]
    assert refused.headers["retry-after"] == "3600"
    assert partners.requests == []


async def test_the_daily_organisation_quota_is_429_with_retry_after(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    done = 0
    for officer in range(3):
        incident_id = await scene(exchanger)
        subject = exchanger.idp.token("officer", "NSP", sub=f"pc-{officer}")
        for _ in range(2):
            if done == QUOTAS["per_organisation_per_day"]:
                break
            response = await look_up(
                exchanger, incident_id, {"nhs_number": "9000000009"}, subject_token=subject
            )
            assert response.status_code == 200, response.text
            done += 1
    partners.requests.clear()
    refused = await look_up(exchanger, await scene(exchanger), {"nhs_number": "9000000009"})
    assert "today" in quota_refusal(refused)["detail"]
    assert partners.requests == []
    assert int(refused.headers["retry-after"]) > 0


async def test_the_people_per_incident_quota_is_429_and_asks_no_partner(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    """No `Retry-After` is promised here: the limit is the incident's for good."""
    incident_id = await scene(exchanger)
    for number in ("9000000009", "9000000025"):
        assert (await look_up(exchanger, incident_id, {"nhs_number": number})).status_code == 200
    partners.requests.clear()
    refused = await look_up(exchanger, incident_id, {"nhs_number": "9000000033"})
    assert "incident" in quota_refusal(refused)["detail"]
    assert partners.requests == []


# --- slow partners -------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["hanging", "dripping"])
async def test_slow_partners_never_hold_a_lookup_past_its_deadline(
    exchanger: Exchanger, partners: FakePartners, fault: str
) -> None:
    incident_id = await scene(exchanger)
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    getattr(partners, fault).update(HOSTS.values())
    started = time.monotonic()
    response = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/flag-lookups",
        json={"nhs_number": "9000000009"},
        headers=bearer(token),
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert elapsed < DEADLINE_SECONDS + 0.3, elapsed
    statuses = {source["name"]: source["status"] for source in response.json()["sources"]}
    assert statuses == dict.fromkeys(HOSTS.values(), "unavailable") | {"local": "not_found"}
    assert response.json()["known_to_services"] == "unknown"


async def test_a_token_exchange_form_field_is_capped(client: httpx.AsyncClient) -> None:
    """The exchange reads an identity token from the form; a megabyte-sized one is refused as
    an invalid request before any signature work."""
    response = await client.post(
        "/v1/token",
        data={
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": "x" * 200_000,
            "subject_token_type": JWT_TOKEN_TYPE,
            "purpose": "street-triage",
            "incident_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- anonymous traffic costs nothing (issue 13, item 6) ------------------------------------------


async def _chain_seq(connection: AsyncConnection) -> int:
    await connection.execute(text("RESET ROLE"))
    # Events written, whether sealed into the log yet or not.
    return int((await connection.execute(text("SELECT count(*) FROM audit_event"))).scalar_one())


def _limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/rate-limited")
    assert int(response.headers["retry-after"]) >= 1


async def test_anonymous_requests_chain_nothing_and_are_held_to_a_rate_per_address(
    app: FastAPI, client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    """Before: each refusal appended its own row to the audit chain, without limit. Now refusals
    without a verifiable token are counted in memory (written once a minute, one event per route,
    reason and address), and past the default burst of 40 an address gets 429."""
    before = await _chain_seq(connection)
    statuses = []
    for _ in range(200):
        response = await client.get(f"/v1/incidents/{uuid.uuid4()}")
        statuses.append(response.status_code)
        if response.status_code != 401:
            break
    assert statuses[:40] == [401] * 40
    _limited(response)
    assert await _chain_seq(connection) == before
    counted = app.state.anonymous_traffic.refusals.drain()  # not written at shutdown, elsewhere
    assert sum(tally.count for tally in counted.values()) == len(statuses)


async def test_the_token_endpoint_is_held_to_a_rate_per_address(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": "not-a-token",
        "subject_token_type": JWT_TOKEN_TYPE,
        "purpose": "street-triage",
    }
    statuses = []
    for _ in range(200):
        response = await client.post("/v1/token", data=form)
        statuses.append(response.status_code)
        if response.status_code != 400:
            break
    assert statuses[:20] == [400] * 20
    _limited(response)
    app.state.anonymous_traffic.refusals.drain()


# --- incidents opened per user per hour (issue 13, item 7) ---------------------------------------


async def test_opening_incident_after_incident_is_held_to_the_hourly_quota(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    """Before: each new incident came with a fresh people-per-incident lookup limit, so opening
    more incidents reset it without bound. Now a user opens at most the agreement's
    `incident_quotas.per_user_per_hour` (20 in the demo) in an hour."""
    await open_past_the_quota(exchanger, 20)
    assert partners.requests == []
