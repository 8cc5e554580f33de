"""The OpenAPI document is one a client can be generated from: short unique operation ids, every
header declared where the code reads or sends it, the lookup's answer discriminated by `view`, a
valid example on every request body, described tags, and servers.

The document is built from an app that is never started: building it needs no database.
"""

import inspect
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import ValidationError

from api.app import create_app
from api.openapi import (
    CONDITIONAL,
    CREATING,
    IDEMPOTENT,
    OPERATION_ID_MAX_LENGTH,
    SCOPES,
    SCOPES_SCHEME,
    VERSIONED,
    operation_id,
)
from api.settings import Environment, Settings
from models import Scope
from models.contact_hours import HoursPeriod

CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")
# Whether the API takes each as a time of day in contact hours.
WALL_CLOCK = {"09:00": True, "17:30:00": True, "09:00+01:00": False, "24:00": False}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(environment=Environment.development, docs_enabled=True))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every documented route as mounted, prefix and all."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            yield context


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
    }


def test_operation_ids_are_short_unique_camel_case_route_names(
    app: FastAPI, document: dict[str, Any]
) -> None:
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    ]
    assert len(ids) == len(set(ids)) > 40
    too_long = [name for name in ids if len(name) > OPERATION_ID_MAX_LENGTH]
    assert too_long == []
    assert [name for name in ids if not CAMEL_CASE.match(name)] == []
    assert sorted(ids) == sorted(operation_id(route) for route in routes(app))
    assert "lookupCrisisFlag" in ids


def test_header_declarations_match_what_each_route_reads_and_sends(app: FastAPI) -> None:
    """The tables that declare headers are checked against each route's own code."""
    found: dict[str, set[str]] = {"idempotent": set(), "conditional": set(), "required": set()}
    found |= {"versioned": set(), "creating": set()}
    for route in routes(app):
        assert route.endpoint is not None
        source = inspect.getsource(route.endpoint)
        name = operation_id(route)
        if "idempotency.claim(" in source:
            found["idempotent"].add(name)
        if "version_check(" in source or "require_if_match(" in source:
            found["conditional"].add(name)
            if "require_no_if_match(" not in source:
                found["required"].add(name)
        if "etag(" in source:
            found["versioned"].add(name)
        if '"Location"' in source:
            found["creating"].add(name)
    assert found["idempotent"] == IDEMPOTENT
    assert found["conditional"] == set(CONDITIONAL)
    assert found["required"] == {name for name, required in CONDITIONAL.items() if required}
    assert found["versioned"] == VERSIONED
    assert found["creating"] == CREATING


def _header_parameters(operation: dict[str, Any]) -> dict[str, bool]:
    """Each header parameter's name, and whether it is required."""
    return {
        parameter["name"]: parameter["required"]
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
    }


def test_every_header_is_declared_where_it_is_used(document: dict[str, Any]) -> None:
    for name, operation in operations(document).items():
        parameters = _header_parameters(operation)
        assert "X-Request-ID" in parameters, name
        assert ("Idempotency-Key" in parameters) == (name in IDEMPOTENT), name
        assert parameters.get("If-Match") == CONDITIONAL.get(name), name
        responses = operation["responses"]
        for status, response in responses.items():
            headers = set(response["headers"])
            assert "X-Request-ID" in headers, (name, status)
            if status in {"429", "503"}:
                assert "Retry-After" in headers, (name, status)
            if status in {"401", "403"} and operation["security"]:
                assert "WWW-Authenticate" in headers, (name, status)
            if status.startswith("2"):
                assert ("ETag" in headers) == (name in VERSIONED), (name, status)
                assert ("Idempotent-Replayed" in headers) == (name in IDEMPOTENT), (name, status)
        assert ("Location" in responses.get("201", {}).get("headers", {})) == (name in CREATING)
    referenced = re.findall(r"'#/components/headers/(\w+)'", repr(document))
    assert set(referenced) == set(document["components"]["headers"])


def test_times_of_day_are_declared_as_the_api_takes_and_gives_them(
    document: dict[str, Any],
) -> None:
    """Contact hours are wall-clock times without an offset, which JSON Schema's `time` refuses."""
    period = document["components"]["schemas"]["HoursPeriod"]["properties"]
    assert '"format": "time"' not in json.dumps(document)
    for name in ("opens", "closes"):
        pattern = re.compile(period[name]["pattern"])
        matches = {value: bool(pattern.match(value)) for value in WALL_CLOCK}
        assert matches == WALL_CLOCK, name
    # The table is the model's own behaviour.
    for value, taken in WALL_CLOCK.items():
        try:
            HoursPeriod.model_validate({"days": ["mon"], "opens": value, "closes": "18:00"})
        except ValidationError:
            assert not taken, value
        else:
            assert taken, value


def test_the_flag_answer_is_discriminated_by_view(document: dict[str, Any]) -> None:
    answer = operations(document)["lookupCrisisFlag"]["responses"]["200"]["content"]
    schema = answer["application/json"]["schema"]
    assert schema["discriminator"] == {
        "propertyName": "view",
        "mapping": {
            "officer": "#/components/schemas/OfficerFlag",
            "practitioner": "#/components/schemas/PractitionerFlag",
        },
    }
    schemas = document["components"]["schemas"]
    for name, view in (("OfficerFlag", "officer"), ("PractitionerFlag", "practitioner")):
        assert "view" in schemas[name]["required"]
        assert schemas[name]["properties"]["view"]["const"] == view


def test_every_request_body_has_examples_its_route_accepts(app: FastAPI) -> None:
    document = app.openapi()
    checked = 0
    for route in routes(app):
        operation = operations(document)[operation_id(route)]
        if route.body_field is None:
            assert "requestBody" not in operation
            continue
        for media in operation["requestBody"]["content"].values():
            assert media["examples"], operation["operationId"]
            for example in media["examples"].values():
                assert example["summary"]
                _, errors = route.body_field.validate(example["value"], {}, loc=("body",))
                assert not errors, (operation["operationId"], errors)
                checked += 1
    assert checked >= 16


def test_scopes_are_listed_per_operation_on_an_oauth2_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"][SCOPES_SCHEME]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/v1/token"
    assert set(flow["scopes"]) == {scope.value for scope in Scope} == set(SCOPES)
    lookup = operations(document)["lookupCrisisFlag"]
    assert lookup["security"] == [
        {"PurposeBoundToken": [], SCOPES_SCHEME: [Scope.crisis_flag_lookup.value]}
    ]
    assert operations(document)["exchangeIdentityToken"]["security"] == []


def test_tags_are_described_and_servers_named(document: dict[str, Any]) -> None:
    used = {tag for operation in operations(document).values() for tag in operation["tags"]}
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert set(described) == used
    assert all(described.values())
    assert [server["url"] for server in document["servers"]] == ["/", "http://127.0.0.1:8000"]
    # FastAPI's body schema names would become a client's class names.
    assert not [name for name in document["components"]["schemas"] if name.startswith("Body_")]
