"""The API as an OpenID Connect relying party for the browser pages: the authorization code flow
with PKCE (RFC 7636), the API a confidential client of the provider (RFC 6749 section 2.3,
`private_key_jwt` of OpenID Connect Core section 9).

The provider's tokens come back to the API, not the browser: they are verified, used once (the
identity token to know the person, the access token for a `cis2` provider's userinfo) and dropped.
"""

import asyncio
import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from jose import jwk
from jose import jwt as jose_jwt
from jose.backends.base import Key

from auth.issuers import ProviderMetadata, SignIn, TrustedIssuer

TOKEN_ENDPOINT_TIMEOUT_SECONDS = 5.0
TOKEN_RESPONSE_MAX_BYTES = 64 * 1024
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_ASSERTION_LIFETIME_SECONDS = 60
MAX_CLIENT_SECRET_BYTES = 4096


class ClientConfigError(Exception):
    """A sign-in client's credentials cannot be used; the message names the file, never its content."""


class SignInFailed(Exception):
    """The provider did not give us usable tokens; `reason` is a code for the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ClientCredentials:
    """How the API proves itself to one provider's token endpoint."""

    client_id: str
    method: str
    secret: str | None = None
    key: Key | None = None
    kid: str | None = None
    algorithm: str | None = None
    public_jwk: dict[str, Any] | None = None
    # A certificate's thumbprint, where the provider identifies the key by it (Entra ID).
    thumbprint: dict[str, str] | None = None


def load_client_credentials(sign_in: SignIn) -> ClientCredentials:
    """Read the client's secret or private key file once, at start-up."""
    if sign_in.client_auth == "private_key_jwt":
        assert sign_in.client_key_file is not None
        entry = _private_jwk(sign_in.client_key_file)
        algorithm = sign_in.client_key_algorithm
        try:
            key = jwk.construct(entry, algorithm)
        except Exception:
            raise ClientConfigError(
                f"sign-in client key {sign_in.client_key_file} is not a usable {algorithm} key"
            ) from None
        public = {name: value for name, value in key.public_key().to_dict().items()}
        public |= {"kid": entry["kid"], "use": "sig", "alg": algorithm}
        thumbprint = {
            name: str(entry[name])
            for name in ("x5t", "x5t#S256")
            if isinstance(entry.get(name), str)
        }
        return ClientCredentials(
            client_id=sign_in.client_id,
            method=sign_in.client_auth,
            key=key,
            kid=str(entry["kid"]),
            algorithm=algorithm,
            public_jwk=public,
            thumbprint=thumbprint or None,
        )
    assert sign_in.client_secret_file is not None
    try:
        raw = sign_in.client_secret_file.read_bytes()
    except OSError as exc:
        raise ClientConfigError(
            f"sign-in client secret {sign_in.client_secret_file} cannot be read ({exc.strerror})"
        ) from None
    secret = raw.decode("utf-8", errors="replace").strip()
    if not secret or len(raw) > MAX_CLIENT_SECRET_BYTES:
        raise ClientConfigError(f"sign-in client secret {sign_in.client_secret_file} is unusable")
    return ClientCredentials(client_id=sign_in.client_id, method=sign_in.client_auth, secret=secret)


def _private_jwk(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClientConfigError(
            f"sign-in client key {path} cannot be read ({exc.strerror})"
        ) from None
    except ValueError:
        raise ClientConfigError(f"sign-in client key {path} is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    entry = keys[0] if isinstance(keys, list) and keys else document
    if not isinstance(entry, dict) or "d" not in entry or not isinstance(entry.get("kid"), str):
        raise ClientConfigError(f"sign-in client key {path} must be a private JWK with a kid")
    return entry


@dataclass(frozen=True)
class Authorization:
    """An authorization request: where to send the browser, and what to keep until it is back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def begin_authorization(
    metadata: ProviderMetadata, sign_in: SignIn, redirect_uri: str
) -> Authorization:
    """The provider's authorization URL with a fresh state, nonce and PKCE S256 challenge."""
    if metadata.authorization_endpoint is None:
        raise SignInFailed("authorization_endpoint_missing")
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    parameters = {
        "response_type": "code",
        "client_id": sign_in.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(sign_in.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if sign_in.acr_values is not None:
        parameters["acr_values"] = sign_in.acr_values
    query = urlencode(parameters, quote_via=quote)
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    return Authorization(
        url=f"{metadata.authorization_endpoint}{separator}{query}",
        state=state,
        nonce=nonce,
        code_verifier=verifier,
    )


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ProviderTokens:
    id_token: str
    access_token: str | None


async def redeem_code(
    http: httpx.AsyncClient,
    metadata: ProviderMetadata,
    client: ClientCredentials,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
) -> ProviderTokens:
    """Trade the authorization code for the provider's tokens at its token endpoint."""
    endpoint = metadata.token_endpoint
    if endpoint is None:
        raise SignInFailed("token_endpoint_missing")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
        "client_id": client.client_id,
    }
    headers = {"Accept": "application/json"}
    if client.method == "client_secret_post":
        assert client.secret is not None
        form["client_secret"] = client.secret
    elif client.method == "client_secret_basic":
        assert client.secret is not None
        # RFC 6749 section 2.3.1: each part form-encoded before joining.
        pair = f"{quote(client.client_id, safe='')}:{quote(client.secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form["client_assertion_type"] = CLIENT_ASSERTION_TYPE
        form["client_assertion"] = client_assertion(client, endpoint)
    try:
        async with asyncio.timeout(TOKEN_ENDPOINT_TIMEOUT_SECONDS):
            async with http.stream(
                "POST",
                endpoint,
                data=form,
                headers=headers,
                timeout=TOKEN_ENDPOINT_TIMEOUT_SECONDS,
            ) as response:
                if response.status_code != 200:
                    raise SignInFailed("token_endpoint_refused")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > TOKEN_RESPONSE_MAX_BYTES:
                        raise SignInFailed("token_response_too_large")
    except (httpx.HTTPError, TimeoutError):
        raise SignInFailed("token_endpoint_unreachable") from None
    try:
        document = json.loads(body)
    except ValueError:
        raise SignInFailed("token_response_invalid") from None
    id_token = document.get("id_token") if isinstance(document, dict) else None
    access_token = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(id_token, str) or not id_token:
        raise SignInFailed("id_token_missing")
    return ProviderTokens(
        id_token=id_token, access_token=access_token if isinstance(access_token, str) else None
    )


def client_assertion(client: ClientCredentials, audience: str) -> str:
    """A signed JWT proving the client holds its private key (RFC 7523), good for one minute."""
    assert client.key is not None
    assert client.algorithm is not None
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + CLIENT_ASSERTION_LIFETIME_SECONDS,
    }
    token: str = jose_jwt.encode(
        claims,
        client.key,
        algorithm=client.algorithm,
        headers={"kid": client.kid, "typ": "JWT"} | (client.thumbprint or {}),
    )
    return token


def sign_in_clients(issuers: list[TrustedIssuer]) -> dict[str, ClientCredentials]:
    """Each sign-in provider's client credentials, by provider id; `ClientConfigError` names a
    file that cannot be used."""
    clients: dict[str, ClientCredentials] = {}
    for issuer in issuers:
        if issuer.sign_in is not None and issuer.id is not None:
            clients[issuer.id] = load_client_credentials(issuer.sign_in)
    return clients
