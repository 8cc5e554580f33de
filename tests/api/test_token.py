"""Token exchange, use, revocation and break-glass, end to end with real signed tokens."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from jose import jwt as jose_jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from api.app import PUBLIC_ROUTERS
from api.security import Authorizer
from models import AuditEvent, BreakGlassReview, IssuedToken
from tests.conftest import Exchanger, bearer
from tests.factories import incident_payload, outcome_payload
from tests.identity_provider import ISSUER, IdentityProvider

CAD = "LP-20261121-0412"


async def open_incident(exchanger: Exchanger, partner_trust_code: str | None = "RQI") -> uuid.UUID:
    token = await exchanger.token("officer", "NSP", "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents",
        json=incident_payload(partner_trust_code=partner_trust_code),
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def oauth_error(response: httpx.Response) -> str:
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "access_token" not in response.text
    error: str = response.json()["error"]
    return error


async def test_exchange_issues_a_narrow_short_token(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    response = await exchanger.request("officer", "NSP", "street-triage")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "incident:open"

    token = body["access_token"]
    header = jose_jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": "api-key-1"}
    claims = jose_jwt.get_unverified_claims(token)
    assert claims["iss"] == claims["aud"] == "urn:street-triage:api"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert (claims["role"], claims["org"], claims["purpose"]) == ("officer", "NSP", "street-triage")
    assert claims["scope"] == "incident:open"
    assert "incident" not in claims
    assert claims["act"] == {"iss": ISSUER, "sub": "officer-nsp-1"}
    uuid.UUID(claims["sub"])

    jti = uuid.UUID(claims["jti"])
    issued = await connection.scalar(select(IssuedToken.purpose).where(col(IssuedToken.jti) == jti))
    assert issued == "street-triage"
    audited = await connection.scalar(
        select(AuditEvent.action).where(col(AuditEvent.token_jti) == jti)
    )
    assert audited == "token.issue"


async def test_bound_token_reads_its_incident_only(exchanger: Exchanger) -> None:
    incident_id = await open_incident(exchanger)
    response = await exchanger.request("officer", "NSP", "street-triage", incident_id=incident_id)
    assert (
        response.json()["scope"] == "crisis_flag:lookup incident:amend incident:read incident:write"
    )
    token = response.json()["access_token"]
    assert jose_jwt.get_unverified_claims(token)["incident"] == str(incident_id)

    read = await exchanger.client.get(f"/v1/incidents/{incident_id}", headers=bearer(token))
    assert read.status_code == 200
    assert read.json()["cad_reference"] == CAD
    assert read.json()["status"] == "open"

    # Bound tokens cannot open new incidents: that is the unbound token's one job.
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(cad_reference="LP-2"), headers=bearer(token)
    )
    assert opened.status_code == 403


async def test_named_trust_may_bind_other_trusts_may_not(exchanger: Exchanger) -> None:
    incident_id = await open_incident(exchanger, partner_trust_code="RQI")
    named = await exchanger.request(
        "mh_practitioner", "RQI", "street-triage", incident_id=incident_id
    )
    assert named.status_code == 200
    other = await exchanger.request(
        "mh_practitioner", "Y05868", "street-triage", incident_id=incident_id
    )
    assert oauth_error(other) == "invalid_target"
    unknown = await exchanger.request("officer", "NSP", "street-triage", incident_id=uuid.uuid4())
    # An incident that does not exist looks exactly like one that is not yours.
    assert oauth_error(unknown) == "invalid_target"
    assert unknown.json()["error_description"] == other.json()["error_description"]


@pytest.mark.parametrize(
    ("role", "org", "purpose", "error"),
    [
        ("officer", "NSP", "crisis-planning", "invalid_target"),
        ("officer", "NSP", "break-glass", "invalid_target"),
        ("supervisor", "NSP", "street-triage", "invalid_target"),
        ("ig_officer", "RQI", "supervision", "invalid_target"),
        ("officer", "NSP", "sightseeing", "invalid_request"),
        ("officer", "RQI", "street-triage", "invalid_grant"),  # a trust holds no officers
        ("officer", "ZZZ99", "street-triage", "invalid_grant"),  # not in the partnership
    ],
)
async def test_purposes_follow_the_agreement(
    exchanger: Exchanger, role: str, org: str, purpose: str, error: str
) -> None:
    assert oauth_error(await exchanger.request(role, org, purpose)) == error


@pytest.mark.parametrize(
    ("role", "org", "purpose", "scope", "lifetime"),
    [
        (
            "mh_practitioner",
            "RQI",
            "crisis-planning",
            "crisis_plan:read crisis_plan:write notification:read",
            900,
        ),
        ("supervisor", "NSP", "supervision", "incident:review report:read", 900),
        ("ig_officer", "Y05868", "audit", "audit:read", 900),
    ],
)
async def test_each_role_gets_its_purpose_scopes(
    exchanger: Exchanger, role: str, org: str, purpose: str, scope: str, lifetime: int
) -> None:
    response = await exchanger.request(role, org, purpose)
    assert response.status_code == 200
    assert response.json()["scope"] == scope
    assert response.json()["expires_in"] == lifetime


async def test_requested_scope_narrows_and_cannot_widen(exchanger: Exchanger) -> None:
    narrowed = await exchanger.request(
        "mh_practitioner", "RQI", "crisis-planning", scope="crisis_plan:read"
    )
    assert narrowed.json()["scope"] == "crisis_plan:read"
    widened = await exchanger.request(
        "mh_practitioner", "RQI", "crisis-planning", scope="audit:read"
    )
    assert oauth_error(widened) == "invalid_scope"
    unknown = await exchanger.request(
        "mh_practitioner", "RQI", "crisis-planning", scope="everything"
    )
    assert oauth_error(unknown) == "invalid_scope"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("grant_type", "client_credentials", "unsupported_grant_type"),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2", "invalid_request"),
        ("incident_id", "not-a-uuid", "invalid_request"),
    ],
)
async def test_malformed_exchange_requests(
    exchanger: Exchanger, field: str, value: str, error: str
) -> None:
    response = await exchanger.request("officer", "NSP", "street-triage", **{field: value})
    assert oauth_error(response) == error


async def test_missing_fields_are_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange"}
    )
    assert oauth_error(response) == "invalid_request"


async def test_break_glass_needs_justification_lives_two_minutes_and_is_queued(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await open_incident(exchanger, partner_trust_code="RQI")
    short = await exchanger.request(
        "mh_practitioner", "RQI", "break-glass", incident_id=incident_id, justification="urgent"
    )
    assert oauth_error(short) == "invalid_request"
    unbound = await exchanger.request(
        "mh_practitioner",
        "RQI",
        "break-glass",
        justification="Person on bridge, plan held by Avonmere",
    )
    assert oauth_error(unbound) == "invalid_request"

    granted = await exchanger.request(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident_id,
        justification="Person on railway bridge; crisis plan held by Avonmere trust",
    )
    assert granted.status_code == 200
    assert granted.json()["expires_in"] == 120
    claims = jose_jwt.get_unverified_claims(granted.json()["access_token"])
    assert claims["exp"] - claims["iat"] == 120
    jti = uuid.UUID(claims["jti"])
    review = (
        await connection.execute(
            select(BreakGlassReview.status, BreakGlassReview.incident_id).where(
                col(BreakGlassReview.token_jti) == jti
            )
        )
    ).one()
    assert (review.status, review.incident_id) == ("pending", incident_id)
    actions = set(
        (
            await connection.execute(
                select(AuditEvent.action).where(col(AuditEvent.token_jti) == jti)
            )
        ).scalars()
    )
    assert actions == {"token.issue", "break_glass"}


async def test_revoked_token_is_refused_at_once(exchanger: Exchanger) -> None:
    incident_id = await open_incident(exchanger)
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    url = f"/v1/incidents/{incident_id}"
    assert (await exchanger.client.get(url, headers=bearer(token))).status_code == 200
    revoked = await exchanger.client.post("/v1/token/revoke", data={"token": token})
    assert revoked.status_code == 200
    refused = await exchanger.client.get(url, headers=bearer(token))
    assert refused.status_code == 401
    assert (
        refused.headers["www-authenticate"] == 'Bearer realm="street-triage", error="invalid_token"'
    )
    # RFC 7009: revoking something that is not a token of ours is not an error either.
    assert (
        await exchanger.client.post("/v1/token/revoke", data={"token": "garbage"})
    ).status_code == 200


async def test_closing_an_incident_revokes_every_bound_token(exchanger: Exchanger) -> None:
    incident_id = await open_incident(exchanger, partner_trust_code="RQI")
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    nurse = await exchanger.token(
        "mh_practitioner", "RQI", "street-triage", incident_id=incident_id
    )
    unbound = await exchanger.token("officer", "NSP", "street-triage")
    url = f"/v1/incidents/{incident_id}"
    assert (await exchanger.client.get(url, headers=bearer(nurse))).status_code == 200

    recorded = await exchanger.client.put(
        f"{url}/outcome", json=outcome_payload(), headers=bearer(officer)
    )
    assert recorded.status_code == 201
    closed = await exchanger.client.post(f"{url}/close", headers=bearer(officer))
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    for token in (officer, nurse):
        assert (await exchanger.client.get(url, headers=bearer(token))).status_code == 401
    # Tokens not bound to it are untouched; the closed incident binds again for reading and
    # amending only, and not at all for break-glass.
    still = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(cad_reference="LP-3"), headers=bearer(unbound)
    )
    assert still.status_code == 201
    rebind = await exchanger.request("officer", "NSP", "street-triage", incident_id=incident_id)
    assert rebind.status_code == 200
    assert rebind.json()["scope"] == "incident:amend incident:read"
    glass = await exchanger.request(
        "mh_practitioner", "RQI", "break-glass", incident_id=incident_id, justification="x" * 30
    )
    assert oauth_error(glass) == "invalid_target"


async def test_deactivated_user_is_refused_at_once(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    await connection.execute(
        text("UPDATE user_account SET active = false WHERE subject = 'officer-nsp-1'")
    )
    refused = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(cad_reference="LP-4"), headers=bearer(token)
    )
    assert refused.status_code == 401
    again = await exchanger.request("officer", "NSP", "street-triage")
    assert oauth_error(again) == "invalid_grant"


async def test_supervisor_reads_own_and_partner_incidents_only(exchanger: Exchanger) -> None:
    incident_id = await open_incident(exchanger, partner_trust_code="RQI")
    url = f"/v1/incidents/{incident_id}"
    for org, status in (("NSP", 200), ("RQI", 200), ("Y05868", 404)):
        token = await exchanger.token("supervisor", org, "supervision")
        response = await exchanger.client.get(url, headers=bearer(token))
        assert response.status_code == status, org
    absent = await exchanger.client.get(
        f"/v1/incidents/{uuid.uuid4()}",
        headers=bearer(await exchanger.token("supervisor", "NSP", "supervision")),
    )
    assert absent.status_code == 404


async def test_unknown_partner_trust_is_a_validation_error(exchanger: Exchanger) -> None:
    token = await exchanger.token("officer", "NSP", "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents",
        json=incident_payload(partner_trust_code="NSP"),
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert "NSP" not in response.json()["detail"]


async def test_jwks_publishes_every_key_and_no_private_part(
    client: httpx.AsyncClient, exchanger: Exchanger
) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert [key["kid"] for key in keys] == ["api-key-1", "api-key-2"]
    assert all("d" not in key and key["alg"] == "ES256" for key in keys)
    token = await exchanger.token("officer", "NSP", "street-triage")
    verified: dict[str, Any] = jose_jwt.decode(
        token, keys[0], algorithms=["ES256"], audience="urn:street-triage:api"
    )
    assert verified["purpose"] == "street-triage"


async def test_every_non_public_route_requires_a_scope(client: httpx.AsyncClient) -> None:
    public = {
        route.path
        for router in PUBLIC_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    }
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["PurposeBoundToken"]["scheme"] == "bearer"
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    protected = [(path, method, op) for path, method, op in operations if path not in public]
    assert protected, "no protected routes found"
    unguarded = [
        f"{method} {path}"
        for path, method, op in protected
        if not op.get("security")
        or any(requirement.get("PurposeBoundToken") != [] for requirement in op["security"])
        or not {"401", "403"} <= set(op["responses"])
    ]
    assert unguarded == []
    # The bearer scheme is only ever used inside Authorizer, which always names a scope.
    with pytest.raises(ValueError, match="at least one scope"):
        Authorizer()


async def test_identity_token_from_another_provider_is_refused(exchanger: Exchanger) -> None:
    stranger = IdentityProvider.generate()
    response = await exchanger.request(
        "officer", "NSP", "street-triage", subject_token=stranger.token("officer", "NSP")
    )
    assert oauth_error(response) == "invalid_grant"
