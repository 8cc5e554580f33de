"""Time is the server's, and bad input is a clear 422, never a 500.

An incident's time of call may be at most the agreement's number of days before the server
receives it; the server records when it did (`opened_at`), and retention counts from the later of
the two. Every string a request carries, in any route's body, form or query, is refused with a 422
naming it when it holds a control character other than tab, newline or CRLF; every date and time,
in a body or a query, outside the years 1900-2100 likewise. Incidents opened per user per hour
have a quota in the agreement, held under concurrency.
"""

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from api.incident.service import time_of_call_problem
from api.settings import DEMO_PARTNERSHIP_FILE, Settings, async_database_url
from models.validation import PlausibleDate, PlausibleDatetime, has_refused_character
from tests.api.test_retention import incident_trail, person_of, purge
from tests.conftest import Committing, Exchanger, bearer
from tests.factories import incident_payload
from tests.owasp.routes import app_routes, token_scopes
from tests.problems import problem
from tests.report_data import Subject, make_incident

QUOTA = 3
# Not the demo's 7: the window is the agreement's, not a constant of the code.
MAX_AGE_DAYS = 10
NUL = "before\x00after"
YEAR_9999 = {"date": "9999-12-31", "date-time": "9999-12-31T23:59:59+00:00"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    document["agreement"]["incident_quotas"] = {"per_user_per_hour": QUOTA}
    document["agreement"]["incident_time_of_call_max_age_days"] = MAX_AGE_DAYS
    path = tmp_path / "partnership.yaml"
    path.write_text(yaml.safe_dump(document))
    # One request per text field of every route, public ones included, from one address.
    return settings.model_copy(update={"partnership_file": path, "rate_limit_token_burst": 100_000})


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def invalid_locations(response: httpx.Response) -> set[str]:
    body = problem(response, 422, "validation")
    return {param["location"] for param in body.get("invalid_params", [])}


# --- the rules, as tables -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("Man on the bridge, calm now", False),
        ("line one\nline two", False),
        ("line one\r\nline two (a tablet's line ending)", False),
        ("column\tcolumn", False),
        ("Zoë, 北京, café ☕", False),
        ("zero\u200bwidth and line\u2028separator (formatting, not control)", False),
        ("NUL \x00 inside", True),
        ("\x00", True),
        ("a lone carriage return\rrewrites the line", True),
        ("ends with a carriage return\r", True),
        ("escape \x1b[2J clears a terminal", True),
        ("bell \x07", True),
        ("vertical tab \x0b and form feed \x0c", True),
        ("delete \x7f", True),
        ("C1 next line \x85", True),
        ("unpaired surrogate \ud800", True),
    ],
)
def test_which_characters_free_text_may_hold(value: str, refused: bool) -> None:
    assert has_refused_character(value) is refused


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (date(1899, 12, 31), False),
        (date(1900, 1, 1), True),
        (date(2026, 11, 29), True),
        (date(2100, 12, 31), True),
        (date(2101, 1, 1), False),
        (date(9999, 12, 31), False),
        (date(1, 1, 1), False),
    ],
)
def test_dates_fall_in_the_years_1900_to_2100(value: date, accepted: bool) -> None:
    moment = datetime(value.year, value.month, value.day, 12, tzinfo=UTC)
    for adapter, given in (
        (TypeAdapter(PlausibleDate), value),
        (TypeAdapter(PlausibleDatetime), moment),
    ):
        if accepted:
            assert adapter.validate_python(given) == given
        else:
            with pytest.raises(ValidationError, match="years 1900 to 2100"):
                adapter.validate_python(given)


RECEIVED = datetime(2026, 11, 29, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("called", "max_age_days", "refused"),
    [
        (RECEIVED - timedelta(minutes=50), 7, False),
        (RECEIVED - timedelta(days=7), 7, False),
        (RECEIVED - timedelta(days=7, seconds=1), 7, True),
        (RECEIVED - timedelta(days=2), 1, True),
        (RECEIVED - timedelta(days=2), 3, False),
        (RECEIVED - timedelta(days=365 * 6), 7, True),
    ],
)
def test_a_time_of_call_is_at_most_the_agreements_days_before_it_is_received(
    called: datetime, max_age_days: int, refused: bool
) -> None:
    assert (time_of_call_problem(called, RECEIVED, max_age_days) is not None) is refused


# --- time of call -------------------------------------------------------------------------------


async def test_an_incident_called_further_back_than_the_agreement_allows_is_422(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    years_back = incident_payload(time_of_call_at=days_ago(6 * 365), arrival_at=None)
    refused = await exchanger.client.post("/v1/incidents", json=years_back, headers=officer)
    assert invalid_locations(refused) == {"body.time_of_call_at"}
    assert "days" in refused.json()["detail"]
    past_window = incident_payload(time_of_call_at=days_ago(MAX_AGE_DAYS + 0.01), arrival_at=None)
    refused = await exchanger.client.post("/v1/incidents", json=past_window, headers=officer)
    assert invalid_locations(refused) == {"body.time_of_call_at"}
    assert await connection.scalar(text("SELECT count(*) FROM incident")) == 0


async def test_an_incident_called_within_the_window_records_when_the_server_received_it(
    exchanger: Exchanger,
) -> None:
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    called = days_ago(MAX_AGE_DAYS - 1)
    before = datetime.now(UTC)
    response = await exchanger.client.post(
        "/v1/incidents",
        json=incident_payload(time_of_call_at=called, arrival_at=None),
        headers=officer,
    )
    after = datetime.now(UTC)
    assert response.status_code == 201, response.text
    body = response.json()
    assert datetime.fromisoformat(body["time_of_call_at"]) == datetime.fromisoformat(called)
    assert before <= datetime.fromisoformat(body["opened_at"]) <= after


async def test_a_time_of_call_ahead_of_the_servers_clock_is_422(exchanger: Exchanger) -> None:
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    ahead = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(time_of_call_at=ahead), headers=officer
    )
    assert "body.time_of_call_at" in invalid_locations(response)
    skewed = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    accepted = await exchanger.client.post(
        "/v1/incidents",
        json=incident_payload(time_of_call_at=skewed, arrival_at=None),
        headers=officer,
    )
    assert accepted.status_code == 201, accepted.text


# --- retention counts from the later of call and receipt -----------------------------------------


async def test_an_old_call_received_today_is_kept_with_its_lookups_notifications(
    connection: AsyncConnection,
) -> None:
    """As data brought over by SQL from an earlier system, past the API's window: its call six
    years and more ago, but received today. Purged by its time of call, it took with it the
    custodian's notification and access history of a lookup made today."""
    now = datetime.now(UTC)
    called = now - timedelta(days=7 * 365)
    brought_over = await make_incident(connection, called=called, subjects=[Subject(41)])
    await connection.execute(
        text("UPDATE incident SET opened_at = now() WHERE id = :id"), {"id": brought_over}
    )
    trail = await incident_trail(
        connection, brought_over, await person_of(connection, brought_over), at=now
    )
    # Called and received long ago: this one goes.
    await make_incident(connection, called=called, subjects=[Subject(42)])

    result = await purge(connection, now)

    assert result.deleted["incident"] == 1
    await connection.execute(text("RESET ROLE"))
    kept = await connection.execute(text("SELECT id FROM incident"))
    assert [row.id for row in kept] == [brought_over]
    lookups = await connection.execute(text("SELECT id FROM flag_lookup"))
    assert [row.id for row in lookups] == [trail["lookup"]]
    notifications = await connection.execute(text("SELECT id FROM access_notification"))
    assert [row.id for row in notifications] == [trail["notification"]]


async def test_an_incident_written_by_sql_without_a_receipt_time_gets_the_moment_written(
    connection: AsyncConnection,
) -> None:
    incident = await make_incident(connection, called=datetime(2020, 1, 1, tzinfo=UTC))
    await connection.execute(
        text("UPDATE incident SET opened_at = DEFAULT WHERE id = :id"), {"id": incident}
    )
    received = await connection.scalar(
        text("SELECT opened_at = now() FROM incident WHERE id = :id"), {"id": incident}
    )
    assert received is True


# --- free text: control characters --------------------------------------------------------------


async def test_free_text_keeps_tabs_newlines_and_crlf(exchanger: Exchanger) -> None:
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    written = "Neighbour called.\r\nSeen on the bridge:\tcalm now.\nNo weapon."
    response = await exchanger.client.post(
        "/v1/incidents",
        json=incident_payload(attendance_reason="other", attendance_reason_text=written),
        headers=officer,
    )
    assert response.status_code == 201, response.text
    assert response.json()["attendance_reason_text"] == written


@pytest.mark.parametrize(
    "value", ["a NUL \x00", "escape \x1b[31m", "lone return\rover", "surrogate \ud83d"]
)
async def test_a_control_character_in_free_text_is_422_naming_the_field(
    exchanger: Exchanger, value: str, connection: AsyncConnection
) -> None:
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    payload = incident_payload(attendance_reason="other", attendance_reason_text=value)
    # Escaped as JSON allows (`\u0000`, `\ud83d`): how such text arrives, parsed into a string.
    response = await exchanger.client.post(
        "/v1/incidents",
        content=json.dumps(payload, ensure_ascii=True),
        headers=officer | {"content-type": "application/json"},
    )
    assert invalid_locations(response) == {"body.attendance_reason_text"}
    assert "\x00" not in response.text
    assert await connection.scalar(text("SELECT count(*) FROM incident")) == 0


async def test_a_control_character_in_an_unknown_key_or_a_query_is_422(
    exchanger: Exchanger,
) -> None:
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    nested = incident_payload(location={"area_code": "E01012345", "note\x00": "x"})
    response = await exchanger.client.post("/v1/incidents", json=nested, headers=officer)
    assert "body.location" in invalid_locations(response)
    listed = await exchanger.client.get(
        "/v1/incidents", params={"cursor": "abc\x00"}, headers=officer
    )
    assert invalid_locations(listed) == {"query.cursor"}


# --- every route, from the OpenAPI document -----------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One value a route takes: where (`json`, `form` or `query`), its path, and its format."""

    method: str
    path: str
    where: str
    names: tuple[str, ...]
    format: str | None

    @property
    def location(self) -> str:
        parts = ["0" if name == "[]" else name for name in self.names]
        return ".".join(["query" if self.where == "query" else "body", *parts])

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.location}"


def _fields(
    schema: dict[str, Any], schemas: dict[str, Any], names: tuple[str, ...], seen: frozenset[str]
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen, schema = seen | {name}, schemas[name]
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from _fields(option, schemas, names, seen)
    for name, item in schema.get("properties", {}).items():
        yield from _fields(item, schemas, (*names, name), seen)
    if schema.get("type") == "array":
        yield from _fields(schema.get("items", {}), schemas, (*names, "[]"), seen)
    if schema.get("type") == "string" and "enum" not in schema:
        yield names, schema


def every_field(document: dict[str, Any]) -> list[Field]:
    """Every string a route takes in its body or query, with its format (date, date-time...)."""
    schemas = document["components"]["schemas"]
    found: dict[str, Field] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {})
            for media_type, content in body.items():
                where = "form" if "form" in media_type else "json"
                for names, schema in _fields(content["schema"], schemas, (), frozenset()):
                    field = Field(method.upper(), path, where, names, schema.get("format"))
                    found[str(field)] = field
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for _, schema in _fields(parameter["schema"], schemas, (), frozenset()):
                    field = Field(
                        method.upper(), path, "query", (parameter["name"],), schema.get("format")
                    )
                    found[str(field)] = field
    return list(found.values())


def nested(names: tuple[str, ...], value: Any) -> Any:
    """A body holding `value` at `names` and nothing else ("[]": the first item of a list)."""
    if not names:
        return value
    inner = nested(names[1:], value)
    return [inner] if names[0] == "[]" else {names[0]: inner}


# Who may call what: each route is called with the first of these its Authorizer lets through.
CALLERS = [
    ("officer", "NSP", "street-triage", False),
    ("officer", "NSP", "street-triage", True),
    ("mh_practitioner", "RQI", "crisis-planning", False),
    ("supervisor", "NSP", "supervision", False),
    ("ig_officer", "NSP", "audit", False),
]


@dataclass
class Sweep:
    client: httpx.AsyncClient
    incident_id: str
    # (route key) -> headers of a caller the route's Authorizer lets through, or {} if public
    headers: dict[tuple[str, str], dict[str, str]]

    async def send(self, field: Field, value: str) -> httpx.Response:
        headers = self.headers[field.method, field.path]
        url = field.path.replace("{incident_id}", self.incident_id)
        url = "/".join(
            str(uuid.uuid4()) if part.startswith("{") else part for part in url.split("/")
        )
        arguments: dict[str, Any] = {"headers": headers}
        if field.where == "query":
            arguments["params"] = {field.names[0]: value}
        elif field.where == "form":
            arguments["data"] = {field.names[0]: value}
        else:
            arguments["json"] = nested(field.names, value)
        return await self.client.request(field.method, url, **arguments)


@pytest.fixture
async def sweep(app: FastAPI, exchanger: Exchanger) -> Sweep:
    opener = await exchanger.token("officer", "NSP", "street-triage")
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(opener)
    )
    assert opened.status_code == 201, opened.text
    incident_id = opened.json()["id"]
    tokens = []
    for role, org, purpose, bound in CALLERS:
        token = await exchanger.token(
            role, org, purpose, incident_id=incident_id if bound else None
        )
        tokens.append((token, token_scopes(token)))
    headers: dict[tuple[str, str], dict[str, str]] = {}
    for route in app_routes(app):
        if not route.protected:
            headers[route.key] = {}
            continue
        allowed = [token for token, scopes in tokens if route.allows(scopes)]
        if allowed:
            headers[route.key] = bearer(allowed[0])
    return Sweep(exchanger.client, incident_id, headers)


def test_the_sweep_finds_text_and_dates_in_bodies_forms_and_queries(app: FastAPI) -> None:
    fields = {str(field) for field in every_field(app.openapi())}
    for expected in (
        "POST /v1/incidents body.attendance_reason_text",
        "POST /v1/incidents body.time_of_call_at",
        "PUT /v1/crisis-plans/{plan_id} body.clinical.actions.0.when",
        "POST /v1/token body.justification",
        "GET /v1/reports/outcomes query.from",
        "GET /v1/incidents query.cursor",
    ):
        assert expected in fields


async def test_a_nul_in_any_text_field_of_any_route_is_422_naming_it(
    app: FastAPI, sweep: Sweep
) -> None:
    fields = [field for field in every_field(app.openapi()) if field.format is None]
    failures = []
    for field in fields:
        assert (field.method, field.path) in sweep.headers, f"no caller may call {field}"
        response = await sweep.send(field, NUL)
        if response.status_code != 422 or field.location not in invalid_locations(response):
            failures.append((str(field), response.status_code, response.text[:200]))
    assert failures == []


async def test_a_year_9999_in_any_date_of_any_route_is_422_naming_it(
    app: FastAPI, sweep: Sweep
) -> None:
    fields = [field for field in every_field(app.openapi()) if field.format in YEAR_9999]
    assert len(fields) >= 10
    failures = []
    for field in fields:
        assert (field.method, field.path) in sweep.headers, f"no caller may call {field}"
        assert field.format is not None
        response = await sweep.send(field, YEAR_9999[field.format])
        if response.status_code != 422 or field.location not in invalid_locations(response):
            failures.append((str(field), response.status_code, response.text[:200]))
    assert failures == []


async def test_a_report_for_the_years_9995_to_9999_is_422_naming_both_dates(
    exchanger: Exchanger,
) -> None:
    supervisor = bearer(await exchanger.token("supervisor", "NSP", "supervision"))
    response = await exchanger.client.get(
        "/v1/reports/outcomes",
        params={"from": "9995-01-01", "to": "9999-12-31"},
        headers=supervisor,
    )
    assert invalid_locations(response) == {"query.from", "query.to"}


# --- incidents opened per user per hour ---------------------------------------------------------


async def open_past_the_quota(exchanger: Exchanger, quota: int) -> None:
    """One officer opens `quota` incidents, all 201, and the next is 429 with Retry-After."""
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))
    for number in range(quota):
        opened = await exchanger.client.post(
            "/v1/incidents",
            json=incident_payload(cad_reference=f"LP-QUOTA-{number}"),
            headers=officer,
        )
        assert opened.status_code == 201, opened.text
    refused = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(cad_reference="LP-QUOTA-X"), headers=officer
    )
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/incident-quota-exceeded")
    assert 0 < int(refused.headers["retry-after"]) <= 3600


async def test_opening_past_the_hourly_quota_is_429_with_retry_after_and_audited(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    await open_past_the_quota(exchanger, QUOTA)
    await connection.execute(text("RESET ROLE"))
    denied = await connection.execute(
        text(
            "SELECT actor_organisation_code, route FROM audit_event"
            " WHERE action = 'incident.open' AND outcome = 'denied' AND reason = 'quota'"
        )
    )
    assert [tuple(row) for row in denied] == [("NSP", "/v1/incidents")]
    assert await connection.scalar(text("SELECT count(*) FROM incident")) == QUOTA
    # The quota is the user's: another officer of the force still opens one.
    colleague = await exchanger.token(
        "officer",
        "NSP",
        "street-triage",
        subject_token=exchanger.idp.token("officer", "NSP", sub="pc-2"),
    )
    other = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(colleague)
    )
    assert other.status_code == 201, other.text


async def test_ten_concurrent_opens_against_a_quota_of_three_open_three(
    committing: Committing,
) -> None:
    exchanger = committing.exchanger
    officer = bearer(await exchanger.token("officer", "NSP", "street-triage"))

    async def open_one(number: int) -> int:
        response = await exchanger.client.post(
            "/v1/incidents",
            json=incident_payload(cad_reference=f"LP-STORM-{number}"),
            headers=officer,
        )
        return response.status_code

    statuses = await asyncio.gather(*(open_one(number) for number in range(10)))
    assert sorted(statuses) == [201] * QUOTA + [429] * (10 - QUOTA)

    engine = create_async_engine(async_database_url(committing.url))
    try:
        async with engine.connect() as connection:
            incidents = await connection.scalar(text("SELECT count(*) FROM incident"))
            refusals = await connection.scalar(
                text(
                    "SELECT count(*) FROM audit_event WHERE action = 'incident.open'"
                    " AND outcome = 'denied' AND reason = 'quota'"
                )
            )
    finally:
        await engine.dispose()
    assert (incidents, refusals) == (QUOTA, 10 - QUOTA)


def test_the_demo_agreement_sets_the_window_and_the_quota() -> None:
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())["agreement"]
    assert document["incident_time_of_call_max_age_days"] == 7
    assert document["incident_quotas"] == {"per_user_per_hour": 20}
