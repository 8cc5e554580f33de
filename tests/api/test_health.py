"""Liveness, and readiness: a reachable, migrated database, and each partner's breaker state."""

import dataclasses

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from api.database import build_database
from api.errors import PROBLEM_CONTENT_TYPE
from api.resources import Resources
from api.settings import Settings
from clients.breaker import BreakerState, CircuitBreaker

# The demo partnership's partners, every breaker closed.
ALL_CLOSED = {
    "pds": "closed",
    "nrl": "closed",
    "trust-rqi": "closed",
    "trust-y05868": "closed",
}


async def test_healthz_is_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_readyz_is_ready_with_database_at_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok"},
        "partners": ALL_CLOSED,
    }


def _swap_resources(app: FastAPI, **changes: object) -> Resources:
    resources: Resources = app.state.resources
    app.state.resources = dataclasses.replace(resources, **changes)  # type: ignore[arg-type]
    return resources


async def test_readyz_is_503_when_database_unreachable(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    unreachable = build_database(
        settings.model_copy(
            update={"database_url": SecretStr("postgresql://triage@127.0.0.1:1/triage")}
        )
    )
    original = _swap_resources(app, database=unreachable)
    try:
        response = await client.get("/readyz")
    finally:
        app.state.resources = original
        await unreachable.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["checks"] == {"database": "unreachable"}
    assert response.json()["partners"] == ALL_CLOSED


async def test_readyz_is_503_when_schema_behind(client: httpx.AsyncClient, app: FastAPI) -> None:
    original = _swap_resources(app, expected_revision="9999_not_yet_applied")
    try:
        response = await client.get("/readyz")
    finally:
        app.state.resources = original
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "schema_behind"}


def _open(breaker: CircuitBreaker) -> None:
    while breaker.state == BreakerState.closed:
        breaker.record_failure()


async def test_readyz_is_degraded_but_ready_when_a_partner_breaker_is_open(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    resources: Resources = app.state.resources
    nrl = next(call for call in resources.partners.calls if call.name == "nrl")
    _open(nrl.breaker)
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok"},
        "partners": ALL_CLOSED | {"nrl": "open"},
    }


async def test_readyz_stays_degraded_while_a_breaker_is_half_open(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    resources: Resources = app.state.resources
    pds = next(call for call in resources.partners.calls if call.name == "pds")
    pds.breaker = CircuitBreaker(threshold=1, reset_seconds=0.0)
    pds.breaker.record_failure()
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["partners"]["pds"] == "half_open"


async def test_readyz_is_503_when_not_ready_whatever_the_partners(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    resources: Resources = app.state.resources
    for call in resources.partners.calls:
        _open(call.breaker)
    original = _swap_resources(app, expected_revision="9999_not_yet_applied")
    try:
        response = await client.get("/readyz")
    finally:
        app.state.resources = original
    assert response.status_code == 503
    assert response.json()["partners"] == dict.fromkeys(ALL_CLOSED, "open")
