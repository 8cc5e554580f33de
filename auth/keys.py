"""The API's own signing keys: EC P-256 (ES256) for tokens, several published, one signing, so keys
can rotate; and Ed25519 keys for the audit log, one signing its checkpoints and one co-signing
partners' checkpoints as their witness.

Both kinds live in one JWK set. An Ed25519 entry (`kty` OKP, `crv` Ed25519) names its job in
`use`: `audit-checkpoint` or `audit-cosign`; token signing never sees them.
"""

import base64
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jose import jwk
from jose.backends.base import Key

ALGORITHM = "ES256"
PUBLIC_MEMBERS = ("kty", "crv", "x", "y")
CHECKPOINT_USE = "audit-checkpoint"
COSIGN_USE = "audit-cosign"


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
        if _is_ed25519(entry):
            continue
        key = _signing_key(entry, f"signing key file {path}, key {index}")
        if key.kid in keys:
            raise KeyFileError(f"signing key file {path}: duplicate kid '{key.kid}'")
        keys[key.kid] = key
    if not keys:
        raise KeyFileError(f"signing key file {path} has no EC P-256 key to sign tokens")
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


def _is_ed25519(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519"


@dataclass(frozen=True)
class LogKey:
    """An Ed25519 key of the audit log: `use` is `audit-checkpoint` or `audit-cosign`."""

    kid: str
    use: str
    private_key: ed25519.Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


def load_log_keys(path: Path) -> list[LogKey]:
    """The Ed25519 entries of the signing key file, in file order (the first of a use signs)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyFileError(f"signing key file {path} cannot be read ({exc.strerror})") from None
    except ValueError:
        raise KeyFileError(f"signing key file {path} is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyFileError(f"signing key file {path} must be a JWK set")
    found: list[LogKey] = []
    for index, entry in enumerate(entries):
        if not _is_ed25519(entry):
            continue
        where = f"signing key file {path}, key {index}"
        use = entry.get("use")
        if use not in (CHECKPOINT_USE, COSIGN_USE):
            raise KeyFileError(f"{where}: an Ed25519 key's use is {CHECKPOINT_USE} or {COSIGN_USE}")
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            raise KeyFileError(f"{where}: has no kid")
        try:
            private = ed25519.Ed25519PrivateKey.from_private_bytes(_unpadded(entry["d"]))
        except Exception:
            raise KeyFileError(f"{where}: is not a usable Ed25519 key") from None
        if _unpadded(entry.get("x", "")) != LogKey(kid, use, private).public_bytes:
            raise KeyFileError(f"{where}: its public part does not match its private part")
        found.append(LogKey(kid=kid, use=use, private_key=private))
    return found


def new_log_jwk(use: str, kid: str | None = None) -> dict[str, str]:
    """A fresh Ed25519 private key for the audit log, as a JWK (RFC 8037)."""
    private = ed25519.Ed25519PrivateKey.generate()
    key = LogKey(kid or uuid.uuid4().hex[:16], use, private)
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(key.public_bytes),
        "d": _b64url(raw),
        "kid": key.kid,
        "use": use,
        "alg": "EdDSA",
    }


def add_missing_log_keys(path: Path) -> None:
    """Add to a key file the audit log's checkpoint and cosigning keys it lacks (one each)."""
    entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
    uses = {entry.get("use") for entry in entries if _is_ed25519(entry)}
    missing = [new_log_jwk(use) for use in (CHECKPOINT_USE, COSIGN_USE) if use not in uses]
    if missing:
        write_private_jwks(path, [*entries, *missing])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unpadded(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a base64url string")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
