"""Attacks on token handling: every spoiled, forged or misused token is refused, says nothing, and
leaves an audit event.

Each forged token starts from a real, working token of ours (an officer's street-triage token bound
to a real open incident) and spoils exactly one thing, so a refusal can only come from that thing;
`test_unspoiled_forgery_is_accepted` proves the forging itself is sound.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from jose import jwk, jws
from jose import jwt as jose_jwt
from jose.backends.base import Key
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from api import security
from api.anonymous import AnonymousTraffic, RefusalKey
from api.audit.repository import record_refusal
from api.errors import PROBLEM_CONTENT_TYPE
from api.resources import Resources
from auth.keys import SigningKey, load_signing_keys, new_signing_jwk
from models import AuditEvent, UserAccount
from tests.conftest import Exchanger, bearer
from tests.factories import incident_payload
from tests.identity_provider import IdentityProvider, KeyMaterial

CAD_REFERENCE = "LP-20261121-0412"
OUR_ISSUER = "urn:street-triage:api"
REALM_CHALLENGE = 'Bearer realm="street-triage"'
UNAUTHENTICATED_DETAIL = "A valid access token is required."
FORBIDDEN_DETAIL = "The token does not allow this request."
PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "request_id"})
TOKEN_ERROR_MEMBERS = PROBLEM_MEMBERS | {"error", "error_description"}
UNREACHABLE_URL = "http://127.0.0.1:9/jwks.json"
INCIDENT_ROUTE = "/v1/incidents/{incident_id}"


# --- building tokens by hand -------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    """A JSON value as a JWS segment; bytes are taken as the raw segment content."""
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64url(raw)


def sign_with(key: Key, header: dict[str, Any], payload: Any) -> str:
    """A JWS with whatever header we like, signed by `key` (ES256 gives the raw r||s signature)."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def sign_hs256(secret: bytes, header: dict[str, Any], payload: Any) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def unsigned(header: dict[str, Any], payload: Any) -> str:
    return f"{segment(header)}.{segment(payload)}."


def attacker_key(kid: str = "api-key-1") -> tuple[Key, dict[str, Any]]:
    """A fresh EC P-256 key of the attacker's, and its public JWK."""
    entry = new_signing_jwk(kid)
    private = jwk.construct(entry, "ES256")
    public = private.public_key().to_dict() | {"kid": kid, "use": "sig", "alg": "ES256"}
    return private, public


def public_der(pem: bytes) -> bytes:
    public = serialization.load_pem_public_key(pem)
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `base` with `changes`; a change to None removes the member."""
    result = dict(base)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


@dataclass(frozen=True)
class Scene:
    """A real open incident, a real token bound to it, and our signing key, to forge from."""

    incident_id: uuid.UUID
    token: str
    claims: dict[str, Any]
    key: SigningKey
    idp: IdentityProvider
    now: int

    def header(self, **changes: Any) -> dict[str, Any]:
        return changed({"alg": "ES256", "typ": "at+jwt", "kid": self.key.kid}, **changes)

    def payload(self, **changes: Any) -> dict[str, Any]:
        return changed(self.claims, **changes)

    def forge(self, header: dict[str, Any] | None = None, payload: Any = None) -> str:
        """Signed by our real key: valid unless `header` or `payload` spoils it."""
        return sign_with(
            self.key.private_key,
            self.header() if header is None else header,
            self.payload() if payload is None else payload,
        )

    def claims_with(self, **changes: Any) -> str:
        return self.forge(payload=self.payload(**changes))

    def header_with(self, **changes: Any) -> str:
        return self.forge(header=self.header(**changes))

    def parts(self) -> list[str]:
        return self.token.split(".")


Build = Callable[[Scene], str]


def _signed_by_other_key(scene: Scene) -> str:
    key, _ = attacker_key()
    return sign_with(key, scene.header(), scene.payload())


def _alg_none(alg: str, *, with_signature: bool) -> Build:
    def build(scene: Scene) -> str:
        header = scene.header(alg=alg)
        if with_signature:
            return sign_with(scene.key.private_key, header, scene.payload())
        return unsigned(header, scene.payload())

    return build


def _hs256_with_public_key(form: str) -> Build:
    def build(scene: Scene) -> str:
        pem = scene.key.public_key.to_pem()
        secret = {
            "pem": pem,
            "der": public_der(pem),
            "jwk": json.dumps(scene.key.public_jwk).encode(),
        }[form]
        return sign_hs256(secret, scene.header(alg="HS256"), scene.payload())

    return build


def _embedded_key_header(member: str) -> Build:
    def build(scene: Scene) -> str:
        key, public = attacker_key()
        value: Any = public if member == "jwk" else UNREACHABLE_URL
        return sign_with(key, scene.header(**{member: value}), scene.payload())

    return build


def _lifetime(*, iat: int, nbf: int, exp: int) -> Build:
    def build(scene: Scene) -> str:
        return scene.claims_with(iat=scene.now + iat, nbf=scene.now + nbf, exp=scene.now + exp)

    return build


def _jwe_shaped(scene: Scene) -> str:
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "typ": "at+jwt", "kid": "api-key-1"}
    return ".".join([segment(header), *(b64url(bytes([n]) * 32) for n in range(1, 5))])


# Spoiled tokens that must be refused as unauthenticated (401) on a data endpoint.
SPOILED: dict[str, Build] = {
    # The signature.
    "signature-stripped-two-segments": lambda s: ".".join(s.parts()[:2]),
    "signature-empty-third-segment": lambda s: ".".join(s.parts()[:2]) + ".",
    "signature-truncated": lambda s: s.token[:-12],
    "signature-by-other-ec-key-same-kid": _signed_by_other_key,
    # alg none, every casing, with and without a signature.
    **{
        f"alg-{alg}-{'signed' if signed else 'unsigned'}": _alg_none(alg, with_signature=signed)
        for alg in ("none", "None", "NONE", "nOnE")
        for signed in (False, True)
    },
    # HMAC keyed with our public key.
    "hs256-public-key-pem": _hs256_with_public_key("pem"),
    "hs256-public-key-der": _hs256_with_public_key("der"),
    "hs256-public-key-jwk": _hs256_with_public_key("jwk"),
    # Keys named or carried by the token itself.
    "embedded-jwk": _embedded_key_header("jwk"),
    "jku-header": _embedded_key_header("jku"),
    "x5u-header": _embedded_key_header("x5u"),
    # kid injection, signed by our real key.
    "kid-path-traversal": lambda s: s.header_with(kid="../../etc/passwd"),
    "kid-sql-injection": lambda s: s.header_with(kid="' OR 1=1 --"),
    "kid-nul-suffix": lambda s: s.header_with(kid="api-key-1\x00"),
    "kid-10kb": lambda s: s.header_with(kid="k" * 10 * 1024),
    # Time.
    "expired": _lifetime(iat=-400, nbf=-400, exp=-100),
    "nbf-in-future": _lifetime(iat=0, nbf=600, exp=800),
    "iat-in-future": _lifetime(iat=120, nbf=0, exp=300),
    "lifetime-16-minutes": _lifetime(iat=0, nbf=0, exp=16 * 60),
    # Registered claims missing or wrong.
    "missing-exp": lambda s: s.claims_with(exp=None),
    "missing-aud": lambda s: s.claims_with(aud=None),
    "missing-iss": lambda s: s.claims_with(iss=None),
    "missing-jti": lambda s: s.claims_with(jti=None),
    "missing-sub": lambda s: s.claims_with(sub=None),
    "missing-iat": lambda s: s.claims_with(iat=None),
    "missing-nbf": lambda s: s.claims_with(nbf=None),
    "wrong-aud": lambda s: s.claims_with(aud="urn:someone-else:api"),
    "wrong-aud-list": lambda s: s.claims_with(aud=["urn:someone-else:api"]),
    "wrong-iss-identity-provider": lambda s: s.claims_with(iss=s.idp.issuer),
    "wrong-typ-jwt": lambda s: s.header_with(typ="JWT"),
    "missing-typ": lambda s: s.header_with(typ=None),
    # Someone else's token.
    "identity-token": lambda s: s.idp.token("officer", "NSP"),
    # Malformed.
    "two-segments": lambda s: f"{segment({'alg': 'ES256'})}.{segment({})}",
    "four-segments": lambda s: f"{s.token}.{segment({'extra': True})}",
    "jwe-shaped-five-segments": _jwe_shaped,
    "header-64kb": lambda s: s.forge(header=s.header(pad="h" * 64 * 1024)),
    "payload-not-json": lambda s: s.forge(payload=b"this is not json {"),
    "payload-json-array": lambda s: s.forge(payload=[s.payload()]),
    "exp-as-string": lambda s: s.claims_with(exp=str(s.claims["exp"])),
    "scope-as-list": lambda s: s.claims_with(scope=s.claims["scope"].split()),
    "incident-as-number": lambda s: s.claims_with(incident=uuid.UUID(s.claims["incident"]).int),
    "sub-not-uuid": lambda s: s.claims_with(sub="officer-nsp-1"),
    "sub-of-no-user": lambda s: s.claims_with(sub=str(uuid.uuid4())),
    "jti-not-uuid": lambda s: s.claims_with(jti="not-a-uuid"),
    "exp-as-float": lambda s: s.claims_with(exp=float(s.claims["exp"])),
    "exp-as-boolean": lambda s: s.claims_with(exp=True),
    "role-unknown": lambda s: s.claims_with(role="superuser"),
    "scope-unknown": lambda s: s.claims_with(scope=f"{s.claims['scope']} admin"),
    "kid-of-our-other-key-signed-by-first": lambda s: s.header_with(kid="api-key-2"),
}


def _time_claim_overflowing(name: str) -> Build:
    """A JSON number too large for a float (1e400 reads as infinity), validly signed."""

    def build(scene: Scene) -> str:
        marker = 123456789
        text = json.dumps(scene.payload(**{name: marker})).replace(str(marker), "1e400")
        return scene.forge(payload=text.encode())

    return build


# python-jose does int(claims[name]) and catches only ValueError: a signed `1e400` (infinity)
# raised OverflowError straight through to a 500 before auth.jwt.decode caught it.
SPOILED_PARAMS = [pytest.param(build, id=name) for name, build in SPOILED.items()] + [
    pytest.param(_time_claim_overflowing(name), id=f"{name}-overflowing-to-infinity")
    for name in ("exp", "nbf", "iat")
]


# --- helpers -------------------------------------------------------------------------------------


def assert_refused(
    response: httpx.Response, status: int, *, incident_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """Exactly `status`, problem+json, the same body whatever the cause, nothing disclosed."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert set(body) <= PROBLEM_MEMBERS, body
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert "access_token" not in response.text
    assert CAD_REFERENCE not in response.text
    if incident_id is not None:
        assert str(incident_id) not in response.text
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith(REALM_CHALLENGE), challenge
    if status == 401:
        assert 'error="invalid_token"' in challenge
        assert body["detail"] == UNAUTHENTICATED_DETAIL
    elif status == 403:
        assert 'error="insufficient_scope"' in challenge
        assert body["detail"] == FORBIDDEN_DETAIL
    return body


def assert_token_error(response: httpx.Response, error: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert set(body) <= TOKEN_ERROR_MEMBERS, body
    assert body["status"] == 400
    assert body["error"] == error
    assert body["request_id"] == response.headers["x-request-id"]
    assert "access_token" not in response.text
    return body


async def refusal_event(
    connection: AsyncConnection, response: httpx.Response, action: str
) -> RowMapping:
    """The refusal's audit event, found by request id (written in a transaction of its own)."""
    request_id = response.headers["x-request-id"]
    # As the connecting superuser, whatever role the last request left the transaction in.
    await connection.execute(text("RESET ROLE"))
    rows = (
        (
            await connection.execute(
                select(
                    col(AuditEvent.outcome),
                    col(AuditEvent.reason),
                    col(AuditEvent.route),
                    col(AuditEvent.details),
                ).where(col(AuditEvent.request_id) == request_id, col(AuditEvent.action) == action)
            )
        )
        .mappings()
        .all()
    )
    assert len(rows) == 1, f"expected one {action} event for request {request_id}, got {len(rows)}"
    event: RowMapping = rows[0]
    assert event["outcome"] == "denied"
    assert event["reason"]
    return event


def counted_refusal(app: FastAPI, action: str) -> RefusalKey:
    """A refusal of a token no one could verify: counted for the minute's audit event (one per
    route, reason and client address), not chained on its own. Exactly one was counted."""
    traffic: AnonymousTraffic = app.state.anonymous_traffic
    tallies = traffic.refusals.drain()
    counted = [(key, tally) for key, tally in tallies.items() if key.action == action]
    assert len(counted) == 1, f"expected one counted {action}, got {counted}"
    key, tally = counted[0]
    assert (tally.count, tally.rate_limited) == (1, 0)
    return key


async def open_incident(client: httpx.AsyncClient, token: str) -> uuid.UUID:
    response = await client.post(
        "/v1/incidents",
        json=incident_payload(),
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def read_incident(
    client: httpx.AsyncClient, incident_id: uuid.UUID, token: str
) -> httpx.Response:
    return await client.get(f"/v1/incidents/{incident_id}", headers=bearer(token))


@pytest.fixture
def refusal_reasons(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reasons the `Authorizer` refuses with, in order, as it hands them to the audit trail."""
    reasons: list[str] = []

    def spy(session: AsyncSession, event: AuditEvent) -> None:
        reasons.append(event.reason or "")
        record_refusal(session, event)

    monkeypatch.setattr(security, "record_refusal", spy)
    return reasons


@pytest.fixture
async def scene(
    client: httpx.AsyncClient,
    exchanger: Exchanger,
    key_material: KeyMaterial,
    idp: IdentityProvider,
) -> Scene:
    opener = await exchanger.token("officer", "NSP", "street-triage")
    incident_id = await open_incident(client, opener)
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    keys = load_signing_keys(key_material.signing_keys_file)
    return Scene(
        incident_id=incident_id,
        token=token,
        claims=jose_jwt.get_unverified_claims(token),
        key=keys.keys["api-key-1"],
        idp=idp,
        now=int(time.time()),
    )


# --- controls: the baseline works, so every refusal below is the attack's doing ------------------


async def test_real_bound_token_reads_the_incident(client: httpx.AsyncClient, scene: Scene) -> None:
    header = jose_jwt.get_unverified_header(scene.token)
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": "api-key-1"}
    assert scene.claims["iss"] == scene.claims["aud"] == OUR_ISSUER
    response = await read_incident(client, scene.incident_id, scene.token)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(scene.incident_id)


async def test_unspoiled_forgery_is_accepted(client: httpx.AsyncClient, scene: Scene) -> None:
    response = await read_incident(client, scene.incident_id, scene.forge())
    assert response.status_code == 200, response.text
    assert response.json()["cad_reference"] == CAD_REFERENCE


# --- spoiled tokens on a data endpoint -----------------------------------------------------------


@pytest.mark.parametrize("build", SPOILED_PARAMS)
async def test_spoiled_token_is_unauthenticated(
    client: httpx.AsyncClient, scene: Scene, build: Build
) -> None:
    token = build(scene)
    assert token != scene.token
    response = await read_incident(client, scene.incident_id, token)
    assert_refused(response, 401, incident_id=scene.incident_id)


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u"])
async def test_key_in_header_is_refused_without_any_outbound_request(
    app: FastAPI,
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
    member: str,
) -> None:
    resources: Resources = app.state.resources
    http = resources.http
    calls: list[str] = []
    original_send = http.send
    original_stream = http.stream

    async def recording_send(request: httpx.Request, **kwargs: Any) -> httpx.Response:
        calls.append(f"send {request.url}")
        return await original_send(request, **kwargs)

    def recording_stream(method: str, url: Any, **kwargs: Any) -> Any:
        calls.append(f"stream {url}")
        return original_stream(method, url, **kwargs)

    async def no_network(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        calls.append(f"network {request.url}")
        raise httpx.ConnectError("outbound requests are forbidden in this test", request=request)

    monkeypatch.setattr(http, "send", recording_send)
    monkeypatch.setattr(http, "stream", recording_stream)
    # Any real HTTP through httpx, from any client, passes here; the test client's ASGI transport does not.
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", no_network)

    token = _embedded_key_header(member)(scene)
    assert member in jose_jwt.get_unverified_header(token)
    started = time.monotonic()
    response = await read_incident(client, scene.incident_id, token)
    elapsed = time.monotonic() - started

    assert_refused(response, 401, incident_id=scene.incident_id)
    assert calls == []
    assert elapsed < 2.0
    assert counted_refusal(app, "access.refuse").reason == "header_forbidden"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("signature-stripped-two-segments", "token_malformed"),
        ("signature-by-other-ec-key-same-kid", "signature_invalid"),
        ("alg-none-unsigned", "token_malformed"),
        ("alg-nOnE-signed", "algorithm_not_allowed"),
        ("hs256-public-key-pem", "algorithm_not_allowed"),
        ("kid-path-traversal", "kid_invalid"),
        ("wrong-typ-jwt", "type_invalid"),
        ("expired", "expired"),
        ("lifetime-16-minutes", "lifetime_too_long"),
        ("identity-token", "algorithm_not_allowed"),
    ],
)
async def test_refusal_on_data_endpoint_is_audited(
    app: FastAPI, client: httpx.AsyncClient, scene: Scene, case: str, reason: str
) -> None:
    response = await read_incident(client, scene.incident_id, SPOILED[case](scene))
    assert_refused(response, 401, incident_id=scene.incident_id)
    counted = counted_refusal(app, "access.refuse")
    assert (counted.reason, counted.route) == (reason, INCIDENT_ROUTE)


async def test_missing_token_is_challenged_without_error(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    response = await client.get(f"/v1/incidents/{scene.incident_id}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == REALM_CHALLENGE
    assert CAD_REFERENCE not in response.text


async def test_revoked_token_is_unauthenticated(
    client: httpx.AsyncClient, scene: Scene, refusal_reasons: list[str]
) -> None:
    assert (await read_incident(client, scene.incident_id, scene.token)).status_code == 200
    revoked = await client.post("/v1/token/revoke", data={"token": scene.token})
    assert revoked.status_code == 200
    response = await read_incident(client, scene.incident_id, scene.token)
    assert_refused(response, 401, incident_id=scene.incident_id)
    assert refusal_reasons == ["revoked"]


async def test_deactivated_user_is_unauthenticated(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    scene: Scene,
    refusal_reasons: list[str],
) -> None:
    assert (await read_incident(client, scene.incident_id, scene.token)).status_code == 200
    await connection.execute(
        update(UserAccount)
        .where(col(UserAccount.id) == uuid.UUID(scene.claims["sub"]))
        .values(active=False)
    )
    response = await read_incident(client, scene.incident_id, scene.token)
    assert_refused(response, 401, incident_id=scene.incident_id)
    assert refusal_reasons == ["principal_inactive"]


# --- valid tokens that do not cover the request --------------------------------------------------


async def test_purpose_the_role_may_not_use_is_refused_at_exchange(exchanger: Exchanger) -> None:
    response = await exchanger.request("officer", "NSP", "crisis-planning")
    assert_token_error(response, "invalid_target")


async def test_forged_purpose_the_role_may_not_use_is_forbidden(
    client: httpx.AsyncClient, scene: Scene, refusal_reasons: list[str]
) -> None:
    token = scene.claims_with(purpose="crisis-planning")
    response = await read_incident(client, scene.incident_id, token)
    assert_refused(response, 403, incident_id=scene.incident_id)
    assert refusal_reasons == ["purpose_not_allowed"]


async def test_scope_not_covering_the_route_is_forbidden(
    client: httpx.AsyncClient, exchanger: Exchanger, scene: Scene, refusal_reasons: list[str]
) -> None:
    unbound = await exchanger.token("officer", "NSP", "street-triage")
    assert jose_jwt.get_unverified_claims(unbound)["scope"] == "incident:open"
    response = await read_incident(client, scene.incident_id, unbound)
    assert_refused(response, 403, incident_id=scene.incident_id)
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="incident:read incident:review"' in challenge
    assert refusal_reasons == ["scope_insufficient"]


async def test_token_bound_to_one_incident_is_forbidden_on_another(
    client: httpx.AsyncClient, exchanger: Exchanger, scene: Scene, refusal_reasons: list[str]
) -> None:
    opener = await exchanger.token("officer", "NSP", "street-triage")
    other = await open_incident(client, opener)
    # Both incidents are the officer's own: only the binding stands in the way.
    own_other = await exchanger.token("officer", "NSP", "street-triage", incident_id=other)
    assert (await read_incident(client, other, own_other)).status_code == 200

    assert_refused(await read_incident(client, other, scene.token), 403, incident_id=other)
    close = await client.post(f"/v1/incidents/{other}/close", headers=bearer(scene.token))
    assert_refused(close, 403, incident_id=other)
    still_open = await read_incident(client, other, own_other)
    assert still_open.json()["status"] == "open"
    assert refusal_reasons == ["incident_mismatch", "incident_mismatch"]


# --- attacks at the token endpoint ---------------------------------------------------------------


def _idp_alg_none(alg: str, *, with_signature: bool) -> Callable[[IdentityProvider], str]:
    def build(idp: IdentityProvider) -> str:
        header = {"alg": alg, "typ": "JWT", "kid": idp.kid}
        claims = idp.claims("officer", "NSP")
        if not with_signature:
            return unsigned(header, claims)
        signed = idp.sign(claims)
        return ".".join([segment(header), *signed.split(".")[1:]])

    return build


def _idp_hs256(idp: IdentityProvider) -> str:
    secret = jwk.construct(idp.public_jwk, "RS256").to_pem()
    header = {"alg": "HS256", "typ": "JWT", "kid": idp.kid}
    return sign_hs256(secret, header, idp.claims("officer", "NSP"))


def _idp_expired(idp: IdentityProvider) -> str:
    now = int(time.time())
    return idp.token("officer", "NSP", iat=now - 1200, exp=now - 600)


BAD_SUBJECT_TOKENS: dict[str, Callable[[IdentityProvider], str]] = {
    "unknown-key-same-kid": lambda idp: IdentityProvider.generate().token("officer", "NSP"),
    "unknown-kid": lambda idp: IdentityProvider.generate().sign(
        idp.claims("officer", "NSP"), kid="police-idp-9"
    ),
    "expired": _idp_expired,
    "alg-none-unsigned": _idp_alg_none("none", with_signature=False),
    "alg-none-signed": _idp_alg_none("NONE", with_signature=True),
    "hs256-with-idp-public-key": _idp_hs256,
    "missing-aud": lambda idp: idp.token("officer", "NSP", aud=None),
    "wrong-aud": lambda idp: idp.token("officer", "NSP", aud="urn:someone-else:api"),
    "missing-iat": lambda idp: idp.token("officer", "NSP", iat=None),
    "iat-in-future": lambda idp: idp.token("officer", "NSP", iat=int(time.time()) + 120),
    "lifetime-above-issuer-cap": lambda idp: idp.token(
        "officer", "NSP", exp=int(time.time()) + 2 * 3600
    ),
    "claims-to-be-our-issuer": lambda idp: idp.token("officer", "NSP", iss=OUR_ISSUER),
    "typ-at-jwt": lambda idp: idp.sign(idp.claims("officer", "NSP"), typ="at+jwt"),
    "jku-header": lambda idp: idp.sign(idp.claims("officer", "NSP"), jku=UNREACHABLE_URL),
}


def _idp_exp_overflowing(idp: IdentityProvider) -> str:
    """Signed by the trusted provider, with an `exp` too large for a float (reads as infinity)."""
    marker = 123456789
    text = json.dumps(idp.claims("officer", "NSP", exp=marker)).replace(str(marker), "1e400")
    return jws.sign(
        text.encode(), idp.private_pem, headers={"kid": idp.kid, "typ": "JWT"}, algorithm="RS256"
    )


BAD_SUBJECT_PARAMS = [
    pytest.param(build, id=name) for name, build in BAD_SUBJECT_TOKENS.items()
] + [pytest.param(_idp_exp_overflowing, id="exp-overflowing-to-infinity")]


@pytest.mark.parametrize("build", BAD_SUBJECT_PARAMS)
async def test_bad_identity_token_is_invalid_grant(
    app: FastAPI,
    exchanger: Exchanger,
    idp: IdentityProvider,
    build: Callable[[IdentityProvider], str],
) -> None:
    response = await exchanger.request("officer", "NSP", "street-triage", subject_token=build(idp))
    assert_token_error(response, "invalid_grant")
    assert counted_refusal(app, "token.refuse").route == "/v1/token"


async def test_our_access_token_is_not_a_subject_token(
    app: FastAPI, exchanger: Exchanger, scene: Scene
) -> None:
    response = await exchanger.request("officer", "NSP", "street-triage", subject_token=scene.token)
    assert_token_error(response, "invalid_grant")
    assert counted_refusal(app, "token.refuse").reason == "issuer_untrusted"
