"""Discovery documents and key sets of both issuers, and the command that serves them."""

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devidp import ENTRA_TENANT, IssuerKind, create_app, issuer_urls
from tests.devidp.conftest import RunningIdp
from tests.oidc_provider import (
    key_client,
    provider_config,
    running_provider,
    secret_client,
    write_clients_file,
)
from tests.processes import free_port

REQUIRED = {
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "end_session_endpoint",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "code_challenge_methods_supported",
    "scopes_supported",
    "claims_supported",
}


def test_the_entra_discovery_document(idp: RunningIdp) -> None:
    urls = issuer_urls(IssuerKind.entra, idp.base_url)
    document = idp.http.get(urls.discovery).json()
    assert set(document) >= REQUIRED
    tenant = f"{idp.base_url}/entra/{ENTRA_TENANT}"
    assert document["issuer"] == f"{tenant}/v2.0"
    assert document["authorization_endpoint"] == f"{tenant}/oauth2/v2.0/authorize"
    assert document["token_endpoint"] == f"{tenant}/oauth2/v2.0/token"
    assert document["jwks_uri"] == f"{tenant}/discovery/v2.0/keys"
    assert document["end_session_endpoint"] == f"{tenant}/oauth2/v2.0/logout"
    assert "userinfo_endpoint" not in document
    assert document["subject_types_supported"] == ["pairwise"]
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"roles", "oid", "tid", "preferred_username"} <= set(document["claims_supported"])


def test_the_cis2_discovery_document(idp: RunningIdp) -> None:
    urls = issuer_urls(IssuerKind.cis2, idp.base_url)
    document = idp.http.get(urls.discovery).json()
    assert REQUIRED | {"userinfo_endpoint"} <= set(document)
    issuer = f"{idp.base_url}/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare"
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == f"{issuer}/authorize"
    assert document["token_endpoint"] == f"{issuer}/access_token"
    assert document["userinfo_endpoint"] == f"{issuer}/userinfo"
    assert document["jwks_uri"] == f"{issuer}/connect/jwk_uri"
    assert document["end_session_endpoint"] == f"{issuer}/connect/endSession"
    assert {"nationalrbacaccess", "selectedrole", "associatedorgs"} <= set(
        document["scopes_supported"]
    )
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]


@pytest.mark.parametrize("kind", list(IssuerKind))
def test_each_issuer_publishes_one_rsa_key_with_a_kid(idp: RunningIdp, kind: IssuerKind) -> None:
    keys = idp.http.get(issuer_urls(kind, idp.base_url).jwks).json()["keys"]
    assert len(keys) == 1
    [key] = keys
    assert key["kty"] == "RSA"
    assert key["use"] == "sig"
    assert key["alg"] == "RS256"
    assert key["kid"]
    assert "d" not in key


def test_the_signing_algorithm_is_configured_per_issuer() -> None:
    config = provider_config(
        [secret_client("c", "http://127.0.0.1:8000/auth/callback")],
        algorithms={IssuerKind.entra: "RS256", IssuerKind.cis2: "RS512"},
    )
    with running_provider(create_app(config)) as base_url:
        document = httpx.get(issuer_urls(IssuerKind.cis2, base_url).discovery).json()
        keys = httpx.get(document["jwks_uri"]).json()["keys"]
    assert document["id_token_signing_alg_values_supported"] == ["RS512"]
    assert keys[0]["alg"] == "RS512"


def test_python_m_devidp_serves_from_a_clients_file(tmp_path: Path) -> None:
    clients = write_clients_file(
        tmp_path,
        [
            secret_client("triage-dashboard-entra", "http://127.0.0.1:8000/auth/callback"),
            key_client("triage-dashboard-cis2", "http://127.0.0.1:8000/auth/callback"),
        ],
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devidp", "--port", str(port), "--clients", str(clients)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first_line = process.stderr.readline()
        assert f"http://127.0.0.1:{port}" in first_line
        deadline = time.monotonic() + 10
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_idp/health", timeout=0.5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "python -m devidp did not answer"
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        page = httpx.get(
            issuer_urls(IssuerKind.entra, f"http://127.0.0.1:{port}").authorize,
            params={
                "client_id": "triage-dashboard-cis2",
                "redirect_uri": "http://127.0.0.1:8000/auth/callback",
            },
        )
        # Registered client, no PKCE: refused back to the (registered) redirect URI.
        assert page.status_code == 303
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_bad_clients_file_stops_the_command(tmp_path: Path) -> None:
    clients = tmp_path / "clients.yaml"
    clients.write_text(
        "clients:\n  - client_id: nothing-to-authenticate-with\n    redirect_uris: [http://x/cb]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "devidp", "--port", str(free_port()), "--clients", str(clients)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "neither a secret nor a JWK set" in result.stderr
