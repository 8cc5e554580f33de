"""The API's own signing keys: EC P-256 (ES256), several published, one signing, so keys can rotate."""

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from jose.backends.base import Key

ALGORITHM = "ES256"
PUBLIC_MEMBERS = ("kty", "crv", "x", "y")


class KeyFileError(Exception):
    """A key file that cannot be used; the message names the problem, never key material."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Key
    public_key: Key
    public_jwk: dict[str, str]


@dataclass(frozen=True)
class SigningKeySet:
    keys: dict[str, SigningKey]
    active_kid: str

    @property
    def active(self) -> SigningKey:
        return self.keys[self.active_kid]

    def verification_key(self, kid: str) -> Key | None:
        key = self.keys.get(kid)
        return key.public_key if key is not None else None

    def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.public_jwk for key in self.keys.values()]}


def load_signing_keys(path: Path, active_kid: str | None = None) -> SigningKeySet:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyFileError(f"signing key file {path} cannot be read ({exc.strerror})") from None
    except ValueError:
        raise KeyFileError(f"signing key file {path} is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise KeyFileError(f"signing key file {path} must be a JWK set with at least one key")
    keys: dict[str, SigningKey] = {}
    for index, entry in enumerate(entries):
        key = _signing_key(entry, f"signing key file {path}, key {index}")
        if key.kid in keys:
            raise KeyFileError(f"signing key file {path}: duplicate kid '{key.kid}'")
        keys[key.kid] = key
    chosen = active_kid or next(iter(keys))
    if chosen not in keys:
        raise KeyFileError(f"signing key file {path} has no key with kid '{chosen}'")
    return SigningKeySet(keys=keys, active_kid=chosen)


def _signing_key(entry: Any, where: str) -> SigningKey:
    if not isinstance(entry, dict):
        raise KeyFileError(f"{where}: not a JWK object")
    if entry.get("kty") != "EC" or entry.get("crv") != "P-256":
        raise KeyFileError(f"{where}: must be an EC P-256 key for {ALGORITHM}")
    if "d" not in entry:
        raise KeyFileError(f"{where}: has no private part")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeyFileError(f"{where}: has no kid")
    public_jwk = {name: str(entry[name]) for name in PUBLIC_MEMBERS}
    try:
        private_key = jwk.construct(entry, ALGORITHM)
        public_key = jwk.construct(public_jwk, ALGORITHM)
    except Exception:
        raise KeyFileError(f"{where}: is not a usable EC key") from None
    public_jwk |= {"kid": kid, "use": "sig", "alg": ALGORITHM}
    return SigningKey(
        kid=kid, private_key=private_key, public_key=public_key, public_jwk=public_jwk
    )


def new_signing_jwk(kid: str | None = None) -> dict[str, str]:
    """A fresh EC P-256 private key as a JWK."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    entry: dict[str, str] = jwk.construct(pem, ALGORITHM).to_dict()
    entry |= {"kid": kid or uuid.uuid4().hex[:16], "use": "sig", "alg": ALGORITHM}
    return entry


def write_private_jwks(path: Path, entries: list[dict[str, str]]) -> None:
    """Write a private JWK set readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"keys": entries}, handle, indent=2)
