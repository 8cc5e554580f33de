"""A development identity provider: a local RSA key, its JWK set and a trusted issuers file.

Only for `TRIAGE_ENVIRONMENT=development`: the CLI refuses to mint identity tokens otherwise.
"""

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk
from jose import jwt as jose_jwt

from auth.keys import new_signing_jwk, write_private_jwks

DEV_ISSUER = "urn:street-triage:dev-identity-provider"
DEV_ALGORITHM = "RS256"
DEV_KID = "dev-idp-1"
DEV_TOKEN_LIFETIME_SECONDS = 600

PRIVATE_KEY_FILE = "dev-idp-private.pem"
PUBLIC_JWKS_FILE = "dev-idp-jwks.json"
ISSUERS_FILE = "dev-trusted-issuers.yaml"
SIGNING_KEYS_FILE = "signing-keys.json"


def ensure_development_keys(
    keys_dir: Path, *, audience: str, organisation_codes: Sequence[str]
) -> tuple[Path, Path]:
    """Create, once, the API's signing keys and the development identity provider, and (each
    time) the trusted issuers file naming that provider for the partnership's organisations.

    Returns the paths of the signing key set and the trusted issuers file.
    """
    keys_dir.mkdir(parents=True, exist_ok=True)
    signing = keys_dir / SIGNING_KEYS_FILE
    if not signing.exists():
        write_private_jwks(signing, [new_signing_jwk()])
    _ensure_identity_provider_key(keys_dir)
    issuers = keys_dir / ISSUERS_FILE
    issuers.write_text(
        yaml.safe_dump(
            {
                "issuers": [
                    {
                        "issuer": DEV_ISSUER,
                        "audience": audience,
                        "jwks_file": PUBLIC_JWKS_FILE,
                        "algorithms": [DEV_ALGORITHM],
                        # One local provider stands in for every organisation's own.
                        "organisations": sorted(set(organisation_codes)),
                    }
                ]
            }
        )
    )
    return signing, issuers


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
