"""A test identity provider: real RSA keys, real signed identity tokens, and ways to spoil them."""

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk
from jose import jwt as jose_jwt

from auth.keys import (
    CHECKPOINT_USE,
    COSIGN_USE,
    new_log_jwk,
    new_signing_jwk,
    write_private_jwks,
)

# The tests' usual provider vouches for every organisation the tests use; the force's and the
# trusts' own providers vouch only for theirs.
ISSUER = "https://idp.partnership.test"
AUDIENCE = "urn:street-triage:api"
KID = "police-idp-1"
PARTNERSHIP_ORGANISATIONS = ["NSP", "SWP", "RQI", "Y05868"]
FORCE_ISSUER = "https://login.northshire-police.test"
FORCE_ORGANISATION = "NSP"
TRUST_ISSUER = "https://cis2.nhs.test"
TRUST_ORGANISATIONS = ["RQI", "Y05868"]


@dataclass
class IdentityProvider:
    private_pem: str
    public_jwk: dict[str, Any]
    issuer: str = ISSUER
    audience: str = AUDIENCE
    kid: str = KID

    @classmethod
    def generate(cls, issuer: str = ISSUER, kid: str = KID) -> "IdentityProvider":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = jwk.construct(pem, "RS256").public_key().to_dict()
        public |= {"kid": kid, "use": "sig", "alg": "RS256"}
        return cls(private_pem=pem, public_jwk=public, issuer=issuer, kid=kid)

    def claims(self, role: str, org: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": f"{role}-{org}-1".lower(),
            "name": f"Test {role} of {org}",
            "role": role,
            "org": org,
            "iat": now,
            "exp": now + 600,
            "jti": str(uuid.uuid4()),
        }
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        header = {"kid": self.kid, "typ": "JWT"} | headers
        token: str = jose_jwt.encode(claims, self.private_pem, algorithm="RS256", headers=header)
        return token

    def token(self, role: str, org: str, **overrides: Any) -> str:
        return self.sign(self.claims(role, org, **overrides))


@dataclass(frozen=True)
class KeyMaterial:
    directory: Path
    signing_keys_file: Path
    trusted_issuers_file: Path
    idp: IdentityProvider
    force_idp: IdentityProvider
    trust_idp: IdentityProvider


def _trusted(
    directory: Path, provider: IdentityProvider, jwks_file: str, **organisations: Any
) -> dict[str, Any]:
    (directory / jwks_file).write_text(json.dumps({"keys": [provider.public_jwk]}))
    return {
        "issuer": provider.issuer,
        "audience": AUDIENCE,
        "jwks_file": jwks_file,
        "algorithms": ["RS256"],
    } | organisations


def make_key_material(directory: Path) -> KeyMaterial:
    """Our signing keys (two, the first signing, as mid-rotation) and three trusted providers:
    the tests' usual one, the force's (one organisation, fixed) and the trusts' (a list)."""
    idp = IdentityProvider.generate()
    force_idp = IdentityProvider.generate(FORCE_ISSUER, "force-idp-1")
    trust_idp = IdentityProvider.generate(TRUST_ISSUER, "trust-idp-1")
    signing = directory / "signing-keys.json"
    write_private_jwks(
        signing,
        [
            new_signing_jwk("api-key-1"),
            new_signing_jwk("api-key-2"),
            new_log_jwk(CHECKPOINT_USE, "audit-log-1"),
            new_log_jwk(COSIGN_USE, "audit-witness-1"),
        ],
    )
    issuers = directory / "trusted-issuers.yaml"
    issuers.write_text(
        yaml.safe_dump(
            {
                "issuers": [
                    _trusted(
                        directory,
                        idp,
                        "police-idp-jwks.json",
                        organisations=PARTNERSHIP_ORGANISATIONS,
                    ),
                    _trusted(
                        directory,
                        force_idp,
                        "force-idp-jwks.json",
                        organisation=FORCE_ORGANISATION,
                    ),
                    _trusted(
                        directory,
                        trust_idp,
                        "trust-idp-jwks.json",
                        organisations=TRUST_ORGANISATIONS,
                    ),
                ]
            }
        )
    )
    return KeyMaterial(
        directory=directory,
        signing_keys_file=signing,
        trusted_issuers_file=issuers,
        idp=idp,
        force_idp=force_idp,
        trust_idp=trust_idp,
    )
