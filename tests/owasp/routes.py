"""Every route of the app, read from the app itself: its method, path template, and the scopes its
`Authorizer` declares. Tests that sweep every route build on this, so a new route is covered the
day it is added; public routes are the explicit list below, never inferred.
"""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from jose import jwt as jose_jwt

from api.security import Authorizer
from models import Scope

# Public routes guarded by the browser's session cookie instead of a bearer token: without one
# they answer 401 (or 403 without their anti-forgery header).
SESSION_ROUTES = frozenset(
    {
        ("GET", "/auth/session"),
        ("POST", "/auth/session/token"),
        ("POST", "/auth/logout"),
    }
)
# Routes anyone may call without a bearer token. Each is public on purpose: it discloses nothing
# personal, or (the token endpoints) checks its own credentials in the body.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/v1/agreement"),
        ("POST", "/v1/token"),
        ("POST", "/v1/token/revoke"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/dashboard"),
        # Browser sign-in: public, since signing in is how a page gets credentials at all.
        *SESSION_ROUTES,
        ("GET", "/auth/providers"),
        ("GET", "/auth/login"),
        ("GET", "/auth/callback"),
        ("GET", "/auth/jwks.json"),
        # The tablet app's shell and the agreement in words: pages with no data in them.
        ("GET", "/app"),
        ("GET", "/app/{file_name}"),
        ("GET", "/agreement"),
        # The audit log's checkpoint, its key and consistency proofs: hashes, for partners.
        ("GET", "/v1/audit/checkpoint"),
        ("GET", "/v1/audit/checkpoint/key"),
        ("GET", "/v1/audit/consistency"),
    }
)
# The documentation pages and their vendored files (present only with docs enabled).
DOCS_ROUTES = frozenset(
    {
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/docs/assets/{name}"),
    }
)
_PARAMETER = re.compile(r"{([a-z_]+)}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    scopes: frozenset[Scope] | None  # None: no Authorizer guards the route
    has_body: bool
    in_schema: bool
    dependant: Dependant | None

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def protected(self) -> bool:
        return self.scopes is not None

    @property
    def incident_bound(self) -> bool:
        """Whether every scope that opens the route acts on one incident."""
        return self.scopes is not None and all(scope.incident_bound for scope in self.scopes)

    def url(self, **ids: uuid.UUID | str) -> str:
        """The path with its parameters filled from `ids`, and a fresh UUID for any not given."""

        def value(match: re.Match[str]) -> str:
            return str(ids.get(match.group(1), uuid.uuid4()))

        return _PARAMETER.sub(value, self.path)

    def allows(self, granted: frozenset[Scope]) -> bool:
        """Whether a token with `granted` scopes gets past the route's Authorizer."""
        return self.scopes is None or bool(self.scopes & granted)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def _authorizers(dependant: Dependant) -> list[Authorizer]:
    return [d.call for d in _dependants(dependant) if isinstance(d.call, Authorizer)]


def app_routes(app: FastAPI) -> list[Route]:
    """Every (method, path) the app serves, with the scopes its Authorizer declares."""
    routes: list[Route] = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        if path is None:
            continue
        original = context.original_route
        dependant: Dependant | None = None
        scopes: frozenset[Scope] | None = None
        has_body = False
        in_schema = False
        if isinstance(original, APIRoute):
            dependant = context.dependant
            assert dependant is not None
            authorizers = _authorizers(dependant)
            # One gate per route: two Authorizers would demand a scope of each.
            assert len(authorizers) <= 1, f"{path} has {len(authorizers)} Authorizers"
            if authorizers:
                scopes = frozenset(authorizers[0].scopes)
            has_body = bool(dependant.body_params)
            in_schema = bool(context.include_in_schema)
        for method in sorted(context.methods or ()):
            if method == "HEAD":
                continue
            routes.append(Route(method, path, scopes, has_body, in_schema, dependant))
    return routes


def protected_routes(app: FastAPI) -> list[Route]:
    return [route for route in app_routes(app) if route.protected]


def token_scopes(token: str) -> frozenset[Scope]:
    """The `scope` claim of one of our access tokens, read without verifying it (the API does)."""
    claims: dict[str, Any] = jose_jwt.get_unverified_claims(token)
    return frozenset(Scope(item) for item in str(claims["scope"]).split())


def query_limit_cap(route: Route) -> int | None:
    """The upper bound (`le`) of the route's `limit` query parameter, if it has one."""
    if route.dependant is None:
        return None
    for dependant in _dependants(route.dependant):
        for param in dependant.query_params:
            if param.alias != "limit":
                continue
            for constraint in param.field_info.metadata:
                le = getattr(constraint, "le", None)
                if isinstance(le, int):
                    return le
            raise AssertionError(f"{route}: `limit` has no upper bound")
    return None


def has_limit_parameter(route: Route) -> bool:
    if route.dependant is None:
        return False
    return any(
        param.alias == "limit"
        for dependant in _dependants(route.dependant)
        for param in dependant.query_params
    )
