"""Tokens as Entra ID and NHS CIS2 issue them, exchanged for ours: an Entra-shaped provider known
only by its discovery document (organisation fixed, roles a list) and a CIS2-shaped one (the role
selected for the session read from userinfo with the user's access token, assurance level), both
served over real HTTP by the development OpenID provider."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jose import jwt as jose_jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from api.settings import Settings
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from devidp import IssuerKind, create_app
from devidp.provider import Provider
from models import AuditEvent
from tests.identity_provider import IdentityProvider, KeyMaterial
from tests.oidc_provider import key_client, provider_config, running_provider, secret_client
from tests.sign_in_providers import (
    CIS2_CLIENT,
    ENTRA_CLIENT,
    OTHER_APPLICATION,
    SignInProviders,
    settings_with_providers,
    sign_in_providers,  # noqa: F401 - the module's provider fixture
    trusted_issuers,
)


@dataclass
class StoppingProvider:
    """A CIS2-shaped provider of its own, which a test can stop."""

    provider: Provider
    stop: Callable[[], None]


@pytest.fixture
def stopping_cis2(tmp_path: Path) -> Iterator[tuple[StoppingProvider, dict[str, Any]]]:
    client = key_client(CIS2_CLIENT, "https://triage.test/auth/callback")
    app = create_app(provider_config([client]))
    with ExitStack() as stack:
        base_url = stack.enter_context(running_provider(app))
        document = trusted_issuers(
            base_url, secret_client("unused", "https://x.test/cb"), client, tmp_path
        )
        cis2 = document["issuers"][1]
        cis2["sign_in"]["client_key_file"] = str(tmp_path / cis2["sign_in"]["client_key_file"])
        yield StoppingProvider(app.state.provider, stack.close), cis2


@pytest.fixture
def settings(
    settings: Settings,
    key_material: KeyMaterial,
    sign_in_providers: SignInProviders,  # noqa: F811
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Settings:
    settings = settings_with_providers(settings, key_material, sign_in_providers, tmp_path)
    issuers = settings.trusted_issuers
    assert issuers is not None
    if "stopping_cis2" in request.fixturenames:
        _, entry = request.getfixturevalue("stopping_cis2")
        document = yaml.safe_load(issuers.read_text())
        # In place of the module's CIS2 provider (two issuers may not share an id).
        document["issuers"] = [item for item in document["issuers"] if item.get("id") != "nhs-cis2"]
        document["issuers"].append(entry)
        issuers.write_text(yaml.safe_dump(document))
    return settings


def form(id_token: str, purpose: str, **fields: str) -> dict[str, str]:
    return {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": id_token,
        "subject_token_type": JWT_TOKEN_TYPE,
        "purpose": purpose,
        **fields,
    }


def granted(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 200, response.text
    claims = jose_jwt.get_unverified_claims(response.json()["access_token"])
    return claims["role"], claims["org"]


def refused(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert "access_token" not in body
    error: str = body["error"]
    return error


async def reasons(connection: AsyncConnection, organisation: str) -> list[str | None]:
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        select(col(AuditEvent.reason))
        .where(
            col(AuditEvent.action) == "token.refuse",
            col(AuditEvent.actor_organisation_code) == organisation,
        )
        .order_by(col(AuditEvent.occurred_at))
    )
    return [row[0] for row in rows]


def entra_token(providers: SignInProviders, person: str) -> str:
    return providers.provider.issue(person, ENTRA_CLIENT).id_token


# Entra ID: roles are a list of app role values; the tenant is the force.


@pytest.mark.parametrize(
    ("person", "purpose", "role_asked", "expected"),
    [
        ("nsp-officer", "street-triage", None, ("officer", "NSP")),
        ("nsp-supervisor", "supervision", None, ("supervisor", "NSP")),
        # Two app roles that map to two of ours: the caller names one.
        ("nsp-officer-supervisor", "supervision", "supervisor", ("supervisor", "NSP")),
        ("nsp-officer-supervisor", "street-triage", "officer", ("officer", "NSP")),
    ],
)
async def test_entra_id_tokens_are_exchanged_for_the_mapped_role(
    client: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
    person: str,
    purpose: str,
    role_asked: str | None,
    expected: tuple[str, str],
) -> None:
    id_token = entra_token(sign_in_providers, person)
    claims = jose_jwt.get_unverified_claims(id_token)
    # As Entra ID issues them: a list of roles, the tenant, `uti` and no `jti`, an hour's life.
    assert isinstance(claims["roles"], list)
    assert "jti" not in claims
    assert {"tid", "oid", "uti", "ver"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 3600
    extra = {"role": role_asked} if role_asked else {}
    response = await client.post("/v1/token", data=form(id_token, purpose, **extra))
    assert granted(response) == expected


async def test_an_entra_user_with_no_mapped_role_is_refused(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    sign_in_providers: SignInProviders,  # noqa: F811
) -> None:
    response = await client.post(
        "/v1/token", data=form(entra_token(sign_in_providers, "nsp-finance"), "street-triage")
    )
    assert refused(response) == "invalid_grant"
    # The provider may speak for its force, so the force's IG sees the refusal.
    assert "role_not_mapped" in await reasons(connection, "NSP")


@pytest.mark.parametrize(
    ("role_asked", "error"),
    [(None, "invalid_request"), ("mh_practitioner", "invalid_grant"), ("chief", "invalid_request")],
)
async def test_two_mapped_roles_need_one_named_and_held(
    client: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
    role_asked: str | None,
    error: str,
) -> None:
    extra = {"role": role_asked} if role_asked else {}
    response = await client.post(
        "/v1/token",
        data=form(entra_token(sign_in_providers, "nsp-officer-supervisor"), "supervision", **extra),
    )
    assert refused(response) == error


async def test_an_entra_token_for_another_application_or_tenant_is_refused(
    client: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
) -> None:
    provider = sign_in_providers.provider
    # Same tenant, same signing key, another application's audience.
    other_app = provider.issue("nsp-officer", OTHER_APPLICATION).id_token
    # Our issuer's name, signed by a key the tenant does not publish (another tenant, a forger).
    forger = IdentityProvider.generate(sign_in_providers.entra_issuer(), "forged-key-1")
    claims = jose_jwt.get_unverified_claims(entra_token(sign_in_providers, "nsp-officer"))
    forged = forger.sign(claims)
    for id_token in (other_app, forged):
        response = await client.post("/v1/token", data=form(id_token, "street-triage"))
        assert refused(response) == "invalid_grant"


@pytest.mark.parametrize(
    "access_token_claims",
    [
        {"scp": "user_impersonation"},
        {"azpacr": "1", "azp": OTHER_APPLICATION},
        {"idtyp": "app", "azpacr": "2"},
        {"appid": OTHER_APPLICATION, "appidacr": "1"},
        # An `azp` naming another party: issued to someone else.
        {"azp": OTHER_APPLICATION},
    ],
)
async def test_an_access_token_of_the_same_tenant_is_not_an_identity_token(
    client: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
    access_token_claims: dict[str, str],
) -> None:
    """Entra ID's access tokens for our app carry our client id as `aud` and the app's roles;
    an application holding `Triage.Officer` must not become an officer."""
    provider = sign_in_providers.provider
    claims = jose_jwt.get_unverified_claims(entra_token(sign_in_providers, "nsp-officer"))
    key = provider.keys[IssuerKind.entra]
    token = jose_jwt.encode(
        claims | access_token_claims,
        key.private_pem,
        algorithm=key.algorithm,
        headers={"kid": key.kid, "typ": "JWT"},
    )
    response = await client.post("/v1/token", data=form(token, "street-triage"))
    assert refused(response) == "invalid_grant"
    # The same claims without them are a person signing in: the test is not refused for others.
    clean = jose_jwt.encode(
        claims, key.private_pem, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "JWT"}
    )
    assert granted(await client.post("/v1/token", data=form(clean, "street-triage")))


# NHS CIS2: the selected role, read from userinfo with the user's access token.


def cis2_form(
    providers: SignInProviders, person: str, purpose: str, **fields: str
) -> dict[str, str]:
    tokens = providers.provider.issue(person, CIS2_CLIENT)
    return form(tokens.id_token, purpose, provider_access_token=tokens.access_token, **fields)


@pytest.mark.parametrize(
    ("person", "purpose", "expected"),
    [
        ("rqi-practitioner", "crisis-planning", ("mh_practitioner", "RQI")),
        ("y05868-practitioner", "crisis-planning", ("mh_practitioner", "Y05868")),
        ("rqi-supervisor", "supervision", ("supervisor", "RQI")),
        ("y05868-ig-officer", "audit", ("ig_officer", "Y05868")),
        # Roles at both trusts: the one selected for the session decides.
        ("two-trust-practitioner", "crisis-planning", ("mh_practitioner", "RQI")),
        # The issuer lowers supervisors' least assurance to 2; practitioners cannot be lowered.
        ("rqi-password-manager", "supervision", ("supervisor", "RQI")),
    ],
)
async def test_cis2_identities_act_in_their_selected_role(
    client: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
    person: str,
    purpose: str,
    expected: tuple[str, str],
) -> None:
    response = await client.post("/v1/token", data=cis2_form(sign_in_providers, person, purpose))
    assert granted(response) == expected


@pytest.mark.parametrize(
    ("person", "organisation", "reason"),
    [
        ("rqi-unselected", "RQI", None),
        ("rqi-password-nurse", "RQI", "assurance_too_low"),
        ("rqi-level-two-nurse", "RQI", "assurance_too_low"),
        # A role at a trust outside the partnership: audited under the organisation it named.
        ("other-trust-nurse", "RX3", "organisation_not_allowed_for_issuer"),
        # The provider may assert it, but the partnership holds no such organisation.
        ("unlisted-partner-nurse", "RAT", "role_not_held"),
    ],
)
async def test_cis2_identities_that_may_not_act_are_refused(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    sign_in_providers: SignInProviders,  # noqa: F811
    person: str,
    organisation: str,
    reason: str | None,
) -> None:
    response = await client.post(
        "/v1/token", data=cis2_form(sign_in_providers, person, "crisis-planning")
    )
    assert refused(response) == "invalid_grant"
    if reason is not None:
        assert reason in await reasons(connection, organisation)


async def test_cis2_needs_the_users_access_token_and_only_theirs(
    client: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
) -> None:
    provider = sign_in_providers.provider
    nurse = provider.issue("rqi-practitioner", CIS2_CLIENT)
    manager = provider.issue("rqi-supervisor", CIS2_CLIENT)
    missing = await client.post("/v1/token", data=form(nurse.id_token, "crisis-planning"))
    assert refused(missing) == "invalid_request"
    made_up = await client.post(
        "/v1/token",
        data=form(nurse.id_token, "crisis-planning", provider_access_token="not-a-cis2-token"),
    )
    assert refused(made_up) == "invalid_grant"
    # Another person's userinfo never decides this person's role.
    swapped = await client.post(
        "/v1/token",
        data=form(nurse.id_token, "supervision", provider_access_token=manager.access_token),
    )
    assert refused(swapped) == "invalid_grant"


async def test_cis2_not_answering_is_a_503_to_try_again_not_a_refusal(
    client: httpx.AsyncClient,
    stopping_cis2: tuple[StoppingProvider, dict[str, Any]],
) -> None:
    stopping, _ = stopping_cis2
    before = stopping.provider.issue("rqi-practitioner", CIS2_CLIENT)
    after = stopping.provider.issue("rqi-practitioner", CIS2_CLIENT)
    first = await client.post(
        "/v1/token",
        data=form(before.id_token, "crisis-planning", provider_access_token=before.access_token),
    )
    assert granted(first) == ("mh_practitioner", "RQI")
    stopping.stop()
    # Keys and endpoints are kept; the role in use cannot be read, so nothing is granted.
    second = await client.post(
        "/v1/token",
        data=form(after.id_token, "crisis-planning", provider_access_token=after.access_token),
    )
    assert refused(second, status=503) == "temporarily_unavailable"
    assert second.headers["retry-after"] == "30"
