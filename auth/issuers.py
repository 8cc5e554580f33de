"""Trusted identity providers, their keys, their OpenID Connect metadata and how their claims map.

Keys come from a JWK set file, a JWK set URL, or the `jwks_uri` of the provider's OpenID Connect
discovery document. A URL is fetched with httpx when first needed and again when a token names a
`kid` we do not know, at most once a minute, so a flood of made-up `kid`s cannot turn into a flood
of requests to the identity provider; what was fetched is kept through a provider's outage.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

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

from models import Role
from models.organisation import ODS_CODE_PATTERN
from models.validation import describe_validation_error

JWKS_REFRESH_INTERVAL_SECONDS = 60.0
JWKS_MAX_BYTES = 256 * 1024
JWKS_TIMEOUT_SECONDS = 3.0
USERINFO_MAX_BYTES = 64 * 1024
# A provider on this machine (a test, a sidecar) may be reached over plain HTTP.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# NHS CIS2's strongest level (smartcard or equivalent); a clinical role needs nothing less.
CLINICAL_ASSURANCE_LEVEL = 3

logger = logging.getLogger(__name__)

Algorithm = Literal["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
ClaimName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")]
OrganisationCode = Annotated[str, StringConstraints(pattern=ODS_CODE_PATTERN)]
ProviderId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
ProviderValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ClientAuth = Literal["client_secret_post", "client_secret_basic", "private_key_jwt"]


class IssuerConfigError(Exception):
    """The trusted issuers file cannot be used; the message names every problem."""


class SignIn(BaseModel):
    """How the API signs a person in with this provider for the browser pages: the authorization
    code flow with PKCE, the API being the (confidential) client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    client_auth: ClientAuth = "client_secret_post"
    client_secret_file: Path | None = None
    client_key_file: Path | None = None
    client_key_algorithm: Literal["RS256", "RS384", "RS512", "ES256"] = "RS512"
    scopes: list[
        Annotated[str, StringConstraints(pattern=r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")]
    ] = Field(default_factory=lambda: ["openid", "profile"], min_length=1, max_length=20)
    # Unset (development only): this API's own address as the browser reached it.
    redirect_uri: AnyHttpUrl | None = None
    # Asked of the provider, e.g. NHS CIS2's `AAL3_ANY` (a smartcard or equal); the level the
    # person actually signed in with is still checked from the identity token.
    acr_values: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e ]{1,200}$")] | None = None

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        if "openid" not in self.scopes:
            raise ValueError("sign_in.scopes must include openid")
        if self.client_auth == "private_key_jwt":
            if self.client_key_file is None or self.client_secret_file is not None:
                raise ValueError("private_key_jwt takes client_key_file (and no client secret)")
        elif self.client_secret_file is None or self.client_key_file is not None:
            raise ValueError(f"{self.client_auth} takes client_secret_file (and no client key)")
        return self


class TrustedIssuer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    audience: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    # The provider's name in sign-in links and its title on the sign-in button.
    id: ProviderId | None = None
    title: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    jwks_file: Path | None = None
    jwks_url: AnyHttpUrl | None = None
    discovery_url: AnyHttpUrl | None = None
    # Exactly one, asymmetric: an issuer that may use two algorithms can be made to use the weaker.
    algorithms: list[Algorithm] = Field(min_length=1, max_length=1)
    # `claims`: role (a string or a list) and organisation from the identity token. `cis2`: both
    # from the userinfo entry of `nhsid_nrbac_roles` the person selected for the session.
    profile: Literal["claims", "cis2"] = "claims"
    role_claim: ClaimName = "role"
    # The provider's values (for `cis2`, the R-code of `role_code`) to our roles. Empty: the
    # values are our role names themselves.
    role_map: dict[ProviderValue, Role] = Field(default_factory=dict, max_length=200)
    # The least `idassurancelevel` each role needs (`cis2`); unlisted roles need level 3.
    min_assurance: dict[Role, Annotated[int, Field(ge=1, le=3)]] = Field(default_factory=dict)
    org_claim: ClaimName = "org"
    name_claim: ClaimName = "name"
    token_types: list[str] = Field(default_factory=lambda: ["jwt"], min_length=1)
    max_lifetime_seconds: int = Field(default=3600, ge=60, le=86400)
    # An identity provider vouches only for its own organisations: a force's tenant never speaks
    # for a trust. `organisation` fixes one for every user (the org claim is then optional).
    organisations: list[OrganisationCode] = Field(default_factory=list, max_length=1000)
    organisation: OrganisationCode | None = None
    sign_in: SignIn | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        sources = (self.jwks_file, self.jwks_url, self.discovery_url)
        if sum(source is not None for source in sources) != 1:
            raise ValueError("give exactly one of jwks_file, jwks_url and discovery_url")
        if self.organisation is not None and self.organisations:
            raise ValueError("give organisation or organisations, not both")
        if self.profile == "cis2" and self.discovery_url is None:
            raise ValueError("the cis2 profile reads userinfo: give discovery_url")
        if self.profile == "cis2" and not self.role_map:
            raise ValueError("the cis2 profile needs role_map (R-codes to roles)")
        if self.min_assurance.get(Role.mh_practitioner, CLINICAL_ASSURANCE_LEVEL) < (
            CLINICAL_ASSURANCE_LEVEL
        ):
            raise ValueError("a clinical role needs assurance level 3")
        if self.sign_in is not None and (self.discovery_url is None or self.id is None):
            raise ValueError("sign_in needs discovery_url (for the endpoints) and id")
        return self

    @property
    def algorithm(self) -> str:
        return self.algorithms[0]

    @property
    def bound_to_organisations(self) -> bool:
        return self.organisation is not None or bool(self.organisations)

    def least_assurance(self, role: Role) -> int:
        return self.min_assurance.get(role, CLINICAL_ASSURANCE_LEVEL)


class TrustedIssuersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuers: list[TrustedIssuer] = Field(min_length=1)


def load_trusted_issuers(
    path: Path, *, own_issuer: str, require_organisations: bool = True
) -> list[TrustedIssuer]:
    """Read a YAML or JSON trusted issuers file (YAML reads JSON too).

    `require_organisations` (everywhere but development): each issuer names the organisations it
    may assert, and each browser sign-in names its redirect URI, or the file is refused.
    Paths in the file are relative to its folder.
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
    plain = [
        item.issuer
        for item in parsed.issuers
        for url in (item.discovery_url, item.jwks_url)
        if url is not None and url.scheme != "https" and url.host not in LOOPBACK_HOSTS
    ]
    if require_organisations and plain:
        raise IssuerConfigError(
            f"trusted issuers file {path}: issuer {', '.join(plain)} is reached over plain HTTP;"
            " outside development keys and discovery come over https"
        )
    ids = [item.id for item in parsed.issuers if item.id is not None]
    if len(set(ids)) != len(ids):
        raise IssuerConfigError(f"trusted issuers file {path} gives two issuers the same id")
    unaddressed = [
        item.issuer
        for item in parsed.issuers
        if item.sign_in is not None and item.sign_in.redirect_uri is None
    ]
    if require_organisations and unaddressed:
        raise IssuerConfigError(
            f"trusted issuers file {path}: issuer {', '.join(unaddressed)} has a sign_in with no"
            " redirect_uri (the address registered with the provider, ending /auth/callback)"
        )
    return [_relative_to(item, path.parent) for item in parsed.issuers]


def _relative_to(item: TrustedIssuer, base: Path) -> TrustedIssuer:
    update: dict[str, Any] = {}
    if item.jwks_file is not None:
        update["jwks_file"] = base / item.jwks_file
    if item.sign_in is not None:
        files = {
            name: base / value
            for name in ("client_secret_file", "client_key_file")
            if (value := getattr(item.sign_in, name)) is not None
        }
        update["sign_in"] = item.sign_in.model_copy(update=files)
    return item.model_copy(update=update)


class ProviderUnavailable(Exception):
    """The provider could not be asked, or its answer could not be used; no detail of it kept."""


@dataclass(frozen=True)
class ProviderMetadata:
    """What this API uses of a provider's OpenID Connect discovery document."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str | None
    token_endpoint: str | None
    userinfo_endpoint: str | None
    end_session_endpoint: str | None

    @classmethod
    def from_document(cls, document: Any, issuer: str, origin: str) -> "ProviderMetadata":
        """Read a discovery document fetched from `origin` (scheme, host and port).

        Endpoints elsewhere are not used: whoever could edit the document could otherwise send
        our client credentials, or our requests, anywhere.
        """
        if not isinstance(document, dict):
            raise ValueError("discovery document is not an object")
        # OpenID Connect Discovery 4.3: the issuer must be exactly the one configured, or a
        # document served elsewhere could point us at someone else's keys.
        if document.get("issuer") != issuer:
            raise ValueError("discovery document names another issuer")

        def endpoint(name: str, required: bool = False) -> str | None:
            value = document.get(name)
            if value is None and not required:
                return None
            if not isinstance(value, str) or len(value) > 2000 or url_origin(value) != origin:
                if required:
                    raise ValueError(f"discovery document has no usable {name}")
                return None
            return value

        jwks_uri = endpoint("jwks_uri", required=True)
        assert jwks_uri is not None
        return cls(
            issuer=issuer,
            jwks_uri=jwks_uri,
            authorization_endpoint=endpoint("authorization_endpoint"),
            token_endpoint=endpoint("token_endpoint"),
            userinfo_endpoint=endpoint("userinfo_endpoint"),
            end_session_endpoint=endpoint("end_session_endpoint"),
        )


def url_origin(url: str) -> str | None:
    """`scheme://host:port` of an http(s) URL, the port always written; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def provider_http_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The client every fetch from an identity provider uses: no redirects, no proxy or
    certificate settings from the environment, a time cap per request."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(JWKS_TIMEOUT_SECONDS),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=10),
        transport=transport,
    )


@dataclass
class _Provider:
    config: TrustedIssuer
    keys: dict[str, Key] = field(default_factory=dict)
    metadata: ProviderMetadata | None = None
    fetched_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class IssuerRegistry:
    """The trusted issuers, with their metadata and keys cached and refreshed on an unknown `kid`.

    Every fetch follows the same rules: no redirects and no proxy from the environment (the
    client is built so), a time cap and a size cap.
    """

    def __init__(
        self,
        issuers: Sequence[TrustedIssuer],
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers = {item.issuer: _Provider(item) for item in issuers}
        self._by_id = {item.id: item for item in issuers if item.id is not None}
        self._http = http
        self._clock = clock

    def get(self, issuer: str) -> TrustedIssuer | None:
        entry = self._issuers.get(issuer)
        return entry.config if entry is not None else None

    def by_id(self, provider_id: str) -> TrustedIssuer | None:
        return self._by_id.get(provider_id)

    def sign_in_providers(self) -> list[TrustedIssuer]:
        return [item.config for item in self._issuers.values() if item.config.sign_in is not None]

    async def key(self, issuer: str, kid: str) -> Key | None:
        entry = self._issuers.get(issuer)
        if entry is None:
            return None
        if kid in entry.keys:
            return entry.keys[kid]
        await self._refresh(entry, lambda: kid not in entry.keys)
        return entry.keys.get(kid)

    async def metadata(self, issuer: str) -> ProviderMetadata:
        """The provider's discovery metadata: `ProviderUnavailable` when it was never fetched."""
        entry = self._issuers.get(issuer)
        if entry is None or entry.config.discovery_url is None:
            raise ProviderUnavailable("no discovery document for this issuer")
        if entry.metadata is None:
            await self._refresh(entry, lambda: entry.metadata is None)
        if entry.metadata is None:
            raise ProviderUnavailable("discovery document not available")
        return entry.metadata

    async def userinfo(self, issuer: str, access_token: str) -> dict[str, Any]:
        """The provider's userinfo answer for the user holding `access_token`."""
        metadata = await self.metadata(issuer)
        if metadata.userinfo_endpoint is None:
            raise ProviderUnavailable("the provider has no userinfo endpoint")
        try:
            document = await self._download(
                metadata.userinfo_endpoint,
                USERINFO_MAX_BYTES,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (400, 401, 403):
                raise UserinfoRefused from None
            raise ProviderUnavailable(f"userinfo answered {exc.response.status_code}") from None
        except (httpx.HTTPError, OSError, ValueError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        if not isinstance(document, dict):
            raise ProviderUnavailable("userinfo is not an object")
        return document

    async def _refresh(self, entry: _Provider, still_needed: Callable[[], bool]) -> None:
        async with entry.lock:
            if not still_needed() or not self._may_refresh(entry):
                return
            entry.fetched_at = self._clock()
            try:
                metadata = await self._fetch_metadata(entry.config)
                keys = await self._fetch_keys(entry.config, metadata)
            except (httpx.HTTPError, OSError, ValueError) as exc:
                # Keep what we had: a provider's outage must not lock everyone out.
                logger.warning(
                    "identity.provider.fetch_failed",
                    extra={
                        "fields": {"issuer": entry.config.issuer, "error.type": type(exc).__name__}
                    },
                )
                return
            entry.metadata = metadata or entry.metadata
            entry.keys = keys

    def _may_refresh(self, entry: _Provider) -> bool:
        return (
            entry.fetched_at is None
            or self._clock() - entry.fetched_at >= JWKS_REFRESH_INTERVAL_SECONDS
        )

    async def _fetch_metadata(self, config: TrustedIssuer) -> ProviderMetadata | None:
        if config.discovery_url is None:
            return None
        url = str(config.discovery_url)
        document = await self._download(url, JWKS_MAX_BYTES)
        origin = url_origin(url)
        assert origin is not None
        return ProviderMetadata.from_document(document, config.issuer, origin)

    async def _fetch_keys(
        self, config: TrustedIssuer, metadata: ProviderMetadata | None
    ) -> dict[str, Key]:
        if config.jwks_file is not None:
            document = json.loads(config.jwks_file.read_text(encoding="utf-8"))
        else:
            url = metadata.jwks_uri if metadata is not None else str(config.jwks_url)
            document = await self._download(url, JWKS_MAX_BYTES)
        return _keys_from_jwks(document, config.algorithm)

    async def _download(self, url: str, limit: int, headers: dict[str, str] | None = None) -> Any:
        async with asyncio.timeout(JWKS_TIMEOUT_SECONDS):
            async with self._http.stream(
                "GET", url, timeout=JWKS_TIMEOUT_SECONDS, headers=headers
            ) as response:
                response.raise_for_status()
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise ValueError("answer too large")
        return json.loads(body)


class UserinfoRefused(Exception):
    """The provider refused the access token at its userinfo endpoint."""


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
