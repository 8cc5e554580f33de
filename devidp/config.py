"""What the provider serves: its base URL, registered clients, people, token lifetime and clock."""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from devidp.people import DEMO_PEOPLE, IssuerKind, Person

SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512")


class ClientFileError(Exception):
    """The clients file cannot be used; the message names the problem, never a secret."""


@dataclass(frozen=True)
class Client:
    """A registered relying party. A secret allows client_secret_basic and client_secret_post; a
    public JWK set allows private_key_jwt."""

    client_id: str
    redirect_uris: tuple[str, ...]
    secret: str | None = None
    public_jwks: dict[str, Any] | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.secret is None and self.public_jwks is None:
            raise ClientFileError(f"client {self.client_id!r} has neither a secret nor a JWK set")
        for uri in (*self.redirect_uris, *self.post_logout_redirect_uris):
            parts = urlsplit(uri)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.fragment:
                raise ClientFileError(f"client {self.client_id!r}: {uri!r} is not a usable URI")

    @property
    def auth_methods(self) -> tuple[str, ...]:
        methods: tuple[str, ...] = ()
        if self.secret is not None:
            methods += ("client_secret_basic", "client_secret_post")
        if self.public_jwks is not None:
            methods += ("private_key_jwt",)
        return methods


@dataclass(frozen=True)
class ProviderConfig:
    """`base_url` is where the provider is reached (issuer URLs are built from it)."""

    base_url: str
    clients: Sequence[Client]
    people: Sequence[Person] = DEMO_PEOPLE
    # Entra ID tokens live about an hour; CIS2's access tokens too.
    token_lifetime_seconds: int = 3600
    code_lifetime_seconds: int = 60
    algorithms: dict[IssuerKind, str] = field(
        default_factory=lambda: {IssuerKind.entra: "RS256", IssuerKind.cis2: "RS256"}
    )
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        keys = [person.key for person in self.people]
        if len(set(keys)) != len(keys):
            raise ValueError("two people share a key")
        ids = [client.client_id for client in self.clients]
        if len(set(ids)) != len(ids):
            raise ValueError("two clients share a client_id")
        for algorithm in self.algorithms.values():
            if algorithm not in SIGNING_ALGORITHMS:
                raise ValueError(f"unsupported signing algorithm {algorithm!r}")

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def person(self, key: str) -> Person | None:
        return next((p for p in self.people if p.key == key), None)


def load_clients_file(path: Path) -> list[Client]:
    """Read `clients: [{client_id, redirect_uris, secret_file?, jwks_file?,
    post_logout_redirect_uris?}]`; file paths are relative to the clients file's folder."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClientFileError(f"clients file {path} cannot be read ({exc.strerror})") from None
    except yaml.YAMLError:
        raise ClientFileError(f"clients file {path} is not valid YAML") from None
    entries = document.get("clients") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ClientFileError(f"clients file {path} must list at least one client under 'clients'")
    return [
        _client(entry, path.parent, f"clients file {path}, client {n}")
        for n, entry in enumerate(entries)
    ]


def _client(entry: Any, folder: Path, where: str) -> Client:
    if not isinstance(entry, dict):
        raise ClientFileError(f"{where}: not a mapping")
    unknown = set(entry) - {
        "client_id",
        "redirect_uris",
        "secret_file",
        "jwks_file",
        "post_logout_redirect_uris",
    }
    if unknown:
        raise ClientFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    client_id = entry.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ClientFileError(f"{where}: client_id must be a non-empty string")
    redirect_uris = _strings(entry.get("redirect_uris"), f"{where}: redirect_uris")
    if not redirect_uris:
        raise ClientFileError(f"{where}: redirect_uris must list at least one URI")
    logout_uris = _strings(
        entry.get("post_logout_redirect_uris", []), f"{where}: post_logout_redirect_uris"
    )
    secret = None
    if "secret_file" in entry:
        secret = _read(folder / str(entry["secret_file"]), f"{where}: secret_file").strip()
        if not secret:
            raise ClientFileError(f"{where}: secret_file is empty")
    public_jwks = None
    if "jwks_file" in entry:
        public_jwks = _public_jwks(
            _read(folder / str(entry["jwks_file"]), f"{where}: jwks_file"), where
        )
    return Client(
        client_id=client_id,
        redirect_uris=tuple(redirect_uris),
        secret=secret,
        public_jwks=public_jwks,
        post_logout_redirect_uris=tuple(logout_uris),
    )


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ClientFileError(f"{where} must be a list of strings")
    return list(value)


def _read(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClientFileError(f"{where} {path} cannot be read ({exc.strerror})") from None


def _public_jwks(text: str, where: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        raise ClientFileError(f"{where}: jwks_file is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise ClientFileError(f"{where}: jwks_file must be a JWK set with at least one key")
    if any("d" in key for key in keys):
        # A provider holds only the client's public keys.
        raise ClientFileError(f"{where}: jwks_file holds a private key")
    return {"keys": keys}
