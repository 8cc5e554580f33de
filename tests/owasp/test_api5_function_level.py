"""API5:2023 Broken Function Level Authorization.

A matrix of every kind of token the agreement issues (officer street-triage unbound and bound;
practitioner street-triage bound, crisis-planning and break-glass; supervisors of a
force and of a trust; information governance) against every route of the app. The routes and the
scopes each declares are read from the app (the `Authorizer` in each route's dependencies), and a
token's scopes from its own `scope` claim, so a new route joins the matrix the day it is added.
A call whose route declares none of the token's scopes is refused with 403 `insufficient_scope`
naming the route's scopes; a call it does declare gets past the gate (never 401 or 403, never a
500). Each token carries exactly the scopes the agreement gives its purpose. Routes with no
`Authorizer` are exactly the explicit public list, and answer without a token. A method a path
does not declare is 405, whoever asks.
"""

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.resources import Resources
from api.settings import Settings
from models import Scope
from tests import lookups
from tests.conftest import Exchanger, bearer
from tests.factories import incident_payload
from tests.lookups import scene, with_faked_partners
from tests.owasp.routes import (
    DOCS_ROUTES,
    PUBLIC_ROUTES,
    SESSION_ROUTES,
    Route,
    app_routes,
    protected_routes,
    token_scopes,
)

partners = lookups.partners
partner_transport = lookups.partner_transport

JUSTIFICATION = "Man on the railway bridge; his plan is needed now"
# label: (role, organisation, purpose, bound to the scene's incident)
TOKENS: dict[str, tuple[str, str, str, bool]] = {
    "officer street-triage unbound": ("officer", "NSP", "street-triage", False),
    "officer street-triage bound": ("officer", "NSP", "street-triage", True),
    "practitioner street-triage bound": ("mh_practitioner", "RQI", "street-triage", True),
    "practitioner crisis-planning": ("mh_practitioner", "RQI", "crisis-planning", False),
    "practitioner break-glass": ("mh_practitioner", "RQI", "break-glass", True),
    "force supervisor supervision": ("supervisor", "NSP", "supervision", False),
    "trust supervisor supervision": ("supervisor", "RQI", "supervision", False),
    "ig_officer audit": ("ig_officer", "NSP", "audit", False),
}
PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    # These tests send every token to every route, and every undeclared method to every path,
    # from one address: far past a client's burst, which API4's tests hold to account.
    return with_faked_partners(
        settings,
        tmp_path,
        rate_limit_anonymous_burst=100_000,
        rate_limit_token_burst=100_000,
    )


async def issue(exchanger: Exchanger, label: str, incident_id: uuid.UUID) -> str:
    role, org, purpose, bound = TOKENS[label]
    extra: dict[str, Any] = {}
    if bound:
        extra["incident_id"] = incident_id
    if purpose == "break-glass":
        extra["justification"] = JUSTIFICATION
    return await exchanger.token(role, org, purpose, **extra)


async def call(
    client: httpx.AsyncClient, route: Route, token: str, incident_id: uuid.UUID
) -> httpx.Response:
    # Valid path shapes, an empty body: a call that passes the gate fails validation or finds
    # nothing, so the sweep changes nothing.
    return await client.request(
        route.method,
        route.url(incident_id=incident_id),
        json={} if route.has_body else None,
        headers=bearer(token),
    )


def test_routes_without_an_authorizer_are_exactly_the_public_list(app: FastAPI) -> None:
    unguarded = {route.key for route in app_routes(app) if not route.protected}
    assert unguarded == PUBLIC_ROUTES | DOCS_ROUTES
    assert all(route.scopes for route in protected_routes(app)), "an Authorizer with no scope"


async def test_public_routes_answer_without_a_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    for route in app_routes(app):
        if route.protected:
            continue
        response = await client.request(
            route.method, route.url(), data={} if route.has_body else None
        )
        if route.key in SESSION_ROUTES or route.key == ("GET", "/metrics"):
            # Guarded by the session cookie (or the metrics token), and refused without it.
            assert response.status_code in (401, 403), f"{route}: {response.status_code}"
            continue
        assert response.status_code not in (401, 403), f"{route}: {response.status_code}"
        assert response.status_code < 500, f"{route}: {response.status_code}"


@pytest.mark.parametrize("label", list(TOKENS))
async def test_the_token_carries_exactly_its_purposes_scopes(
    app: FastAPI, exchanger: Exchanger, label: str
) -> None:
    incident_id = await scene(exchanger)
    token = await issue(exchanger, label, incident_id)
    _, _, purpose_name, bound = TOKENS[label]
    resources: Resources = app.state.resources
    purpose = next(p for p in resources.partnership.agreement.purposes if p.name == purpose_name)
    assert token_scopes(token) == frozenset(purpose.scopes_for(bound=bound))


@pytest.mark.parametrize("label", list(TOKENS))
async def test_every_route_admits_exactly_the_tokens_with_its_scope(
    app: FastAPI, exchanger: Exchanger, label: str
) -> None:
    incident_id = await scene(exchanger)
    token = await issue(exchanger, label, incident_id)
    granted = token_scopes(token)
    allowed: list[str] = []
    wrong: list[str] = []
    for route in protected_routes(app):
        response = await call(exchanger.client, route, token, incident_id)
        status = response.status_code
        if route.allows(granted):
            allowed.append(str(route))
            if status in (401, 403) or status >= 500:
                wrong.append(f"{route}: allowed, got {status} {response.text}")
            continue
        challenge = response.headers.get("www-authenticate", "")
        named = challenge.split('scope="', 1)[-1].rstrip('"').split()
        if status != 403 or 'error="insufficient_scope"' not in challenge:
            wrong.append(f"{route}: refused expected, got {status} {response.text}")
        elif set(named) != set(route.scopes or ()):
            wrong.append(f"{route}: the challenge names {challenge}")
    assert wrong == []
    # Every token opens at least one route: the matrix is not all refusals.
    assert allowed, f"{label} opened no route"


def _methods_of(app: FastAPI, url: str) -> set[str]:
    """The methods any route serves at this concrete path."""
    methods: set[str] = set()
    for route in app_routes(app):
        pattern = re.sub(r"\{[a-z_]+\}", "[^/]+", route.path)
        if re.fullmatch(pattern, url):
            methods.add(route.method)
    return methods


async def test_a_method_the_path_does_not_declare_is_405(
    app: FastAPI, exchanger: Exchanger
) -> None:
    """Switching the method never reaches another function: an undeclared one is 405, with or
    without a token that would open the declared one."""
    incident_id = await scene(exchanger)
    token = await issue(exchanger, "officer street-triage bound", incident_id)
    urls = {route.url(incident_id=incident_id) for route in app_routes(app)}
    probed = 0
    for url in sorted(urls):
        declared = _methods_of(app, url)
        for method in PROBED_METHODS:
            if method in declared:
                continue
            for headers in ({}, bearer(token)):
                response = await exchanger.client.request(method, url, headers=headers)
                assert response.status_code == 405, f"{method} {url}: {response.status_code}"
                allow = {item.strip() for item in response.headers["allow"].split(",")}
                assert allow, (method, url)
                assert allow <= declared | {"HEAD"}, (url, allow)
                probed += 1
    assert probed > 50


async def test_scopes_are_checked_on_the_server_not_trusted_from_the_request(
    exchanger: Exchanger,
) -> None:
    """A scope asked for at the exchange never widens the grant, and no header or parameter
    names one: the officer's unbound token stays `incident:open` and reads no incident."""
    incident_id = await scene(exchanger)
    widened = await exchanger.request(
        "officer", "NSP", "street-triage", scope="incident:open incident:review"
    )
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_scope"
    token = await exchanger.token("officer", "NSP", "street-triage")
    assert token_scopes(token) == {Scope.incident_open}
    response = await exchanger.client.get(
        f"/v1/incidents/{incident_id}",
        params={"scope": "incident:review"},
        headers=bearer(token) | {"x-scope": "incident:review", "x-role": "supervisor"},
    )
    assert response.status_code == 403


# --- Issue 13, trust boundaries: incidents are police work; break-glass stands on them ---------


async def test_issue13_a_practitioner_cannot_open_an_incident(exchanger: Exchanger) -> None:
    """The demo agreement gives practitioners no `incident:open`: no unbound street-triage token,
    and none that asks for the scope."""
    for extra in ({}, {"scope": "incident:open"}):
        response = await exchanger.request("mh_practitioner", "RQI", "street-triage", **extra)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_scope"
    incident_id = await scene(exchanger)
    bound = await exchanger.token(
        "mh_practitioner", "RQI", "street-triage", incident_id=incident_id
    )
    assert Scope.incident_open not in token_scopes(bound)
    opened = await exchanger.client.post("/v1/incidents", json={}, headers=bearer(bound))
    assert opened.status_code == 403


async def test_issue13_no_break_glass_without_a_police_incident_naming_the_trust(
    exchanger: Exchanger,
) -> None:
    """The attack: a nurse opens an incident of their own and breaks glass on it. They get no
    token that opens one; another trust's incident, or one naming no trust, is no anchor either;
    the police incident naming their trust is."""
    own = await exchanger.request("mh_practitioner", "RQI", "street-triage")
    if own.status_code == 200:
        opened = await exchanger.client.post(
            "/v1/incidents",
            json=incident_payload(partner_trust_code="RQI"),
            headers=bearer(own.json()["access_token"]),
        )
        glass = await exchanger.request(
            "mh_practitioner",
            "RQI",
            "break-glass",
            incident_id=opened.json()["id"],
            justification=JUSTIFICATION,
        )
        raise AssertionError(f"a practitioner opened an incident; break-glass: {glass.status_code}")
    assert own.json()["error"] == "invalid_scope"
    for trust in ("Y05868", None):
        token = await exchanger.token("officer", "NSP", "street-triage")
        opened = await exchanger.client.post(
            "/v1/incidents",
            json=incident_payload(partner_trust_code=trust),
            headers=bearer(token),
        )
        assert opened.status_code == 201, opened.text
        refused = await exchanger.request(
            "mh_practitioner",
            "RQI",
            "break-glass",
            incident_id=opened.json()["id"],
            justification=JUSTIFICATION,
        )
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_target"
    anchored = await scene(exchanger)
    granted = await exchanger.request(
        "mh_practitioner", "RQI", "break-glass", incident_id=anchored, justification=JUSTIFICATION
    )
    assert granted.status_code == 200, granted.text


async def test_issue13_the_person_who_broke_glass_cannot_review_it(exchanger: Exchanger) -> None:
    """The same identity exchanged as information governance is refused the review (403)."""
    incident_id = await scene(exchanger)
    nurse = exchanger.idp.token("mh_practitioner", "RQI", sub="nurse-owasp-5")
    await exchanger.token(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident_id,
        justification=JUSTIFICATION,
        subject_token=nurse,
    )
    same = exchanger.idp.token("ig_officer", "RQI", sub="nurse-owasp-5")
    own = await exchanger.token("ig_officer", "RQI", "audit", subject_token=same)
    listed = await exchanger.client.get("/v1/break-glass-reviews", headers=bearer(own))
    [review] = listed.json()["items"]
    response = await exchanger.client.post(
        f"/v1/break-glass-reviews/{review['id']}",
        json={"conclusion": "justified", "finding": "I was there; it was needed."},
        headers=bearer(own),
    )
    assert response.status_code == 403, response.text
    assert response.json()["type"].endswith("/break-glass-self-review")
