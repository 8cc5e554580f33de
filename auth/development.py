"""A development identity provider: a local RSA key, its JWK set and a trusted issuers file.

Only for `TRIAGE_ENVIRONMENT=development`: the CLI refuses to mint identity tokens otherwise.
"""

import json
import secrets
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk
from jose import jwt as jose_jwt

from auth.keys import add_missing_log_keys, new_signing_jwk, write_private_jwks

DEV_ISSUER = "urn:street-triage:dev-identity-provider"
DEV_ALGORITHM = "RS256"
DEV_KID = "dev-idp-1"
DEV_TOKEN_LIFETIME_SECONDS = 600

PRIVATE_KEY_FILE = "dev-idp-private.pem"
PUBLIC_JWKS_FILE = "dev-idp-jwks.json"
ISSUERS_FILE = "dev-trusted-issuers.yaml"
SIGNING_KEYS_FILE = "signing-keys.json"

# The development OpenID provider (`python -m devidp`, a tool the product never imports) serves
# an Entra-shaped issuer for the force and a CIS2-shaped one for the trusts. Its tenant and paths
# are repeated here; tests/devidp checks they agree with the tool's.
OIDC_CLIENTS_FILE = "dev-oidc-clients.yaml"
OIDC_ENTRA_SECRET_FILE = "dev-oidc-entra-client-secret.txt"  # noqa: S105 - a file name
OIDC_CIS2_PRIVATE_KEY_FILE = "dev-oidc-cis2-client-private-jwks.json"
OIDC_CIS2_PUBLIC_KEY_FILE = "dev-oidc-cis2-client-public-jwks.json"
OIDC_ENTRA_CLIENT_ID = "triage-dashboard-entra"
OIDC_CIS2_CLIENT_ID = "triage-dashboard-cis2"
OIDC_ENTRA_TENANT = "5b0e2f3c-8a61-4d0b-9c2e-6f1a4d7e9b30"
OIDC_CIS2_ISSUER_PATH = "/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare"
OIDC_CLIENT_KEY_ALGORITHM = "RS512"
OIDC_FORCE = "NSP"
OIDC_TRUSTS = ("RQI", "Y05868")


def ensure_development_keys(
    keys_dir: Path,
    *,
    audience: str,
    organisation_codes: Sequence[str],
    oidc_url: str | None = None,
    api_port: int = 8000,
) -> tuple[Path, Path]:
    """Create, once, the API's signing keys and the development identity provider, and (each
    time) the trusted issuers file naming that provider for the partnership's organisations.

    With `oidc_url` (the development OpenID provider's base URL), also its two issuers with
    browser sign-in, and the clients file that provider is started with (clients whose redirect
    URIs are this API's callback on `api_port`); their credentials are made once.

    Returns the paths of the signing key set and the trusted issuers file.
    """
    keys_dir.mkdir(parents=True, exist_ok=True)
    signing = keys_dir / SIGNING_KEYS_FILE
    if not signing.exists():
        write_private_jwks(signing, [new_signing_jwk()])
    add_missing_log_keys(signing)
    _ensure_identity_provider_key(keys_dir)
    organisations = sorted(set(organisation_codes))
    trusted: list[dict[str, Any]] = [
        {
            "issuer": DEV_ISSUER,
            "audience": audience,
            "jwks_file": PUBLIC_JWKS_FILE,
            "algorithms": [DEV_ALGORITHM],
            # One local provider stands in for every organisation's own.
            "organisations": organisations,
        }
    ]
    if oidc_url is not None:
        trusted += _development_oidc_issuers(
            keys_dir, oidc_url.rstrip("/"), api_port, organisations
        )
    issuers = keys_dir / ISSUERS_FILE
    issuers.write_text(yaml.safe_dump({"issuers": trusted}, sort_keys=False))
    return signing, issuers


def _development_oidc_issuers(
    keys_dir: Path, base_url: str, api_port: int, organisations: Sequence[str]
) -> list[dict[str, Any]]:
    """The development OpenID provider's issuers, each vouching only for its own organisations
    of the partnership, and the clients file it is started with."""
    _ensure_oidc_client_credentials(keys_dir)
    hosts = ("127.0.0.1", "localhost")
    callbacks = [f"http://{host}:{api_port}/auth/callback" for host in hosts]
    after_sign_out = [f"http://{host}:{api_port}/dashboard" for host in hosts]
    (keys_dir / OIDC_CLIENTS_FILE).write_text(
        yaml.safe_dump(
            {
                "clients": [
                    {
                        "client_id": OIDC_ENTRA_CLIENT_ID,
                        "redirect_uris": callbacks,
                        "secret_file": OIDC_ENTRA_SECRET_FILE,
                        "post_logout_redirect_uris": after_sign_out,
                    },
                    {
                        "client_id": OIDC_CIS2_CLIENT_ID,
                        "redirect_uris": callbacks,
                        "jwks_file": OIDC_CIS2_PUBLIC_KEY_FILE,
                        "post_logout_redirect_uris": after_sign_out,
                    },
                ]
            },
            sort_keys=False,
        )
    )
    entra = f"{base_url}/entra/{OIDC_ENTRA_TENANT}/v2.0"
    cis2 = f"{base_url}{OIDC_CIS2_ISSUER_PATH}"
    trusts = [code for code in OIDC_TRUSTS if code in organisations]
    issuers: list[dict[str, Any]] = []
    if OIDC_FORCE in organisations:
        issuers.append(
            {
                "id": "entra-nsp",
                "title": "Northshire Police",
                "issuer": entra,
                "discovery_url": f"{entra}/.well-known/openid-configuration",
                "audience": OIDC_ENTRA_CLIENT_ID,
                "algorithms": ["RS256"],
                "role_claim": "roles",
                "role_map": {"Triage.Officer": "officer", "Triage.Supervisor": "supervisor"},
                "organisation": OIDC_FORCE,
                # Entra ID tokens live an hour; a little more allows for clock skew.
                "max_lifetime_seconds": 3900,
                "sign_in": {
                    "client_id": OIDC_ENTRA_CLIENT_ID,
                    "client_auth": "client_secret_post",
                    "client_secret_file": OIDC_ENTRA_SECRET_FILE,
                    "scopes": ["openid", "profile"],
                },
            }
        )
    if trusts:
        issuers.append(
            {
                "id": "cis2",
                "title": "NHS CIS2 (mental health trusts)",
                "issuer": cis2,
                "discovery_url": f"{cis2}/.well-known/openid-configuration",
                "audience": OIDC_CIS2_CLIENT_ID,
                "algorithms": ["RS256"],
                "profile": "cis2",
                "role_map": {
                    "R8001": "mh_practitioner",
                    "R8002": "supervisor",
                    "R0001": "ig_officer",
                },
                "organisations": trusts,
                "sign_in": {
                    "client_id": OIDC_CIS2_CLIENT_ID,
                    "client_auth": "private_key_jwt",
                    "client_key_file": OIDC_CIS2_PRIVATE_KEY_FILE,
                    "client_key_algorithm": OIDC_CLIENT_KEY_ALGORITHM,
                    "scopes": [
                        "openid",
                        "profile",
                        "nhsperson",
                        "associatedorgs",
                        "nationalrbacaccess",
                        "selectedrole",
                    ],
                },
            }
        )
    return issuers


def _ensure_oidc_client_credentials(keys_dir: Path) -> None:
    secret_path = keys_dir / OIDC_ENTRA_SECRET_FILE
    if not secret_path.exists():
        secret_path.touch(mode=0o600)
        secret_path.write_text(secrets.token_urlsafe(32) + "\n")
    private_path = keys_dir / OIDC_CIS2_PRIVATE_KEY_FILE
    if not private_path.exists():
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key = jwk.construct(pem, OIDC_CLIENT_KEY_ALGORITHM)
        members = {
            "kid": f"dev-oidc-client-{uuid.uuid4().hex[:8]}",
            "use": "sig",
            "alg": OIDC_CLIENT_KEY_ALGORITHM,
        }
        private_jwk = {name: str(value) for name, value in key.to_dict().items()} | members
        public_jwk = {
            name: str(value) for name, value in key.public_key().to_dict().items()
        } | members
        private_path.touch(mode=0o600)
        private_path.write_text(json.dumps({"keys": [private_jwk]}, indent=2))
        (keys_dir / OIDC_CIS2_PUBLIC_KEY_FILE).write_text(
            json.dumps({"keys": [public_jwk]}, indent=2)
        )


def _ensure_identity_provider_key(keys_dir: Path) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True)
    private_path = keys_dir / PRIVATE_KEY_FILE
    if not private_path.exists():
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        private_path.touch(mode=0o600)
        private_path.write_bytes(pem)
        public = jwk.construct(pem, DEV_ALGORITHM).public_key().to_dict()
        public |= {"kid": DEV_KID, "use": "sig", "alg": DEV_ALGORITHM}
        (keys_dir / PUBLIC_JWKS_FILE).write_text(json.dumps({"keys": [public]}, indent=2))


def mint_identity_token(
    keys_dir: Path,
    *,
    audience: str,
    role: str,
    organisation_code: str,
    subject: str | None = None,
    name: str | None = None,
) -> str:
    """An identity token as an organisation's identity provider would issue it.

    The trusted issuers file is the server's to write (it knows the partnership); this makes only
    the provider's key, if the server has not yet.
    """
    _ensure_identity_provider_key(keys_dir)
    now = int(time.time())
    subject = subject or f"dev-{role}-{organisation_code}".lower()
    claims = {
        "iss": DEV_ISSUER,
        "aud": audience,
        "sub": subject,
        "name": name or f"Development {role.replace('_', ' ')} ({organisation_code})",
        "role": role,
        "org": organisation_code,
        "iat": now,
        "nbf": now,
        "exp": now + DEV_TOKEN_LIFETIME_SECONDS,
        "jti": str(uuid.uuid4()),
    }
    pem = (keys_dir / PRIVATE_KEY_FILE).read_bytes()
    token: str = jose_jwt.encode(
        claims, pem.decode(), algorithm=DEV_ALGORITHM, headers={"kid": DEV_KID, "typ": "JWT"}
    )
    return token
