"""The demo's wiring: the files `auth.development` writes for the development OpenID provider fit
the provider (same issuers, same role maps, credentials it accepts), and the API reads them."""

from pathlib import Path

import httpx
import yaml

from auth.development import (
    OIDC_CLIENTS_FILE,
    OIDC_ENTRA_SECRET_FILE,
    ensure_development_keys,
)
from auth.issuers import load_trusted_issuers
from auth.oidc import client_assertion, load_client_credentials, sign_in_clients
from devidp import (
    CIS2_ROLE_MAP,
    DEMO_ROLE_MAP,
    IssuerKind,
    ProviderConfig,
    create_app,
    issuer_urls,
    load_clients_file,
)
from tests.oidc_provider import (
    ASSERTION_TYPE,
    choose_person,
    code_from,
    pkce_pair,
    running_provider,
)
from tests.processes import free_port

AUDIENCE = "urn:street-triage:api"
API_PORT = 8123
PARTNERSHIP = ["NSP", "RQI", "Y05868"]


def demo_files(directory: Path, base_url: str) -> Path:
    _, issuers = ensure_development_keys(
        directory,
        audience=AUDIENCE,
        organisation_codes=PARTNERSHIP,
        oidc_url=base_url,
        api_port=API_PORT,
    )
    return issuers


def test_the_issuers_file_names_the_providers_issuers_and_role_maps(tmp_path: Path) -> None:
    base_url = "http://127.0.0.1:8901"
    issuers = load_trusted_issuers(
        demo_files(tmp_path, base_url), own_issuer="urn:own", require_organisations=False
    )
    by_id = {issuer.id: issuer for issuer in issuers}
    entra, cis2 = by_id["entra-nsp"], by_id["cis2"]
    entra_urls = issuer_urls(IssuerKind.entra, base_url)
    cis2_urls = issuer_urls(IssuerKind.cis2, base_url)
    assert (entra.issuer, str(entra.discovery_url)) == (entra_urls.issuer, entra_urls.discovery)
    assert (cis2.issuer, str(cis2.discovery_url)) == (cis2_urls.issuer, cis2_urls.discovery)
    assert {k: v.value for k, v in entra.role_map.items()} == DEMO_ROLE_MAP
    assert {k: v.value for k, v in cis2.role_map.items()} == CIS2_ROLE_MAP
    assert (entra.organisation, cis2.organisations) == ("NSP", ["RQI", "Y05868"])
    assert (entra.audience, cis2.audience) == ("triage-dashboard-entra", "triage-dashboard-cis2")
    assert entra.max_lifetime_seconds == 3900
    # The file-based development issuer (`triage dev-token`) is still the first.
    assert issuers[0].issuer == "urn:street-triage:dev-identity-provider"
    assert sorted(sign_in_clients(issuers)) == ["cis2", "entra-nsp"]


def test_the_credentials_are_made_once_and_the_clients_file_follows_the_port(
    tmp_path: Path,
) -> None:
    demo_files(tmp_path, "http://127.0.0.1:8901")
    secret = (tmp_path / OIDC_ENTRA_SECRET_FILE).read_text()
    ensure_development_keys(
        tmp_path,
        audience=AUDIENCE,
        organisation_codes=PARTNERSHIP,
        oidc_url="http://127.0.0.1:8901",
        api_port=9000,
    )
    assert (tmp_path / OIDC_ENTRA_SECRET_FILE).read_text() == secret
    clients = yaml.safe_load((tmp_path / OIDC_CLIENTS_FILE).read_text())["clients"]
    assert clients[0]["redirect_uris"] == [
        "http://127.0.0.1:9000/auth/callback",
        "http://localhost:9000/auth/callback",
    ]


def test_without_the_provider_the_issuers_file_is_as_before(tmp_path: Path) -> None:
    _, path = ensure_development_keys(tmp_path, audience=AUDIENCE, organisation_codes=PARTNERSHIP)
    (issuer,) = load_trusted_issuers(path, own_issuer="urn:own")
    assert issuer.issuer == "urn:street-triage:dev-identity-provider"
    assert not (tmp_path / OIDC_CLIENTS_FILE).exists()


def test_the_api_credentials_sign_in_at_the_provider_started_with_the_clients_file(
    tmp_path: Path,
) -> None:
    base_url = f"http://127.0.0.1:{free_port()}"
    issuers = load_trusted_issuers(
        demo_files(tmp_path, base_url), own_issuer="urn:own", require_organisations=False
    )
    by_id = {issuer.id: issuer for issuer in issuers}
    config = ProviderConfig(
        base_url=base_url, clients=load_clients_file(tmp_path / OIDC_CLIENTS_FILE)
    )
    callback = f"http://localhost:{API_PORT}/auth/callback"
    with running_provider(create_app(config)), httpx.Client() as http:
        for provider_id, kind, person in (
            ("entra-nsp", IssuerKind.entra, "nsp-supervisor"),
            ("cis2", IssuerKind.cis2, "y05868-practitioner"),
        ):
            sign_in = by_id[provider_id].sign_in
            assert sign_in is not None
            credentials = load_client_credentials(sign_in)
            urls = issuer_urls(kind, base_url)
            verifier, challenge = pkce_pair()
            authorize = httpx.URL(
                urls.authorize,
                params={
                    "client_id": sign_in.client_id,
                    "redirect_uri": callback,
                    "response_type": "code",
                    "scope": " ".join(sign_in.scopes),
                    "state": "s",
                    "nonce": "n",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            location = choose_person(http, str(authorize), person)
            form = {
                "grant_type": "authorization_code",
                "code": code_from(location),
                "redirect_uri": callback,
                "code_verifier": verifier,
                "client_id": sign_in.client_id,
            }
            if credentials.secret is not None:
                form["client_secret"] = credentials.secret
            else:
                form["client_assertion_type"] = ASSERTION_TYPE
                form["client_assertion"] = client_assertion(credentials, urls.token)
            answer = http.post(urls.token, data=form)
            assert answer.status_code == 200, answer.text
            assert answer.json()["id_token"]
