"""Request and correlation ids, the one-line-per-request log, security headers and metrics."""

import json
import logging

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.log import JsonFormatter, RequestIdFilter, TraceContextFilter, configure_logging
from tests.conftest import METRICS

NHS_NUMBER = "9000000009"

router = APIRouter(prefix="/test")


@router.get("/people/{person_ref}")
async def read_person(person_ref: str) -> dict[str, int]:
    """Answer without echoing the path value."""
    return {"length": len(person_ref)}


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app


async def test_valid_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "car-7:2026-11-21.0412"})
    assert response.headers["x-request-id"] == "car-7:2026-11-21.0412"


@pytest.mark.parametrize(
    "offered",
    ["", "has space", "x" * 129, "semi;colon", "<script>", "-leading-dash"],
)
async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient, offered: str) -> None:
    response = await client.get("/healthz", headers={"x-request-id": offered})
    echoed = response.headers["x-request-id"]
    assert echoed != offered
    assert len(echoed) == 36  # a fresh UUID


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert first != second


async def test_valid_correlation_id_is_echoed(client: httpx.AsyncClient) -> None:
    offered = "3f2a9c1e-7b4d-4e8f-9a6b-2c5d8e1f0a7b"
    response = await client.get("/healthz", headers={"x-correlation-id": offered})
    assert response.headers["x-correlation-id"] == offered
    assert response.headers["x-request-id"] != offered


@pytest.mark.parametrize(
    "offered",
    ["", "has space", "x" * 129, "semi;colon", "<script>", "-leading-dash", "trailing\t"],
)
async def test_invalid_correlation_id_is_replaced_never_echoed(
    client: httpx.AsyncClient, offered: str
) -> None:
    response = await client.get("/healthz", headers={"x-correlation-id": offered})
    echoed = response.headers["x-correlation-id"]
    assert echoed != offered
    assert len(echoed) == 36  # a fresh UUID


async def test_no_correlation_id_is_echoed_when_none_was_sent(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert "x-correlation-id" not in response.headers


async def test_responses_are_not_cached_or_sniffed(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/agreement")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_one_log_line_per_request_with_route_template_not_path(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    caplog.handler.addFilter(TraceContextFilter())
    with caplog.at_level(logging.INFO, logger="api.request"):
        await client.get(f"/test/people/{NHS_NUMBER}", headers={"x-request-id": "log-check-1"})
    formatter = JsonFormatter()
    lines = [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "api.request"
    ]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "http.request"
    assert line["request_id"] == "log-check-1"
    assert line["http.request.method"] == "GET"
    assert line["http.route"] == "/test/people/{person_ref}"
    assert line["http.response.status_code"] == 200
    assert isinstance(line["duration_ms"], float)
    assert "correlation_id" not in line
    # Nothing is traced in this app: no trace id is made up.
    assert "trace_id" not in line
    assert NHS_NUMBER not in json.dumps(line)


async def test_request_log_carries_the_callers_correlation_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="api.request"):
        await client.get("/healthz", headers={"x-correlation-id": "police-case-42"})
    formatter = JsonFormatter()
    (line,) = [json.loads(formatter.format(r)) for r in caplog.records if r.name == "api.request"]
    assert line["correlation_id"] == "police-case-42"


async def test_unmatched_paths_are_logged_without_the_path(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="api.request"):
        await client.get(f"/v1/people/{NHS_NUMBER}")
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == "api.request"]
    assert [line["http.route"] for line in lines] == ["<unmatched>"]
    assert all(NHS_NUMBER not in formatter.format(record) for record in caplog.records)


async def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/healthz")
    await client.get("/healthz")
    await client.get(f"/test/people/{NHS_NUMBER}")
    await client.get("/nowhere")
    response = await client.get("/metrics", headers=METRICS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'triage_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text
    assert (
        'triage_http_requests_total{method="GET",route="/test/people/{person_ref}",status="200"} 1.0'
        in text
    )
    assert 'triage_http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text
    assert (
        'triage_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz",status="200"}'
        in text
    )
    assert NHS_NUMBER not in text


def test_http_client_libraries_never_log_urls_at_info() -> None:
    # A partner URL can carry an NHS number: httpx logs every request URL at INFO.
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("DEBUG")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
