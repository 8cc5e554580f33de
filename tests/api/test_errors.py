"""Every error is RFC 9457 problem+json with the right status, and says nothing it should not."""

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from api.dependencies import SessionDep
from api.errors import PROBLEM_CONTENT_TYPE, ServiceError
from api.log import JsonFormatter, RequestIdFilter
from models import Organisation, OrganisationKind

NHS_NUMBER = "9000000009"


class Thing(BaseModel):
    name: str = Field(max_length=20)
    count: int


class ThingConflictError(ServiceError):
    status = 409
    type_slug = "thing-conflict"
    title = "Thing conflicts"


router = APIRouter(prefix="/test")


@router.post("/things")
async def create_thing(thing: Thing) -> Thing:
    """Echo a valid thing."""
    return thing


@router.get("/boom")
async def explode() -> None:
    """Fail with an exception whose message carries personal data."""
    raise RuntimeError(f"lookup failed for {NHS_NUMBER}")


@router.post("/write-then-refuse")
async def write_then_refuse(session: SessionDep) -> None:
    """Write a row, then refuse: the write must not survive."""
    session.add(Organisation(code="ZZTEST1", name="Refused", kind=OrganisationKind.nhs_trust))
    await session.flush()
    raise ThingConflictError("The thing conflicts with another.")


@router.post("/write-that-fails-at-commit")
async def write_that_fails_at_commit(session: SessionDep) -> dict[str, str]:
    """Add a row that breaks a unique constraint only when the transaction commits."""
    session.add(Organisation(code="NSP", name="Duplicate", kind=OrganisationKind.police_force))
    return {"status": "written"}


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/no-such-thing"), 404)
    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"


async def test_wrong_method_is_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


async def test_malformed_json_is_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/test/things",
        content=b'{"name": "a", "count": ',
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 400)
    assert body["type"].endswith("/malformed-json")


async def test_invalid_payload_is_422_problem_without_the_input(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/test/things", json={"name": NHS_NUMBER * 3, "count": NHS_NUMBER + "x"}
    )
    body = assert_problem(response, 422)
    assert body["type"].endswith("/validation")
    locations = {param["location"] for param in body["invalid_params"]}
    assert locations == {"body.name", "body.count"}
    assert NHS_NUMBER not in response.text


async def test_declared_body_over_limit_is_413_before_reading(client: httpx.AsyncClient) -> None:
    reads = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal reads
        reads += 1
        yield b"x"

    oversized = str(2 * 1024 * 1024)
    response = await client.post(
        "/test/things",
        content=body(),
        headers={"content-length": oversized, "content-type": "application/json"},
    )
    body_json = assert_problem(response, 413)
    assert body_json["type"].endswith("/body-too-large")
    assert reads == 0


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 64 * 1024

    response = await client.post(
        "/test/things", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


async def test_body_at_the_limit_is_read(client: httpx.AsyncClient) -> None:
    padding = " " * (1024 * 1024 - 40)
    payload = ('{"name": "a", "count": 1}' + padding).encode()
    assert len(payload) <= 1024 * 1024
    response = await client.post(
        "/test/things", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"name": "a", "count": 1}


async def test_unhandled_exception_is_500_problem_without_trace(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        response = await client.get("/test/boom", headers={"x-request-id": "req-500-check"})
    body = assert_problem(response, 500)
    assert body["request_id"] == "req-500-check"
    assert body["type"].endswith("/internal-error")
    assert NHS_NUMBER not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text

    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    failure = next(line for line in lines if line["event"] == "http.unhandled_exception")
    assert failure["exception.type"] == "RuntimeError"
    assert failure["request_id"] == "req-500-check"
    assert "explode" in failure["exception.stacktrace"]
    assert all(NHS_NUMBER not in formatter.format(record) for record in caplog.records)


async def test_service_error_renders_its_problem_and_rolls_back(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    body = assert_problem(await client.post("/test/write-then-refuse"), 409)
    assert body["type"].endswith("/thing-conflict")
    assert body["detail"] == "The thing conflicts with another."
    written = await connection.scalar(
        select(Organisation.id).where(col(Organisation.code) == "ZZTEST1")
    )
    assert written is None


async def test_failed_commit_is_500_not_200(client: httpx.AsyncClient) -> None:
    # The commit happens before the response is sent, so a write that fails to commit is never acknowledged.
    response = await client.post("/test/write-that-fails-at-commit")
    assert_problem(response, 500)
    assert "written" not in response.text
