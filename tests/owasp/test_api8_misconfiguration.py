"""API8:2023 Security Misconfiguration.

Every response, of every route and every kind of error (400, 401, 403, 404, 405, 413, 422, 500),
carries `Cache-Control: no-store` (the public key set alone is cacheable, on purpose) and
`X-Content-Type-Options: nosniff`, and says nothing of the server software. A 500, from an
exception or from the database, is a bare problem document: no stack trace, exception type, file,
SQL or data; the app is not in debug mode. CORS is closed: no origin is allowed, a preflight is
refused and no CORS middleware is installed. TRACE echoes nothing. `triage serve` runs uvicorn
without its `Server` header. The settings default to production, where placeholder database
passwords and missing key and agreement files stop the service.
"""

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from starlette.middleware.cors import CORSMiddleware

from api import cli
from api.dependencies import SessionDep
from api.settings import DEMO_PARTNERSHIP_FILE, PLACEHOLDER_SECRETS, Environment, Settings
from tests.conftest import Exchanger, bearer
from tests.factories import incident_payload
from tests.identity_provider import KeyMaterial
from tests.owasp.routes import app_routes

NHS_NUMBER = "9000000009"
SECRET_TABLE = "secret_table_of_people"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "request_id"}
# Cacheable on purpose: public keys, which verifiers should cache (RFC 7517 key sets rotate slowly).
CACHEABLE = {
    "/.well-known/jwks.json": "public, max-age=300",
    "/auth/jwks.json": "public, max-age=300",
}
LEAKS = (
    "Traceback",
    'File "',
    ".py",
    "RuntimeError",
    "sqlalchemy",
    "asyncpg",
    "SELECT",
    NHS_NUMBER,
)

router = APIRouter(prefix="/owasp-test")


@router.get("/boom")
async def explode() -> None:
    raise RuntimeError(f'File "/work/main/api/secret.py", line 1: lookup of {NHS_NUMBER} failed')


@router.get("/database-boom")
async def query_what_is_not_there(session: SessionDep) -> None:
    connection = await session.connection()
    await connection.execute(
        text(f"SELECT nhs_number FROM {SECRET_TABLE} WHERE nhs_number = '{NHS_NUMBER}'")
    )


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app


def assert_hardened(label: str, response: httpx.Response) -> None:
    path = response.request.url.path
    expected = CACHEABLE.get(path, "no-store")
    assert response.headers.get("cache-control") == expected, (label, response.headers)
    assert response.headers.get("x-content-type-options") == "nosniff", label
    assert "server" not in response.headers, label
    assert "x-powered-by" not in response.headers, label
    assert response.headers.get("x-request-id"), label


async def every_kind_of_response(
    app: FastAPI, exchanger: Exchanger
) -> list[tuple[str, httpx.Response]]:
    client = exchanger.client
    opener = await exchanger.token("officer", "NSP", "street-triage")
    opened = await client.post("/v1/incidents", json=incident_payload(), headers=bearer(opener))
    assert opened.status_code == 201
    incident_id = uuid.UUID(opened.json()["id"])
    tokens = {
        "none": None,
        "officer": await exchanger.token(
            "officer", "NSP", "street-triage", incident_id=incident_id
        ),
        "nurse": await exchanger.token("mh_practitioner", "RQI", "crisis-planning"),
        "supervisor": await exchanger.token("supervisor", "NSP", "supervision"),
        "ig": await exchanger.token("ig_officer", "NSP", "audit"),
    }
    answers: list[tuple[str, httpx.Response]] = [("opened", opened)]
    for route in app_routes(app):
        for label, token in tokens.items():
            if not route.protected and token is not None:
                continue
            response = await client.request(
                route.method,
                route.url(incident_id=incident_id),
                json={} if route.has_body and route.path != "/v1/token/revoke" else None,
                data={"token": "x"} if route.path == "/v1/token/revoke" else None,
                headers=bearer(token) if token else {},
            )
            answers.append((f"{label} {route} -> {response.status_code}", response))
    extra = [
        ("unknown path", await client.get("/v1/no-such-thing")),
        ("wrong method", await client.delete("/v1/agreement")),
        (
            "malformed json",
            await client.post(
                "/v1/incidents",
                content=b'{"cad_reference": ',
                headers=bearer(opener) | {"content-type": "application/json"},
            ),
        ),
        (
            "too large",
            await client.post(
                "/v1/incidents",
                content=b"{}",
                headers={
                    "content-length": str(64 * 1024 * 1024),
                    "content-type": "application/json",
                },
            ),
        ),
        ("unhandled", await client.get("/owasp-test/boom")),
        ("database", await client.get("/owasp-test/database-boom")),
    ]
    answers += extra
    seen = {response.status_code for _, response in answers}
    assert {200, 201, 400, 401, 403, 404, 405, 413, 422, 500} <= seen, seen
    return answers


async def test_every_response_is_no_store_nosniff_and_names_no_server(
    app: FastAPI, exchanger: Exchanger
) -> None:
    for label, response in await every_kind_of_response(app, exchanger):
        assert_hardened(label, response)


@pytest.mark.parametrize("path", ["/owasp-test/boom", "/owasp-test/database-boom"])
async def test_a_500_is_a_bare_problem_without_trace_or_data(
    app: FastAPI, client: httpx.AsyncClient, path: str
) -> None:
    assert app.debug is False
    response = await client.get(path, headers={"x-request-id": "owasp-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) <= PROBLEM_MEMBERS
    assert body["type"].endswith("/internal-error")
    assert body["request_id"] == "owasp-500"
    assert [leak for leak in (*LEAKS, SECRET_TABLE) if leak in response.text] == []


async def test_no_origin_is_allowed_cross_origin(app: FastAPI, exchanger: Exchanger) -> None:
    installed = {getattr(middleware, "cls", None) for middleware in app.user_middleware}
    assert CORSMiddleware not in installed
    assert installed, "no middleware found: the check above proved nothing"
    client = exchanger.client
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    origin = {"origin": "https://evil.example"}
    for response in (
        await client.get("/v1/agreement", headers=origin),
        await client.get("/v1/incidents", headers=origin | bearer(supervisor)),
        await client.post("/v1/token", data={"grant_type": "x"}, headers=origin),
    ):
        assert response.status_code in (200, 400)
        assert [name for name in response.headers if name.startswith("access-control-")] == []


@pytest.mark.parametrize("path", ["/v1/incidents", "/v1/token", "/v1/agreement"])
async def test_a_cors_preflight_is_refused(client: httpx.AsyncClient, path: str) -> None:
    response = await client.options(
        path,
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert response.status_code == 405
    assert [name for name in response.headers if name.startswith("access-control-")] == []


async def test_trace_echoes_nothing(client: httpx.AsyncClient) -> None:
    secret = "Bearer do-not-echo-me"
    response = await client.request("TRACE", "/v1/incidents", headers={"authorization": secret})
    assert response.status_code == 405
    assert "do-not-echo-me" not in response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_triage_serve_runs_uvicorn_without_its_server_header(
    monkeypatch: pytest.MonkeyPatch, key_material: KeyMaterial
) -> None:
    for name, value in {
        "TRIAGE_ENVIRONMENT": "production",
        "TRIAGE_DATABASE_URL": "postgresql://triage:Real-secret-1@127.0.0.1:1/triage",
        "TRIAGE_PARTNERSHIP_FILE": str(DEMO_PARTNERSHIP_FILE),
        "TRIAGE_SIGNING_KEYS_FILE": str(key_material.signing_keys_file),
        "TRIAGE_TRUSTED_ISSUERS": str(key_material.trusted_issuers_file),
    }.items():
        monkeypatch.setenv(name, value)
    started: dict[str, Any] = {}

    def run(app: str, **options: Any) -> None:
        started.update(options, app=app)

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)
    assert cli.main(["serve", "--no-migrate"]) == 0
    assert started["app"] == "api.app:create_app_from_environment"
    assert started["server_header"] is False
    assert started["access_log"] is False


def production(password: str) -> Settings:
    return Settings(
        environment=Environment.production,
        database_url=SecretStr(f"postgresql://triage:{password}@db.internal:5432/triage"),
        partnership_file=DEMO_PARTNERSHIP_FILE,
        signing_keys_file=Path("/etc/triage/signing-keys.json"),
        trusted_issuers=Path("/etc/triage/trusted-issuers.yaml"),
    )


@pytest.mark.parametrize(
    "password", sorted(PLACEHOLDER_SECRETS) + [word.upper() for word in sorted(PLACEHOLDER_SECRETS)]
)
def test_production_refuses_a_placeholder_database_password(password: str) -> None:
    with pytest.raises(ValidationError) as refused:
        production(password)
    assert "placeholder password" in str(refused.value)
    assert f":{password}@" not in str(refused.value)


def test_production_accepts_a_real_password() -> None:
    """The control: the refusal above is about the placeholder, not any password."""
    assert production("Zk3-long-random-value").environment == Environment.production


def test_an_unconfigured_service_is_production_and_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("TRIAGE_"):
            monkeypatch.delenv(name)
    assert Settings.model_fields["environment"].default == Environment.production
    with pytest.raises(ValidationError, match="required outside development"):
        Settings()


# --- bad input is a 422 naming the field, never a 500 (issue 13, item 7) -------------------------


async def test_a_nul_in_free_text_is_a_422_naming_the_field_not_a_database_500(
    exchanger: Exchanger,
) -> None:
    """Before: PostgreSQL refused the NUL and the request was a 500. Every route's every string is
    swept in tests/api/test_server_time_and_input.py."""
    opener = await exchanger.token("officer", "NSP", "street-triage")
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(opener)
    )
    incident_id = opened.json()["id"]
    bound = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    response = await exchanger.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"description": "Man, 30s, \x00 on the bridge"},
        headers=bearer(bound),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [param["location"] for param in response.json()["invalid_params"]] == [
        "body.description"
    ]
    assert "on the bridge" not in response.text


async def test_a_report_for_the_years_9995_to_9999_is_a_422_not_a_500(
    exchanger: Exchanger,
) -> None:
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    response = await exchanger.client.get(
        "/v1/reports/outcomes",
        params={"from": "9995-01-01", "to": "9999-12-31"},
        headers=bearer(supervisor),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    locations = {param["location"] for param in response.json()["invalid_params"]}
    assert locations == {"query.from", "query.to"}
