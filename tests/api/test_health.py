"""Liveness, and readiness that tells a reachable, migrated database from one that is not."""

import dataclasses

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from api.database import build_database
from api.errors import PROBLEM_CONTENT_TYPE
from api.resources import Resources
from api.settings import Settings


async def test_healthz_is_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_readyz_is_ready_with_database_at_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


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


async def test_readyz_is_503_when_schema_behind(client: httpx.AsyncClient, app: FastAPI) -> None:
    original = _swap_resources(app, expected_revision="9999_not_yet_applied")
    try:
        response = await client.get("/readyz")
    finally:
        app.state.resources = original
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "schema_behind"}
