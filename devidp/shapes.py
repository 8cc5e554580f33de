"""The two issuers' URLs, discovery documents, ID token claims and userinfo, shaped like the real
ones (each shape's source is in SOURCES.md)."""

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from devidp.people import ENTRA_TENANT, Cis2Person, EntraPerson, IssuerKind, NationalRbacRole

CIS2_REALM = "/NHSIdentity/Healthcare"
CIS2_ISSUER_PATH = "/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare"

# Claims CIS2 releases at its userinfo endpoint, by scope (NHS England "Scopes and claims").
CIS2_SCOPE_CLAIMS = {
    "openid": ("sub",),
    "profile": ("name", "family_name", "given_name", "uid"),
    "email": ("email",),
    "nhsperson": (
        "nhsid_useruid",
        "title",
        "idassurancelevel",
        "initials",
        "middle_names",
        "display_name",
    ),
    "associatedorgs": ("nhsid_user_orgs",),
    "nationalrbacaccess": ("nhsid_nrbac_roles",),
    "organisationalmemberships": ("nhsid_org_memberships", "nhsid_org_roles"),
    "professionalmemberships": (
        "gmc_id",
        "gdc_id",
        "gmp_id",
        "consultant_id",
        "rcn_id",
        "nmc_id",
        "gphc_id",
        "gdp_id",
    ),
    "selectedrole": ("selected_roleid",),
}
ENTRA_SCOPES = ("openid", "profile", "email", "offline_access")


@dataclass(frozen=True)
class IssuerUrls:
    issuer: str
    discovery: str
    authorize: str
    token: str
    jwks: str
    end_session: str
    userinfo: str | None


def issuer_urls(kind: IssuerKind, base_url: str) -> IssuerUrls:
    if kind is IssuerKind.entra:
        tenant = f"{base_url}/entra/{ENTRA_TENANT}"
        issuer = f"{tenant}/v2.0"
        return IssuerUrls(
            issuer=issuer,
            discovery=f"{issuer}/.well-known/openid-configuration",
            authorize=f"{tenant}/oauth2/v2.0/authorize",
            token=f"{tenant}/oauth2/v2.0/token",
            jwks=f"{tenant}/discovery/v2.0/keys",
            end_session=f"{tenant}/oauth2/v2.0/logout",
            userinfo=None,
        )
    issuer = f"{base_url}{CIS2_ISSUER_PATH}"
    return IssuerUrls(
        issuer=issuer,
        discovery=f"{issuer}/.well-known/openid-configuration",
        authorize=f"{issuer}/authorize",
        token=f"{issuer}/access_token",
        jwks=f"{issuer}/connect/jwk_uri",
        end_session=f"{issuer}/connect/endSession",
        userinfo=f"{issuer}/userinfo",
    )


AUTH_METHODS = ["client_secret_post", "private_key_jwt", "client_secret_basic"]


def discovery_document(kind: IssuerKind, urls: IssuerUrls, algorithm: str) -> dict[str, Any]:
    """Only what this provider does is advertised (response type `code`, PKCE S256), in the
    shape and order of the real document."""
    if kind is IssuerKind.entra:
        return {
            "token_endpoint": urls.token,
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "jwks_uri": urls.jwks,
            "response_modes_supported": ["query"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": [algorithm],
            "response_types_supported": ["code"],
            "scopes_supported": list(ENTRA_SCOPES),
            "issuer": urls.issuer,
            "request_uri_parameter_supported": False,
            "authorization_endpoint": urls.authorize,
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": urls.end_session,
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "nonce",
                "preferred_username",
                "name",
                "oid",
                "roles",
                "tid",
                "ver",
                "aio",
                "rh",
                "uti",
            ],
            "code_challenge_methods_supported": ["S256"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }
    return {
        "request_parameter_supported": False,
        "claims_parameter_supported": False,
        "scopes_supported": list(CIS2_SCOPE_CLAIMS),
        "issuer": urls.issuer,
        "acr_values_supported": ["AAL3_ANY", "AAL2_OR_ABOVE"],
        "authorization_endpoint": urls.authorize,
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "azp",
            "auth_time",
            "acr",
            "amr",
            "nonce",
            "auditTrackingId",
            "tokenName",
            "tokenType",
            "realm",
            "id_assurance_level",
            "authentication_assurance_level",
            "selected_roleid",
            *(claim for claims in CIS2_SCOPE_CLAIMS.values() for claim in claims),
        ],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint": urls.token,
        "response_types_supported": ["code"],
        "request_uri_parameter_supported": False,
        "grant_types_supported": ["authorization_code"],
        "end_session_endpoint": urls.end_session,
        "userinfo_endpoint": urls.userinfo,
        "jwks_uri": urls.jwks,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [algorithm],
        "code_challenge_methods_supported": ["S256"],
    }


def left_half_hash(value: str, algorithm: str) -> str:
    """at_hash / c_hash / s_hash: the left half of the value's hash under the signing
    algorithm's hash function (OpenID Connect Core 3.3.2.11)."""
    digest = hashlib.new(f"sha{algorithm[2:]}", value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def _opaque(length: int) -> str:
    return secrets.token_urlsafe(length)[:length]


@dataclass(frozen=True)
class Issuance:
    """What an ID token is about: who, for which client, when, and the request's values."""

    client_id: str
    issuer: str
    now: int
    auth_time: int
    lifetime_seconds: int
    nonce: str | None
    code: str | None
    state: str | None
    access_token: str
    algorithm: str


def entra_id_token_claims(person: EntraPerson, issuance: Issuance) -> dict[str, Any]:
    """The v2.0 ID token: the published sample's claims, plus `rh`, `uti` and (when the user has
    app roles) `roles`, which the claims reference lists for v2.0 tokens. No `jti`."""
    claims: dict[str, Any] = {
        "aud": issuance.client_id,
        "iss": issuance.issuer,
        "iat": issuance.now,
        "nbf": issuance.now,
        "exp": issuance.now + issuance.lifetime_seconds,
        "aio": _opaque(88),
        "name": person.name,
        "nonce": issuance.nonce,
        "oid": person.oid,
        "preferred_username": person.preferred_username,
        "rh": f"0.{_opaque(54)}.",
        "roles": list(person.roles),
        "sub": pairwise_subject(person.oid, issuance.client_id),
        "tid": ENTRA_TENANT,
        "uti": _opaque(22),
        "ver": "2.0",
    }
    if issuance.nonce is None:
        del claims["nonce"]
    if not person.roles:
        # Entra leaves the claim out when no app role is assigned.
        del claims["roles"]
    return claims


def pairwise_subject(oid: str, client_id: str) -> str:
    """Entra's `sub` differs per application for the same user (a pairwise identifier)."""
    digest = hashlib.sha256(f"{ENTRA_TENANT}|{oid}|{client_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cis2_id_token_claims(person: Cis2Person, issuance: Issuance) -> dict[str, Any]:
    """The CIS2 (ForgeRock AM) ID token, in the published example's order, plus `nonce` when the
    request carried one and `selected_roleid` when a role is selected."""
    claims: dict[str, Any] = {
        "at_hash": left_half_hash(issuance.access_token, issuance.algorithm),
        "sub": person.uid,
        "auditTrackingId": f"{uuid.uuid4()}-{secrets.randbelow(10_000_000)}",
        "amr": list(person.amr),
        "iss": issuance.issuer,
        "tokenName": "id_token",
        "nonce": issuance.nonce,
        "aud": issuance.client_id,
        "c_hash": left_half_hash(issuance.code, issuance.algorithm) if issuance.code else None,
        "acr": person.acr,
        "id_assurance_level": person.id_assurance_level,
        "authentication_assurance_level": person.authentication_assurance_level,
        "org.forgerock.openidconnect.ops": _opaque(27),
        "s_hash": left_half_hash(issuance.state, issuance.algorithm) if issuance.state else None,
        "azp": issuance.client_id,
        "auth_time": issuance.auth_time,
        "realm": CIS2_REALM,
        "selected_roleid": person.selected_roleid,
        "exp": issuance.now + issuance.lifetime_seconds,
        "tokenType": "JWTToken",
        "iat": issuance.now,
    }
    return {name: value for name, value in claims.items() if value is not None}


def cis2_userinfo(person: Cis2Person, scopes: frozenset[str]) -> dict[str, Any]:
    """The userinfo document: only the claims the granted scopes release, and only those the
    person has a value for."""
    person_orgs = {role.org_code: role.person_orgid for role in person.roles}
    orgs = [{"org_name": person.organisation_name(code), "org_code": code} for code in person_orgs]
    memberships = [{"person_orgid": person_orgs[org["org_code"]]} | org for org in orgs]
    # In the published example's order.
    values: dict[str, Any] = {
        "sub": person.uid,
        "nhsid_useruid": person.uid,
        "nhsid_org_memberships": memberships,
        **dict(person.memberships),
        "initials": person.given_name[:1],
        "nhsid_org_roles": memberships,
        "title": person.title,
        "display_name": person.display_name,
        "given_name": person.given_name,
        "uid": person.uid,
        "nhsid_nrbac_roles": [_nrbac_role(role) for role in person.roles],
        "nhsid_user_orgs": orgs,
        "middle_names": person.middle_names,
        "name": person.name,
        "idassurancelevel": str(person.id_assurance_level),
        "family_name": person.family_name,
        "email": person.email,
        "selected_roleid": person.selected_roleid,
    }
    released = {claim for scope in scopes for claim in CIS2_SCOPE_CLAIMS.get(scope, ())}
    return {name: value for name, value in values.items() if name in released and value is not None}


def _nrbac_role(role: NationalRbacRole) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "person_orgid": role.person_orgid,
        "person_roleid": role.person_roleid,
        "org_code": role.org_code,
        "role_name": role.role_name,
        "role_code": role.role_code,
    }
    if role.activities:
        entry["activities"] = list(role.activities)
        entry["activity_codes"] = list(role.activity_codes)
    return entry
