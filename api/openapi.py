"""The OpenAPI document, made complete: every response a route can give is declared, as it is sent.

FastAPI declares what routes name. What the layers around them add is declared here, once: a body
that is not JSON (400) or too large (413), invalid input (422, as problem+json, not FastAPI's
default shape), the database out of reach (503), and the last-resort 500; and, on every route
behind a token, 401 and 403. Every error is `application/problem+json` with the Problem schema.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}

EVERY_ROUTE = {
    "500": "The server could not complete the request",
    "503": "The database cannot be reached just now; nothing was saved",
}
WITH_BODY = {
    "400": "The body is not well-formed JSON",
    "413": "The body is larger than the service accepts",
}
WITH_INPUT = {"422": "The request failed validation; `invalid_params` says where"}
WITH_TOKEN = {
    "401": "No valid access token",
    "403": "The token's purpose or scope does not allow this",
}


def complete_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            _complete(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    # FastAPI's own validation error shapes are never sent: 422 is a problem document.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    app.openapi_schema = document
    return document


def _complete(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    extra = dict(EVERY_ROUTE)
    if "requestBody" in operation:
        extra |= WITH_BODY
    if "requestBody" in operation or operation.get("parameters"):
        extra |= WITH_INPUT
    if operation.get("security"):
        extra |= WITH_TOKEN
    for status, description in extra.items():
        responses.setdefault(status, {"description": description})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            # Declared once, as sent: problem+json only.
            response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}}
