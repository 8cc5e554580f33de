"""API9:2023 Improper Inventory Management.

The API's inventory is its OpenAPI document, and it is complete and true: every route the app
serves (read from the app) is in it, or in the explicit list of routes kept out of it on purpose;
every operation in it is served; business routes are versioned under `/v1`; every protected
operation declares the bearer scheme with the scopes its Authorizer accepts, and its 401 and 403
answers, and every public one declares `security: []`. With `docs_enabled=False`, as the Docker
image runs, the documentation and the document itself are 404.
"""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings
from models import Scope
from tests.owasp.routes import DOCS_ROUTES, PUBLIC_ROUTES, app_routes

# Served, and kept out of the OpenAPI document on purpose.
UNDOCUMENTED = DOCS_ROUTES | {
    ("GET", "/metrics"),  # Prometheus text, scraped from inside the network
    ("GET", "/dashboard"),  # an HTML page, not an API operation
    ("GET", "/app"),  # the tablet app's shell and files
    ("GET", "/app/{file_name}"),
    ("GET", "/agreement"),  # the agreement in words, a page
}
# Outside `/v1` on purpose: probes, metrics, the well-known key sets, documentation, the pages,
# browser sign-in.
UNVERSIONED = DOCS_ROUTES | {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/dashboard"),
    # Browser sign-in: the callback is an address registered with each provider, and none of
    # these is a business operation.
    ("GET", "/auth/providers"),
    ("GET", "/auth/login"),
    ("GET", "/auth/callback"),
    ("GET", "/auth/session"),
    ("POST", "/auth/session/token"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/jwks.json"),
    ("GET", "/app"),
    ("GET", "/app/{file_name}"),
    ("GET", "/agreement"),
}
SCHEME = "PurposeBoundToken"
SCOPES_SCHEME = "TokenScopes"
DOCUMENTATION_PATHS = ("/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    assert settings.docs_enabled, "these tests read the document the app serves"
    return settings


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {
        (method.upper(), path): operation
        for path, item in paths.items()
        for method, operation in item.items()
    }


async def test_every_served_route_is_documented_or_listed_as_undocumented(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    served = {route.key for route in app_routes(app)}
    documented = set(operations(await openapi(client)))
    assert served >= UNDOCUMENTED, "a route listed as undocumented is no longer served"
    assert served - documented == UNDOCUMENTED
    assert documented - served == set(), "the document names an operation nobody serves"


async def test_business_routes_are_versioned(app: FastAPI) -> None:
    unversioned = {route.key for route in app_routes(app) if not route.path.startswith("/v1/")}
    assert unversioned == UNVERSIONED


async def test_protected_operations_declare_the_bearer_scheme_and_scopes_and_public_ones_none(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    document = await openapi(client)
    components = document["components"]
    assert isinstance(components, dict)
    scheme = components["securitySchemes"][SCHEME]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    scopes_scheme = components["securitySchemes"][SCOPES_SCHEME]
    assert scopes_scheme["type"] == "oauth2"
    listed = set(scopes_scheme["flows"]["clientCredentials"]["scopes"])
    assert listed == {scope.value for scope in Scope}
    documented = operations(document)
    protected = [route for route in app_routes(app) if route.protected]
    assert protected
    wrong = []
    for route in app_routes(app):
        operation = documented.get(route.key)
        if operation is None:
            continue
        security = operation.get("security")
        responses = operation["responses"]
        assert isinstance(responses, dict)
        if route.scopes is not None:
            # One requirement per scope the route's Authorizer accepts: any one of them opens it.
            expected = sorted(
                ({SCHEME: [], SCOPES_SCHEME: [scope.value]} for scope in route.scopes),
                key=str,
            )
            if sorted(security or [], key=str) != expected or not {"401", "403"} <= set(responses):
                wrong.append(f"{route}: security {security}, responses {sorted(responses)}")
        elif security != []:
            wrong.append(f"{route}: public but declares {security}")
    assert wrong == []
    public_documented = {key for key in PUBLIC_ROUTES if key in documented}
    assert public_documented, "no public operation documented: the check above proved nothing"


async def test_documentation_is_404_when_disabled(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"docs_enabled": False}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://triage.test",
        ) as client,
    ):
        for path in DOCUMENTATION_PATHS:
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
            assert "openapi" not in response.text.lower()
        assert (await client.get("/healthz")).status_code == 200
    served = {route.key for route in app_routes(app)}
    assert served & DOCS_ROUTES == set()


async def test_documentation_is_served_when_enabled(client: httpx.AsyncClient) -> None:
    """The control for the test above: the same paths do answer when docs are on."""
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200
