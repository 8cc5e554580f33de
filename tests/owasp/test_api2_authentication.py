"""API2:2023 Broken Authentication.

The protected routes' side of authentication: every route guarded by an `Authorizer`, read from
the app, refuses with 401 problem+json and an RFC 6750 `WWW-Authenticate` challenge a request with
no token, a token sent anywhere but the Authorization header, garbage, another scheme, and tokens
expired, for another audience, unsigned (`alg: none`), HMAC-signed with our public key, signed by
a stranger's key, or an identity token rather than our access token. Each forgery starts from a
real token widened to every scope, which (the control) passes authentication on every route, so
each refusal comes from the one thing spoiled. A revoked token is refused on its very next
request, on every route, whether the holder revoked it or closing the incident did.

The token exchange's own defences (spoiled identity tokens, `jku`/`jwk` headers, `kid` tricks,
lifetimes, audit of each refusal on one data route) are in `tests/api/test_token_attacks.py`;
this module does not repeat them.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt as jose_jwt

from auth.keys import SigningKey, load_signing_keys
from models import Scope
from tests.api.test_token_attacks import attacker_key, sign_hs256, sign_with, unsigned
from tests.conftest import Exchanger, bearer
from tests.factories import CAD_REFERENCE, incident_payload, outcome_payload
from tests.identity_provider import IdentityProvider, KeyMaterial
from tests.owasp.routes import Route, protected_routes

REALM = 'Bearer realm="street-triage"'
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "request_id"}
UNAUTHENTICATED = "https://street-triage.nhs.example/problems/unauthenticated"
ALL_SCOPES = " ".join(sorted(Scope))


@dataclass(frozen=True)
class Forger:
    """A real, working token of ours (an officer's, bound to a real incident), and our key."""

    incident_id: uuid.UUID
    token: str
    claims: dict[str, Any]
    key: SigningKey
    idp: IdentityProvider

    def header(self, **changes: Any) -> dict[str, Any]:
        return {"alg": "ES256", "typ": "at+jwt", "kid": self.key.kid} | changes

    def payload(self, **changes: Any) -> dict[str, Any]:
        return self.claims | {"scope": ALL_SCOPES} | changes

    def forge(self, **changes: Any) -> str:
        """Signed with our real key: valid, with every scope, unless `changes` spoil it."""
        return sign_with(self.key.private_key, self.header(), self.payload(**changes))


@dataclass(frozen=True)
class Sent:
    """How a credential travels: in headers (a cookie is a header too) or query parameters."""

    headers: dict[str, str]
    params: dict[str, str]
    # The challenge carries `error="invalid_token"` only when a bearer token was presented.
    presented: bool


def in_header(token: str) -> Sent:
    return Sent(bearer(token), {}, presented=True)


def _expired(forger: Forger) -> Sent:
    now = int(time.time())
    return in_header(forger.forge(iat=now - 600, nbf=now - 600, exp=now - 300))


def _alg_none(forger: Forger) -> Sent:
    return in_header(unsigned(forger.header(alg="none"), forger.payload()))


def _hs256_with_our_public_key(forger: Forger) -> Sent:
    secret = forger.key.public_key.to_pem()
    return in_header(sign_hs256(secret, forger.header(alg="HS256"), forger.payload()))


def _signed_by_a_stranger(forger: Forger) -> Sent:
    key, _ = attacker_key(forger.key.kid)
    return in_header(sign_with(key, forger.header(), forger.payload()))


BAD_CREDENTIALS: dict[str, Callable[[Forger], Sent]] = {
    "missing": lambda f: Sent({}, {}, presented=False),
    "in-query-parameter": lambda f: Sent({}, {"access_token": f.forge()}, presented=False),
    "in-cookie": lambda f: Sent({"cookie": f"access_token={f.forge()}"}, {}, presented=False),
    "basic-scheme": lambda f: Sent(
        {"authorization": "Basic b2ZmaWNlcjpwYXNzd29yZA=="}, {}, presented=False
    ),
    "garbage": lambda f: in_header("not-a-token"),
    "expired": _expired,
    "wrong-audience": lambda f: in_header(f.forge(aud="urn:someone-else:api")),
    "alg-none": _alg_none,
    "hs256-with-our-public-key": _hs256_with_our_public_key,
    "signed-by-a-stranger": _signed_by_a_stranger,
    "identity-token": lambda f: in_header(f.idp.token("officer", "NSP")),
}


@pytest.fixture
async def forger(exchanger: Exchanger, key_material: KeyMaterial, idp: IdentityProvider) -> Forger:
    opener = await exchanger.token("officer", "NSP", "street-triage")
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(opener)
    )
    assert opened.status_code == 201, opened.text
    incident_id = uuid.UUID(opened.json()["id"])
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    return Forger(
        incident_id=incident_id,
        token=token,
        claims=jose_jwt.get_unverified_claims(token),
        key=load_signing_keys(key_material.signing_keys_file).keys["api-key-1"],
        idp=idp,
    )


async def call(
    client: httpx.AsyncClient, route: Route, incident_id: uuid.UUID, sent: Sent
) -> httpx.Response:
    return await client.request(
        route.method,
        route.url(incident_id=incident_id),
        json={} if route.has_body else None,
        headers=sent.headers,
        params=sent.params,
    )


def assert_unauthenticated(response: httpx.Response, *, presented: bool) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) <= PROBLEM_MEMBERS, body
    assert body["type"] == UNAUTHENTICATED
    assert body["request_id"] == response.headers["x-request-id"]
    assert CAD_REFERENCE not in response.text
    challenge = response.headers["www-authenticate"]
    if presented:
        assert challenge == f'{REALM}, error="invalid_token"'
    else:
        assert challenge == REALM


async def test_every_protected_route_is_found(app: FastAPI) -> None:
    routes = protected_routes(app)
    assert len(routes) >= 25
    assert {route.path.split("/")[2] for route in routes} >= {
        "incidents",
        "crisis-plans",
        "notifications",
        "audit-events",
        "reports",
    }


async def test_the_unspoiled_forgery_passes_authentication_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, forger: Forger
) -> None:
    """The control: the forging is sound, so a 401 below is the spoiled part's doing."""
    sent = in_header(forger.forge())
    statuses = {
        str(route): (await call(client, route, forger.incident_id, sent)).status_code
        for route in protected_routes(app)
    }
    assert [route for route, status in statuses.items() if status in (401, 500)] == []
    assert statuses["GET /v1/incidents/{incident_id}"] == 200


@pytest.mark.parametrize("kind", list(BAD_CREDENTIALS))
async def test_a_bad_credential_is_401_with_a_challenge_on_every_protected_route(
    app: FastAPI, client: httpx.AsyncClient, forger: Forger, kind: str
) -> None:
    sent = BAD_CREDENTIALS[kind](forger)
    for route in protected_routes(app):
        response = await call(client, route, forger.incident_id, sent)
        try:
            assert_unauthenticated(response, presented=sent.presented)
        except AssertionError as exc:
            raise AssertionError(f"{route}: {exc}") from exc


async def refused_everywhere(app: FastAPI, client: httpx.AsyncClient, token: str) -> None:
    """A token the API must treat as no longer valid: 401 on every route, whatever its scope."""
    for route in protected_routes(app):
        response = await call(client, route, uuid.uuid4(), in_header(token))
        try:
            assert_unauthenticated(response, presented=True)
        except AssertionError as exc:
            raise AssertionError(f"{route}: {exc}") from exc


@pytest.mark.parametrize(
    ("role", "org", "purpose", "url"),
    [
        ("officer", "NSP", "street-triage", "/v1/incidents/{incident_id}"),
        ("mh_practitioner", "RQI", "crisis-planning", "/v1/crisis-plans"),
        ("supervisor", "NSP", "supervision", "/v1/incidents"),
        ("ig_officer", "NSP", "audit", "/v1/audit-events"),
    ],
)
async def test_a_revoked_token_is_refused_at_once_on_every_route(
    app: FastAPI,
    client: httpx.AsyncClient,
    exchanger: Exchanger,
    forger: Forger,
    role: str,
    org: str,
    purpose: str,
    url: str,
) -> None:
    bound = {"incident_id": forger.incident_id} if purpose == "street-triage" else {}
    token = await exchanger.token(role, org, purpose, **bound)
    target = url.format(incident_id=forger.incident_id)
    assert (await client.get(target, headers=bearer(token))).status_code == 200
    revoked = await client.post("/v1/token/revoke", data={"token": token})
    assert revoked.status_code == 200
    assert_unauthenticated(await client.get(target, headers=bearer(token)), presented=True)
    await refused_everywhere(app, client, token)


async def test_closing_the_incident_revokes_its_tokens_at_once_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, exchanger: Exchanger, forger: Forger
) -> None:
    nurse = await exchanger.token(
        "mh_practitioner", "RQI", "street-triage", incident_id=forger.incident_id
    )
    incident = f"/v1/incidents/{forger.incident_id}"
    recorded = await client.put(
        f"{incident}/outcome", json=outcome_payload(), headers=bearer(forger.token)
    )
    assert recorded.status_code == 201, recorded.text
    assert (await client.get(incident, headers=bearer(nurse))).status_code == 200
    closed = await client.post(f"{incident}/close", headers=bearer(forger.token))
    assert closed.status_code == 200, closed.text
    for token in (forger.token, nurse):
        assert_unauthenticated(await client.get(incident, headers=bearer(token)), presented=True)
        await refused_everywhere(app, client, token)


# --- Issue 13, trust boundaries: an identity provider asserts only its own organisations -------


async def test_issue13_the_forces_identity_provider_claiming_a_trust_reads_nothing(
    client: httpx.AsyncClient, exchanger: Exchanger, key_material: KeyMaterial
) -> None:
    """A token signed by the force's provider, valid in every other way, claiming a trust and a
    nurse's (or its information governance officer's) role: refused at the exchange, so the
    trust's plans and audit trail stay out of reach."""
    force = key_material.force_idp
    for role, purpose in (("mh_practitioner", "crisis-planning"), ("ig_officer", "audit")):
        response = await exchanger.request(
            role, "RQI", purpose, subject_token=force.token(role, "RQI")
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"
        assert "access_token" not in response.text
    # The same provider still signs its own force's officers in.
    own = force.token("officer", "NSP")
    assert (
        await exchanger.request("officer", "NSP", "street-triage", subject_token=own)
    ).status_code == 200
