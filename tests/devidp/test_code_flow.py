"""The authorization code flow with PKCE over real HTTP, for both issuers and every client
authentication method; the tokens are checked as a relying party would check them."""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import JWTError
from jose import jwt as jose_jwt

from devidp import (
    CIS2_ROLE_MAP,
    DEMO_PEOPLE,
    DEMO_ROLE_MAP,
    ENTRA_TENANT,
    IssuerKind,
    create_app,
    issue_tokens,
    issuer_urls,
)
from devidp.people import Cis2Person, EntraPerson
from devidp.shapes import left_half_hash
from tests.devidp.conftest import RunningIdp
from tests.oidc_provider import (
    ClientAuth,
    TestClient,
    provider_config,
    running_provider,
    secret_client,
    sign_in,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "oidc"
# Claims the published samples lack, and why (devidp/SOURCES.md): Entra's claims reference lists
# rh, uti and roles for v2.0 ID tokens; CIS2 adds nonce when one was sent and selected_roleid
# when a role is selected.
ENTRA_EXTRA_CLAIMS = {"rh", "uti", "roles"}
CIS2_EXTRA_CLAIMS = {"nonce", "selected_roleid"}
PROFESSIONAL_IDS = (
    "gmc_id",
    "gdc_id",
    "gmp_id",
    "consultant_id",
    "rcn_id",
    "nmc_id",
    "gphc_id",
    "gdp_id",
)
ALL_CIS2_SCOPES = (
    "openid profile email nhsperson associatedorgs nationalrbacaccess organisationalmemberships "
    "professionalmemberships selectedrole"
)


def idp_client() -> TestClient:
    return secret_client("client", "http://127.0.0.1:8000/auth/callback")


def published(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return document


def verified_claims(
    idp: RunningIdp, kind: IssuerKind, id_token: str, client_id: str
) -> dict[str, Any]:
    """Verify as a relying party does: keys from the discovery document's jwks_uri."""
    discovery = idp.http.get(issuer_urls(kind, idp.base_url).discovery).json()
    jwks = idp.http.get(discovery["jwks_uri"]).json()
    header = jose_jwt.get_unverified_header(id_token)
    [key] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims: dict[str, Any] = jose_jwt.decode(
        id_token,
        key,
        algorithms=discovery["id_token_signing_alg_values_supported"],
        audience=client_id,
        issuer=discovery["issuer"],
        options={"verify_at_hash": False},
    )
    return claims


def client_for(idp: RunningIdp, auth: ClientAuth) -> TestClient:
    return idp.key_client if auth == "private_key_jwt" else idp.secret_client


AUTH_METHODS: list[ClientAuth] = ["client_secret_post", "client_secret_basic", "private_key_jwt"]


@pytest.mark.parametrize("auth", AUTH_METHODS)
def test_entra_code_flow_gives_a_verified_v2_id_token(idp: RunningIdp, auth: ClientAuth) -> None:
    client = client_for(idp, auth)
    body = sign_in(
        idp.http, idp.base_url, IssuerKind.entra, client, "nsp-officer", auth=auth, nonce="n-entra"
    )

    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    claims = verified_claims(idp, IssuerKind.entra, body["id_token"], client.client_id)
    assert claims["iss"] == f"{idp.base_url}/entra/{ENTRA_TENANT}/v2.0"
    assert claims["tid"] == ENTRA_TENANT
    assert claims["ver"] == "2.0"
    assert claims["nonce"] == "n-entra"
    assert claims["roles"] == ["Triage.Officer"]
    assert claims["name"] == "Alex Morgan"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nbf"] == claims["iat"]
    assert "jti" not in claims
    assert set(claims) == set(published("entra-id-token-v2-claims.json")) | ENTRA_EXTRA_CLAIMS
    assert jose_jwt.get_unverified_header(body["id_token"])["typ"] == "JWT"


@pytest.mark.parametrize("auth", AUTH_METHODS)
def test_cis2_code_flow_gives_a_verified_id_token_and_userinfo(
    idp: RunningIdp, auth: ClientAuth
) -> None:
    client = client_for(idp, auth)
    body = sign_in(
        idp.http,
        idp.base_url,
        IssuerKind.cis2,
        client,
        "two-trust-practitioner",
        auth=auth,
        nonce="n-cis2",
    )

    claims = verified_claims(idp, IssuerKind.cis2, body["id_token"], client.client_id)
    assert (
        claims["iss"]
        == f"{idp.base_url}/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare"
    )
    assert claims["azp"] == client.client_id
    assert claims["tokenName"] == "id_token"
    assert claims["realm"] == "/NHSIdentity/Healthcare"
    assert claims["nonce"] == "n-cis2"
    assert claims["selected_roleid"] == "555301000101"
    assert claims["at_hash"] == left_half_hash(body["access_token"], "RS256")
    assert claims["s_hash"] == left_half_hash("state-1", "RS256")
    assert set(claims) == set(published("cis2-id-token-claims.json")) | CIS2_EXTRA_CLAIMS

    userinfo_url = idp.http.get(issuer_urls(IssuerKind.cis2, idp.base_url).discovery).json()[
        "userinfo_endpoint"
    ]
    answer = idp.http.get(userinfo_url, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert answer.status_code == 200
    userinfo = answer.json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["selected_roleid"] == "555301000101"
    assert userinfo["idassurancelevel"] == "3"
    selected = [
        r
        for r in userinfo["nhsid_nrbac_roles"]
        if r["person_roleid"] == userinfo["selected_roleid"]
    ]
    assert [(r["org_code"], r["role_code"]) for r in selected] == [("RQI", "S8000:G8000:R8001")]
    assert {r["org_code"] for r in userinfo["nhsid_nrbac_roles"]} == {"RQI", "Y05868"}


def test_userinfo_claim_names_are_the_published_ones() -> None:
    """A person with every optional value, signed in with every scope, gets exactly the published
    userinfo's claim names (plus selected_roleid); role entries have the published entries' keys."""
    full = published("cis2-userinfo.json")
    rqi_practitioner = next(p for p in DEMO_PEOPLE if p.key == "rqi-practitioner")
    assert isinstance(rqi_practitioner, Cis2Person)
    everything = replace(
        rqi_practitioner,
        key="everything",
        email="full.profile@nhs.example",
        middle_names="Middle",
        memberships=tuple((name, f"{name.upper()}123") for name in PROFESSIONAL_IDS),
    )
    config = provider_config([idp_client()], people=[everything])
    app = create_app(config)
    tokens = issue_tokens(app, "everything", "client", scopes=frozenset(ALL_CIS2_SCOPES.split()))
    with running_provider(app) as base_url:
        userinfo = httpx.get(
            issuer_urls(IssuerKind.cis2, base_url).userinfo or "",
            headers={"Authorization": f"Bearer {tokens.access_token}"},
        ).json()

    assert set(userinfo) == set(full) | {"selected_roleid"}
    published_role_keys = {key for role in full["nhsid_nrbac_roles"] for key in role}
    assert all(set(role) <= published_role_keys for role in userinfo["nhsid_nrbac_roles"])
    assert set(userinfo["nhsid_user_orgs"][0]) == set(full["nhsid_user_orgs"][0])
    assert set(userinfo["nhsid_org_roles"][0]) == set(full["nhsid_org_roles"][0])


def test_userinfo_releases_only_what_the_scopes_ask_for(idp: RunningIdp) -> None:
    tokens = issue_tokens(
        idp.app, "rqi-ig-officer", idp.key_client.client_id, scopes=frozenset({"openid", "profile"})
    )
    userinfo = idp.http.get(
        issuer_urls(IssuerKind.cis2, idp.base_url).userinfo or "",
        headers={"Authorization": f"Bearer {tokens.access_token}"},
    ).json()
    assert set(userinfo) == {"sub", "name", "given_name", "family_name", "uid"}


def test_issued_tokens_have_the_same_shape_as_signed_in_ones(idp: RunningIdp) -> None:
    entra = issue_tokens(idp.app, "nsp-officer", idp.secret_client.client_id, nonce="x")
    cis2 = issue_tokens(idp.app, "rqi-supervisor", idp.key_client.client_id, nonce="x")
    entra_claims = verified_claims(
        idp, IssuerKind.entra, entra.id_token, idp.secret_client.client_id
    )
    cis2_claims = verified_claims(idp, IssuerKind.cis2, cis2.id_token, idp.key_client.client_id)
    assert set(entra_claims) == set(published("entra-id-token-v2-claims.json")) | ENTRA_EXTRA_CLAIMS
    assert set(cis2_claims) == set(published("cis2-id-token-claims.json")) | CIS2_EXTRA_CLAIMS


def test_demo_role_maps_cover_the_demo_people() -> None:
    entra_roles = {role for p in DEMO_PEOPLE if isinstance(p, EntraPerson) for role in p.roles}
    selected = {
        p.selected_role.job_role
        for p in DEMO_PEOPLE
        if isinstance(p, Cis2Person) and p.selected_role
    }
    assert entra_roles == set(DEMO_ROLE_MAP)
    assert selected == set(CIS2_ROLE_MAP)
    assert set(CIS2_ROLE_MAP.values()) == {"mh_practitioner", "supervisor", "ig_officer"}


def test_the_same_person_gets_a_different_entra_subject_per_client(idp: RunningIdp) -> None:
    first = sign_in(
        idp.http,
        idp.base_url,
        IssuerKind.entra,
        idp.secret_client,
        "nsp-supervisor",
        auth="client_secret_post",
    )
    second = sign_in(
        idp.http,
        idp.base_url,
        IssuerKind.entra,
        idp.key_client,
        "nsp-supervisor",
        auth="private_key_jwt",
    )
    a = jose_jwt.get_unverified_claims(first["id_token"])
    b = jose_jwt.get_unverified_claims(second["id_token"])
    assert a["oid"] == b["oid"]
    assert a["sub"] != b["sub"]


def test_each_issuer_signs_with_its_own_key(idp: RunningIdp) -> None:
    body = sign_in(
        idp.http,
        idp.base_url,
        IssuerKind.entra,
        idp.secret_client,
        "nsp-officer",
        auth="client_secret_post",
    )
    cis2_keys = idp.http.get(issuer_urls(IssuerKind.cis2, idp.base_url).jwks).json()["keys"]
    header = jose_jwt.get_unverified_header(body["id_token"])
    assert header["kid"] not in {key["kid"] for key in cis2_keys}
    with pytest.raises(JWTError):
        jose_jwt.decode(
            body["id_token"],
            cis2_keys[0],
            algorithms=["RS256"],
            audience=idp.secret_client.client_id,
        )
