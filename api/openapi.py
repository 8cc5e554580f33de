"""The OpenAPI document, made complete: every response a route can give is declared, as it is sent,
and the document is one a client can be generated from.

FastAPI declares what routes name. What the layers around them add is declared here, once: a body
that is not JSON (400) or too large (413), invalid input (422, as problem+json, not FastAPI's
default shape), the database out of reach (503), and the last-resort 500; and, on every route
behind a token, 401 and 403. Every error is `application/problem+json` with the Problem schema.

For generated clients: operation ids are the route functions' names in camelCase; every header a
route reads or sends is declared (`Idempotency-Key`, `If-Match`, `X-Request-ID` as parameters;
`ETag`, `Location`, `Retry-After`, `WWW-Authenticate`, `X-Request-ID`, `Idempotent-Replayed` on
responses); each protected operation lists the scopes that open it on the `TokenScopes` scheme,
and each public one says `security: []`; every request body has an example; tags are described.
"""

import copy
import json
import sys
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from api.errors import PROBLEM_CONTENT_TYPE
from api.openapi_examples import request_examples
from api.security import Authorizer, bearer_scheme
from models import Scope, utcnow

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

OPERATION_ID_MAX_LENGTH = 30
# Route names whose camelCase would make too long a method name in a generated client.
SHORTER_NAMES = {
    "list_crisis_plan_relationship_reviews": "list_relationship_reviews",
    "complete_crisis_plan_relationship_review": "complete_relationship_review",
}

BEARER_SCHEME = bearer_scheme.scheme_name
SCOPES_SCHEME = "TokenScopes"
SCOPES = {
    Scope.incident_open: "Open an incident; list the incidents you opened",
    Scope.incident_read: "Read the incident the token is bound to, its people and records",
    Scope.incident_write: "Record the bound incident's people, assessment and outcome; close it",
    Scope.incident_amend: "Amend the bound incident's locked assessment, with a reason",
    Scope.incident_review: "Read the organisation's incidents and outcomes (supervision)",
    Scope.crisis_flag_lookup: "Look up crisis flags for the bound incident",
    Scope.crisis_plan_read: "Read, search and trace the organisation's crisis plans",
    Scope.crisis_plan_write: "Write, replace and withdraw the organisation's crisis plans",
    Scope.crisis_plan_break_glass: "In a lookup, see any trust's clinical plan content (audited, "
    "reviewed); opens no operation by itself",
    Scope.notification_read: "Read the organisation's access notifications",
    Scope.report_read: "Read outcome reports",
    Scope.audit_read: "Read the audit trail; subject access reports; complete reviews",
}
TOKEN_SCOPES_SCHEME = {
    "type": "oauth2",
    "description": (
        "The scopes of a purpose-bound token, listed per operation. The token is the one "
        "`PurposeBoundToken` sends: it is obtained at `POST /v1/token` by token exchange "
        "(RFC 8693, `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`), which OpenAPI "
        "has no flow for; the client-credentials flow below names the token URL and the scopes "
        "only, and is not a grant this API accepts. The token carries the scopes its role and "
        "purpose allow; an operation listing several accepts any one of them."
    ),
    "flows": {
        "clientCredentials": {
            "tokenUrl": "/v1/token",
            "scopes": {scope.value: text for scope, text in SCOPES.items()},
        }
    },
}

SERVERS = [
    {"url": "/", "description": "The deployment serving this document"},
    {
        "url": "http://127.0.0.1:8000",
        "description": "`triage demo` or `triage serve` on this machine",
    },
]
TAGS = [
    {"name": "health", "description": "Liveness and readiness, for the platform's probes."},
    {
        "name": "agreement",
        "description": "The data-sharing agreement in force: who may see what, for which purpose.",
    },
    {
        "name": "tokens",
        "description": "An identity token exchanged for a purpose-bound access token; revocation; "
        "the keys that verify our tokens.",
    },
    {
        "name": "sign-in",
        "description": "Browser sign-in for the dashboard and the tablet: an identity provider's "
        "login, a session, and access tokens minted from it.",
    },
    {
        "name": "audit log",
        "description": "The tamper-evident audit log: signed checkpoints and consistency proofs "
        "anyone can verify.",
    },
    {
        "name": "incidents",
        "description": "A street triage incident, opened at the scene, with the people in it.",
    },
    {
        "name": "assessments",
        "description": "The assessment of a person at the scene: versioned, changed with If-Match, "
        "signed.",
    },
    {"name": "outcomes", "description": "What happened to the person, and when."},
    {
        "name": "crisis flags",
        "description": "What NHS partners know about a person, now, shaped by the caller's role: "
        "`view` says whose answer it is.",
    },
    {
        "name": "notifications",
        "description": "A plan-holding organisation is told of every police lookup of its people.",
    },
    {
        "name": "crisis plans",
        "description": "Crisis plans written by the trust that cares for the person: a police "
        "section and a clinical one.",
    },
    {
        "name": "information governance",
        "description": "The audit trail, subject access reports, and reviews of break-glass "
        "access and stated care relationships.",
    },
    {"name": "reports", "description": "Outcome figures over a period, for supervisors."},
]


def _header(description: str, required: bool, **schema: Any) -> dict[str, Any]:
    return {
        "description": description,
        "required": required,
        "schema": {"type": "string", **schema},
    }


def _parameter(name: str, description: str, required: bool, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "header"} | _header(description, required, **schema)


IF_MATCH = "The `ETag` of the version being changed; 412 if it is no longer current."
REQUEST_ID = "The request id; quote it when reporting a problem."
PARAMETERS = {
    "IdempotencyKey": _parameter(
        "Idempotency-Key",
        "Makes a retry safe: the same key and body within 24 hours gets the first answer again "
        "(with `Idempotent-Replayed: true`); another body, 422.",
        False,
        pattern="^[!-~]{1,255}$",
    ),
    "IfMatch": _parameter("If-Match", f"{IF_MATCH} Without it, 428.", True),
    "IfMatchToReplace": _parameter(
        "If-Match", f"{IF_MATCH} Send none to record for the first time.", False
    ),
    "RequestId": _parameter(
        "X-Request-ID",
        "Your id for the request, echoed on the response and in our logs; otherwise one is made.",
        False,
        pattern="^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
    ),
}
HEADERS = {
    "RequestId": _header(REQUEST_ID, True),
    # The gate that turns a flood away answers before the request is given an id.
    "RequestIdIfAny": _header(f"{REQUEST_ID} Absent when refused at the gate.", False),
    "ETag": _header("The record's version, for `If-Match` on the next change.", True),
    "Location": _header("Where the new resource is read.", True, format="uri-reference"),
    "RetryAfter": _header("Seconds to wait before trying again.", False, pattern="^[0-9]+$"),
    "WWWAuthenticate": _header("The bearer challenge (RFC 6750), naming the scope needed.", False),
    "IdempotentReplayed": _header(
        "`true` when this is the stored answer to an earlier request.", False
    ),
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


# Which operations read or send which headers, by operation id; a test checks each set against
# the routes' code, so a route that starts reading a header and is not listed here fails it.
IDEMPOTENT = frozenset(
    {
        "openIncident",
        "closeIncident",
        "addSubject",
        "startAssessment",
        "signAssessment",
        "createCrisisPlan",
        "replaceCrisisPlan",
        "withdrawCrisisPlan",
    }
)
# If-Match, and whether it is required (428 without it) or only for replacing.
CONDITIONAL = {
    "changeAssessment": True,
    "signAssessment": True,
    "replaceCrisisPlan": True,
    "withdrawCrisisPlan": True,
    "recordOutcome": False,
}
VERSIONED = frozenset(
    {
        "startAssessment",
        "readAssessment",
        "changeAssessment",
        "signAssessment",
        "recordOutcome",
        "readOutcome",
        "createCrisisPlan",
        "readCrisisPlan",
        "replaceCrisisPlan",
        "withdrawCrisisPlan",
    }
)
CREATING = frozenset({"openIncident", "createCrisisPlan"})


def operation_id(route: APIRoute | RouteContext) -> str:
    """The route function's name in camelCase: `lookup_crisis_flag` is `lookupCrisisFlag`."""
    assert route.name, "every API route is named after its function"
    first, *rest = SHORTER_NAMES.get(route.name, route.name).split("_")
    return first + "".join(word.capitalize() for word in rest)


def complete_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
        servers=SERVERS,
        tags=TAGS,
        license_info={"name": "Proprietary"},
    )
    scopes = operation_scopes(app)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _name_form_bodies(document, schemas)
    _declare_wall_clock_times(schemas)
    examples = request_examples(utcnow().date())
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            _secure(operation, scopes.get(operation["operationId"]))
            _complete(operation)
            _declare_headers(operation)
            _add_examples(operation, examples)
    components = document["components"]
    # Copies: each app's document is its own to change.
    components["securitySchemes"][SCOPES_SCHEME] = copy.deepcopy(TOKEN_SCOPES_SCHEME)
    components["headers"] = copy.deepcopy(HEADERS)
    # FastAPI's own validation error shapes are never sent: 422 is a problem document.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    app.openapi_schema = document
    return document


def operation_scopes(app: FastAPI) -> dict[str, tuple[Scope, ...]]:
    """The scopes each protected operation's `Authorizer` accepts, by operation id."""
    found: dict[str, tuple[Scope, ...]] = {}
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or context.dependant is None:
            continue
        for dependant in _dependants(context.dependant):
            if isinstance(dependant.call, Authorizer):
                found[operation_id(context)] = dependant.call.scopes
    return found


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def _name_form_bodies(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """FastAPI names a form's schema `Body_<operationId>`; a client's class reads better as
    `<OperationId>Form`."""
    renamed = {
        name: f"{name.removeprefix('Body_')[:1].upper()}{name.removeprefix('Body_')[1:]}Form"
        for name in schemas
        if name.startswith("Body_")
    }
    for old, new in renamed.items():
        schemas[new] = schemas.pop(old)
        schemas[new]["title"] = new
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                if name in renamed:
                    media["schema"]["$ref"] = f"#/components/schemas/{renamed[name]}"


# A time of day as the models take and give it: hours and minutes, seconds optional, no offset.
WALL_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


def _declare_wall_clock_times(schemas: dict[str, Any]) -> None:
    """Times of day here are Europe/London wall-clock times, refused with an offset; JSON Schema's
    `time` format is RFC 3339's full-time, which requires one, so no value the API takes or gives
    would match it. They are declared by a pattern instead."""

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("format") == "time":
                del node["format"]
                node["pattern"] = WALL_CLOCK_TIME
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    visit(schemas)


def _secure(operation: dict[str, Any], scopes: tuple[Scope, ...] | None) -> None:
    if scopes is None:
        operation["security"] = []
        return
    # One requirement per scope: the Authorizer accepts any one of them.
    operation["security"] = [{BEARER_SCHEME: [], SCOPES_SCHEME: [scope.value]} for scope in scopes]


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


def _declare_headers(operation: dict[str, Any]) -> None:
    name = operation["operationId"]
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    # Inline, not referenced: whoever reads a parameter's `in` finds it where it is used.
    if name in IDEMPOTENT:
        parameters.append(copy.deepcopy(PARAMETERS["IdempotencyKey"]))
    if name in CONDITIONAL:
        required = CONDITIONAL[name]
        parameters.append(copy.deepcopy(PARAMETERS["IfMatch" if required else "IfMatchToReplace"]))
    parameters.append(copy.deepcopy(PARAMETERS["RequestId"]))
    for status, response in operation["responses"].items():
        headers: dict[str, Any] = response.setdefault("headers", {})
        headers["X-Request-ID"] = _ref(
            "headers", "RequestIdIfAny" if status == "429" else "RequestId"
        )
        success = status.startswith("2")
        if status in {"429", "503"}:
            headers["Retry-After"] = _ref("headers", "RetryAfter")
        if status in {"401", "403"} and operation["security"]:
            headers["WWW-Authenticate"] = _ref("headers", "WWWAuthenticate")
        if (success and name in VERSIONED) or (status == "412" and name in CONDITIONAL):
            headers["ETag"] = _ref("headers", "ETag")
        if status == "201" and name in CREATING:
            headers["Location"] = _ref("headers", "Location")
        if success and name in IDEMPOTENT:
            headers["Idempotent-Replayed"] = _ref("headers", "IdempotentReplayed")


def _add_examples(operation: dict[str, Any], examples: dict[str, dict[str, Any]]) -> None:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        name = media["schema"]["$ref"].rsplit("/", 1)[-1]
        media["examples"] = examples[name]


def main() -> None:
    """`python -m api.openapi [PATH]`: the document as the app serves it, for linters and client
    generators; no database or keys are needed to build it."""
    from api.app import create_app  # noqa: PLC0415 - the app imports this module
    from api.settings import Environment, Settings  # noqa: PLC0415

    document = create_app(Settings(environment=Environment.development)).openapi()
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as output:
            output.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
