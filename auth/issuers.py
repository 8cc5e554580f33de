"""Trusted identity providers and their keys.

Keys come from a JWK set file or URL. A URL is fetched with httpx when first needed and again when
a token names a `kid` we do not know, at most once a minute, so a flood of made-up `kid`s cannot
turn into a flood of requests to the identity provider.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import httpx
import yaml
from jose import jwk
from jose.backends.base import Key
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from models.organisation import ODS_CODE_PATTERN
from models.validation import describe_validation_error

JWKS_REFRESH_INTERVAL_SECONDS = 60.0
JWKS_MAX_BYTES = 256 * 1024
JWKS_TIMEOUT_SECONDS = 3.0

logger = logging.getLogger(__name__)

Algorithm = Literal["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
ClaimName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")]
OrganisationCode = Annotated[str, StringConstraints(pattern=ODS_CODE_PATTERN)]


class IssuerConfigError(Exception):
    """The trusted issuers file cannot be used; the message names every problem."""


class TrustedIssuer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    audience: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    jwks_file: Path | None = None
    jwks_url: AnyHttpUrl | None = None
    # Exactly one, asymmetric: an issuer that may use two algorithms can be made to use the weaker.
    algorithms: list[Algorithm] = Field(min_length=1, max_length=1)
    role_claim: ClaimName = "role"
    org_claim: ClaimName = "org"
    name_claim: ClaimName = "name"
    token_types: list[str] = Field(default_factory=lambda: ["jwt"], min_length=1)
    max_lifetime_seconds: int = Field(default=3600, ge=60, le=86400)
    # An identity provider vouches only for its own organisations: a force's tenant never speaks
    # for a trust. `organisation` fixes one for every user (the org claim is then optional).
    organisations: list[OrganisationCode] = Field(default_factory=list, max_length=1000)
    organisation: OrganisationCode | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks_file and jwks_url")
        if self.organisation is not None and self.organisations:
            raise ValueError("give organisation or organisations, not both")
        return self

    @property
    def algorithm(self) -> str:
        return self.algorithms[0]

    @property
    def bound_to_organisations(self) -> bool:
        return self.organisation is not None or bool(self.organisations)


class TrustedIssuersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuers: list[TrustedIssuer] = Field(min_length=1)


def load_trusted_issuers(
    path: Path, *, own_issuer: str, require_organisations: bool = True
) -> list[TrustedIssuer]:
    """Read a YAML or JSON trusted issuers file (YAML reads JSON too).

    `require_organisations` (everywhere but development): each issuer names the organisations it
    may assert, or the file is refused.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IssuerConfigError(
            f"trusted issuers file {path} cannot be read ({exc.strerror})"
        ) from None
    except yaml.YAMLError:
        raise IssuerConfigError(f"trusted issuers file {path} is not valid YAML or JSON") from None
    try:
        parsed = TrustedIssuersFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(describe_validation_error(exc))
        raise IssuerConfigError(f"trusted issuers file {path} is not valid: {problems}") from None
    names = [item.issuer for item in parsed.issuers]
    if len(set(names)) != len(names):
        raise IssuerConfigError(f"trusted issuers file {path} lists an issuer twice")
    if own_issuer in names:
        # Our own tokens must never be accepted as identity tokens.
        raise IssuerConfigError(f"trusted issuers file {path} lists this API's own issuer")
    unbound = [item.issuer for item in parsed.issuers if not item.bound_to_organisations]
    if require_organisations and unbound:
        raise IssuerConfigError(
            f"trusted issuers file {path}: issuer {', '.join(unbound)} names no organisations;"
            " give `organisations: [CODE, ...]` or `organisation: CODE` for each issuer"
            " (an identity provider may assert only its own organisations)"
        )
    base = path.parent
    return [
        item.model_copy(update={"jwks_file": base / item.jwks_file}) if item.jwks_file else item
        for item in parsed.issuers
    ]


@dataclass
class _IssuerKeys:
    config: TrustedIssuer
    keys: dict[str, Key] = field(default_factory=dict)
    fetched_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class IssuerRegistry:
    """The trusted issuers, with their keys cached and refreshed on an unknown `kid`."""

    def __init__(
        self,
        issuers: Sequence[TrustedIssuer],
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers = {item.issuer: _IssuerKeys(item) for item in issuers}
        self._http = http
        self._clock = clock

    def get(self, issuer: str) -> TrustedIssuer | None:
        entry = self._issuers.get(issuer)
        return entry.config if entry is not None else None

    async def key(self, issuer: str, kid: str) -> Key | None:
        entry = self._issuers.get(issuer)
        if entry is None:
            return None
        if kid in entry.keys:
            return entry.keys[kid]
        async with entry.lock:
            if kid not in entry.keys and self._may_refresh(entry):
                entry.fetched_at = self._clock()
                try:
                    entry.keys = await self._fetch(entry.config)
                except (httpx.HTTPError, OSError, ValueError) as exc:
                    # Keep the keys we had: a provider's outage must not lock everyone out.
                    logger.warning(
                        "identity.jwks.fetch_failed",
                        extra={"fields": {"issuer": issuer, "error_type": type(exc).__name__}},
                    )
        return entry.keys.get(kid)

    def _may_refresh(self, entry: _IssuerKeys) -> bool:
        return (
            entry.fetched_at is None
            or self._clock() - entry.fetched_at >= JWKS_REFRESH_INTERVAL_SECONDS
        )

    async def _fetch(self, config: TrustedIssuer) -> dict[str, Key]:
        if config.jwks_file is not None:
            document = json.loads(config.jwks_file.read_text(encoding="utf-8"))
        else:
            document = await self._download(str(config.jwks_url))
        return _keys_from_jwks(document, config.algorithm)

    async def _download(self, url: str) -> Any:
        async with self._http.stream("GET", url, timeout=JWKS_TIMEOUT_SECONDS) as response:
            response.raise_for_status()
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > JWKS_MAX_BYTES:
                    raise ValueError("JWK set too large")
        return json.loads(body)


def _keys_from_jwks(document: Any, algorithm: str) -> dict[str, Key]:
    keys: dict[str, Key] = {}
    entries = document.get("keys", []) if isinstance(document, dict) else []
    expected_kty = "RSA" if algorithm.startswith("RS") else "EC"
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != expected_kty:
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", algorithm) != algorithm:
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str):
            continue
        public = {name: value for name, value in entry.items() if name != "d"}
        try:
            keys[kid] = jwk.construct(public, algorithm)
        except Exception:  # noqa: S112 - one unusable key must not hide the others
            continue
    return keys
