"""The provider's rules, without HTTP: authorization requests, codes, client authentication, tokens,
userinfo and sign-out, for both issuers. State lives in memory, behind one lock: the server's event
loop and a test's thread may use it at once."""

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jws
from jose import jwt as jose_jwt
from jose.exceptions import JOSEError

from devidp.config import Client, ProviderConfig
from devidp.people import Cis2Person, EntraPerson, IssuerKind, Person
from devidp.shapes import (
    CIS2_SCOPE_CLAIMS,
    ENTRA_SCOPES,
    Issuance,
    IssuerUrls,
    cis2_id_token_claims,
    cis2_userinfo,
    discovery_document,
    entra_id_token_claims,
    issuer_urls,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
ASSERTION_MAX_LIFETIME_SECONDS = 300
CLOCK_SKEW_SECONDS = 10
PENDING_REQUEST_SECONDS = 600
# RFC 7636 4.1 (verifier) and 4.2 (an S256 challenge is 32 bytes, base64url without padding).
VERIFIER_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
CHALLENGE_PATTERN = re.compile(r"^[A-Za-z0-9\-_]{43}$")
PROVIDER_NAMES = {
    IssuerKind.entra: "Microsoft Entra ID",
    IssuerKind.cis2: "NHS CIS2 Authentication",
}


class OAuthError(Exception):
    """An error answered as RFC 6749 JSON from the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400, *, basic: bool = False):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.basic_challenge = basic

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class RedirectError(Exception):
    """An authorization error sent back to the client's (registered) redirect URI."""

    def __init__(self, location: str):
        super().__init__("authorization error")
        self.location = location


class PageError(Exception):
    """A request that cannot be trusted with a redirect: shown on a page instead."""


class BearerError(Exception):
    """A userinfo request without a usable access token."""

    def __init__(self, error: str | None):
        super().__init__(error or "no token")
        self.error = error


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_pem: str
    public_jwk: dict[str, str]


def new_signing_key(algorithm: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = {k: str(v) for k, v in jwk.construct(pem, algorithm).public_key().to_dict().items()}
    kid = jwk_thumbprint(public)
    return SigningKey(
        kid=kid,
        algorithm=algorithm,
        private_pem=pem,
        public_jwk={
            "kty": "RSA",
            "use": "sig",
            "kid": kid,
            "alg": algorithm,
            "n": public["n"],
            "e": public["e"],
        },
    )


def jwk_thumbprint(public: Mapping[str, str]) -> str:
    """RFC 7638 thumbprint of an RSA key."""
    canonical = json.dumps(
        {"e": public["e"], "kty": "RSA", "n": public["n"]}, separators=(",", ":")
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int = 3600
    scope: str = "openid"

    def response(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
            "id_token": self.id_token,
        }


@dataclass(frozen=True)
class PendingRequest:
    kind: IssuerKind
    client_id: str
    redirect_uri: str
    state: str | None
    nonce: str | None
    code_challenge: str
    scopes: frozenset[str]
    created_at: float


@dataclass(frozen=True)
class Grant:
    kind: IssuerKind
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    state: str | None
    scopes: frozenset[str]
    person_key: str
    issued_at: float


@dataclass(frozen=True)
class AccessGrant:
    kind: IssuerKind
    person_key: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class _State:
    pending: dict[str, PendingRequest] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    # Codes already exchanged -> the access tokens they gave, revoked if the code comes back.
    spent_codes: dict[str, list[str]] = field(default_factory=dict)
    access_tokens: dict[str, AccessGrant] = field(default_factory=dict)
    # (client_id, jti) of accepted client assertions -> when they may be forgotten.
    assertion_ids: dict[tuple[str, str], float] = field(default_factory=dict)


def default_scopes(kind: IssuerKind) -> frozenset[str]:
    return frozenset(ENTRA_SCOPES[:2] if kind is IssuerKind.entra else CIS2_SCOPE_CLAIMS)


class Provider:
    def __init__(self, config: ProviderConfig):
        self.config = config
        self.urls: dict[IssuerKind, IssuerUrls] = {
            kind: issuer_urls(kind, config.base_url) for kind in IssuerKind
        }
        self.keys: dict[IssuerKind, SigningKey] = {
            kind: new_signing_key(config.algorithms[kind]) for kind in IssuerKind
        }
        self._lock = threading.Lock()
        self._state = _State()

    def now(self) -> float:
        return self.config.clock()

    def people_for(self, kind: IssuerKind) -> list[Person]:
        return [person for person in self.config.people if person.issuer is kind]

    def discovery(self, kind: IssuerKind) -> dict[str, Any]:
        return discovery_document(kind, self.urls[kind], self.keys[kind].algorithm)

    def jwks(self, kind: IssuerKind) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.keys[kind].public_jwk]}

    # Authorization endpoint

    def begin(self, kind: IssuerKind, params: Mapping[str, list[str]]) -> tuple[str, Client]:
        """Check an authorization request; returns the pending request's id and its client."""
        values = {name: items[-1] for name, items in params.items()}
        if any(len(params.get(name, [])) > 1 for name in ("client_id", "redirect_uri")):
            raise PageError("The request repeats client_id or redirect_uri.")
        client = self.config.client(values.get("client_id", ""))
        if client is None:
            raise PageError("The application asking you to sign in is not registered here.")
        redirect_uri = values.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise PageError("The address to return to is not registered for this application.")
        state = values.get("state")

        def refuse(error: str, description: str) -> RedirectError:
            return RedirectError(error_location(redirect_uri, error, description, state))

        if any(len(items) > 1 for items in params.values()):
            raise refuse("invalid_request", "a parameter is repeated")
        if values.get("response_type") != "code":
            raise refuse("unsupported_response_type", "only response_type=code is supported")
        scopes = frozenset(values.get("scope", "").split())
        if "openid" not in scopes:
            raise refuse("invalid_scope", "the openid scope is required")
        challenge = values.get("code_challenge")
        if not challenge:
            raise refuse("invalid_request", "PKCE is required: send code_challenge")
        if values.get("code_challenge_method") != "S256":
            raise refuse("invalid_request", "code_challenge_method must be S256")
        if not CHALLENGE_PATTERN.fullmatch(challenge):
            raise refuse("invalid_request", "code_challenge is not an S256 challenge")
        request_id = secrets.token_urlsafe(24)
        pending = PendingRequest(
            kind=kind,
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            state=state,
            nonce=values.get("nonce"),
            code_challenge=challenge,
            scopes=scopes,
            created_at=self.now(),
        )
        with self._lock:
            self._forget_expired()
            self._state.pending[request_id] = pending
        return request_id, client

    def choose(self, kind: IssuerKind, request_id: str, person_key: str | None) -> str:
        """The person chosen on the page (None: cancelled); returns where to send the browser."""
        with self._lock:
            self._forget_expired()
            pending = self._state.pending.pop(request_id, None)
        if pending is None or pending.kind is not kind:
            raise PageError("This sign-in has expired or was already used. Start again.")
        if person_key is None:
            raise RedirectError(
                error_location(
                    pending.redirect_uri, "access_denied", "the user cancelled", pending.state
                )
            )
        person = self.config.person(person_key)
        if person is None or person.issuer is not kind:
            raise PageError("That person cannot sign in here.")
        code = secrets.token_urlsafe(32)
        grant = Grant(
            kind=kind,
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            code_challenge=pending.code_challenge,
            nonce=pending.nonce,
            state=pending.state,
            scopes=pending.scopes,
            person_key=person.key,
            issued_at=self.now(),
        )
        with self._lock:
            self._state.codes[code] = grant
        query = {"code": code} | ({"state": pending.state} if pending.state is not None else {})
        return with_query(pending.redirect_uri, query)

    # Token endpoint

    def exchange(
        self, kind: IssuerKind, form: Mapping[str, list[str]], authorization: str | None
    ) -> Tokens:
        if any(len(items) > 1 for items in form.values()):
            raise OAuthError("invalid_request", "a parameter is repeated")
        values = {name: items[0] for name, items in form.items()}
        client = self.authenticate_client(kind, values, authorization)
        if values.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "only authorization_code is supported")
        code = values.get("code", "")
        with self._lock:
            grant = self._state.codes.pop(code, None)
            if grant is None:
                # A code presented twice: revoke what its first use gave (RFC 6749 4.1.2).
                for token in self._state.spent_codes.get(code, []):
                    self._state.access_tokens.pop(token, None)
                raise OAuthError("invalid_grant", "the code is unknown, expired or already used")
            self._state.spent_codes[code] = []
        if grant.kind is not kind or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the code was not issued to this client here")
        if self.now() > grant.issued_at + self.config.code_lifetime_seconds:
            raise OAuthError("invalid_grant", "the code is unknown, expired or already used")
        if values.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError(
                "invalid_grant", "redirect_uri does not match the authorization request"
            )
        verifier = values.get("code_verifier", "")
        if not VERIFIER_PATTERN.fullmatch(verifier) or not hmac.compare_digest(
            s256(verifier), grant.code_challenge
        ):
            raise OAuthError("invalid_grant", "the code_verifier does not match the code_challenge")
        tokens = self._mint(
            kind,
            grant.person_key,
            client.client_id,
            grant.scopes,
            grant.nonce,
            code,
            grant.state,
            grant.issued_at,
        )
        with self._lock:
            self._state.spent_codes[code].append(tokens.access_token)
        return tokens

    def authenticate_client(
        self, kind: IssuerKind, values: Mapping[str, str], authorization: str | None
    ) -> Client:
        basic = authorization is not None and authorization[:6].lower() == "basic "
        posted_secret = "client_secret" in values
        assertion = "client_assertion" in values or "client_assertion_type" in values
        if basic + posted_secret + assertion > 1:
            raise OAuthError("invalid_request", "use exactly one client authentication method")
        if basic:
            assert authorization is not None
            client_id, secret = _basic_credentials(authorization[6:])
            if values.get("client_id", client_id) != client_id:
                raise OAuthError(
                    "invalid_request", "client_id differs from the authenticated client"
                )
            return self._check_secret(client_id, secret, basic=True)
        if posted_secret:
            return self._check_secret(values.get("client_id", ""), values["client_secret"])
        if assertion:
            if values.get("client_assertion_type") != ASSERTION_TYPE:
                raise OAuthError("invalid_client", "client_assertion_type must be jwt-bearer", 401)
            return self._check_assertion(
                kind, values.get("client_assertion", ""), values.get("client_id")
            )
        raise OAuthError("invalid_client", "client authentication is required", 401)

    def _check_secret(self, client_id: str, secret: str, *, basic: bool = False) -> Client:
        client = self.config.client(client_id)
        if (
            client is None
            or client.secret is None
            or not hmac.compare_digest(client.secret.encode(), secret.encode())
        ):
            raise OAuthError("invalid_client", "client authentication failed", 401, basic=basic)
        return client

    def _check_assertion(self, kind: IssuerKind, assertion: str, client_id: str | None) -> Client:
        failed = OAuthError("invalid_client", "client authentication failed", 401)
        try:
            header = jose_jwt.get_unverified_header(assertion)
            unverified = jose_jwt.get_unverified_claims(assertion)
        except JOSEError:
            raise failed from None
        issuer = unverified.get("iss")
        client = self.config.client(issuer) if isinstance(issuer, str) else None
        if client is None or client.public_jwks is None:
            raise failed
        if client_id is not None and client_id != client.client_id:
            raise OAuthError("invalid_request", "client_id differs from the assertion's issuer")
        algorithm = header.get("alg")
        if algorithm not in ASSERTION_ALGORITHMS:
            raise failed
        claims = _verified_claims(assertion, client.public_jwks, algorithm, header.get("kid"))
        if claims is None:
            raise failed
        now = self.now()
        urls = self.urls[kind]
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        expires = claims.get("exp")
        jti = claims.get("jti")
        if (
            claims.get("iss") != client.client_id
            or claims.get("sub") != client.client_id
            or not ({urls.token, urls.issuer} & {a for a in audiences if isinstance(a, str)})
            or not isinstance(expires, int | float)
            or expires <= now - CLOCK_SKEW_SECONDS
            or expires > now + ASSERTION_MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS
            or not isinstance(claims.get("nbf", now), int | float)
            or claims.get("nbf", now) > now + CLOCK_SKEW_SECONDS
            or not isinstance(jti, str)
            or not jti
        ):
            raise failed
        with self._lock:
            self._forget_expired()
            if (client.client_id, jti) in self._state.assertion_ids:
                raise OAuthError("invalid_client", "the client assertion was already used", 401)
            self._state.assertion_ids[(client.client_id, jti)] = expires + CLOCK_SKEW_SECONDS
        return client

    def issue(
        self,
        person_key: str,
        client_id: str,
        nonce: str | None = None,
        scopes: frozenset[str] | None = None,
    ) -> Tokens:
        """Tokens for a person as if they had signed in just now, without a browser."""
        person = self.config.person(person_key)
        if person is None:
            raise KeyError(f"no person {person_key!r}")
        if self.config.client(client_id) is None:
            raise KeyError(f"no client {client_id!r}")
        kind = person.issuer
        # A code and a state that were never sent still give the ID token its c_hash and s_hash,
        # as one from the token endpoint has.
        code, state = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
        scopes = scopes or default_scopes(kind)
        return self._mint(kind, person.key, client_id, scopes, nonce, code, state, self.now())

    def _mint(
        self,
        kind: IssuerKind,
        person_key: str,
        client_id: str,
        scopes: frozenset[str],
        nonce: str | None,
        code: str | None,
        state: str | None,
        auth_time: float,
    ) -> Tokens:
        person = self.config.person(person_key)
        assert person is not None
        assert person.issuer is kind
        key = self.keys[kind]
        now = int(self.now())
        lifetime = self.config.token_lifetime_seconds
        access_token = secrets.token_urlsafe(32)
        issuance = Issuance(
            client_id=client_id,
            issuer=self.urls[kind].issuer,
            now=now,
            auth_time=int(auth_time),
            lifetime_seconds=lifetime,
            nonce=nonce,
            code=code,
            state=state,
            access_token=access_token,
            algorithm=key.algorithm,
        )
        if isinstance(person, EntraPerson):
            claims = entra_id_token_claims(person, issuance)
        else:
            claims = cis2_id_token_claims(person, issuance)
        id_token: str = jose_jwt.encode(
            claims, key.private_pem, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "JWT"}
        )
        with self._lock:
            self._state.access_tokens[access_token] = AccessGrant(
                kind=kind,
                person_key=person.key,
                client_id=client_id,
                scopes=scopes,
                expires_at=now + lifetime,
            )
        return Tokens(
            id_token=id_token,
            access_token=access_token,
            expires_in=lifetime,
            scope=" ".join(sorted(scopes)),
        )

    # Userinfo endpoint

    def userinfo(self, kind: IssuerKind, authorization: str | None) -> dict[str, Any]:
        if authorization is None or authorization[:7].lower() != "bearer ":
            raise BearerError(None)
        with self._lock:
            grant = self._state.access_tokens.get(authorization[7:].strip())
        if grant is None or grant.kind is not kind or grant.expires_at <= self.now():
            raise BearerError("invalid_token")
        person = self.config.person(grant.person_key)
        if not isinstance(person, Cis2Person):
            raise BearerError("invalid_token")
        return cis2_userinfo(person, grant.scopes)

    # End session endpoint

    def end_session(self, kind: IssuerKind, params: Mapping[str, str]) -> str | None:
        """Where to send the browser after signing out, or None to show the signed-out page."""
        target = params.get("post_logout_redirect_uri")
        if not target:
            return None
        client_id = params.get("client_id") or self._hinted_client(
            kind, params.get("id_token_hint")
        )
        client = self.config.client(client_id) if client_id else None
        if client is None or target not in client.post_logout_redirect_uris:
            raise PageError("The address to return to after signing out is not registered.")
        state = params.get("state")
        return with_query(target, {"state": state}) if state else target

    def _hinted_client(self, kind: IssuerKind, hint: str | None) -> str | None:
        if not hint:
            return None
        key = self.keys[kind]
        try:
            # An expired ID token still says who signed in: only the signature matters here.
            claims = jose_jwt.decode(
                hint,
                key.public_jwk,
                algorithms=[key.algorithm],
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
            )
        except JOSEError:
            return None
        audience = claims.get("aud")
        return audience if isinstance(audience, str) else None

    def _forget_expired(self) -> None:
        now = self.now()
        state = self._state
        state.pending = {
            k: v for k, v in state.pending.items() if v.created_at + PENDING_REQUEST_SECONDS > now
        }
        state.codes = {
            k: v
            for k, v in state.codes.items()
            if v.issued_at + 10 * self.config.code_lifetime_seconds > now
        }
        state.assertion_ids = {k: v for k, v in state.assertion_ids.items() if v > now}
        state.access_tokens = {k: v for k, v in state.access_tokens.items() if v.expires_at > now}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def with_query(uri: str, query: Mapping[str, str]) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(query)}"


def error_location(redirect_uri: str, error: str, description: str, state: str | None) -> str:
    query = {"error": error, "error_description": description}
    return with_query(redirect_uri, query | ({"state": state} if state is not None else {}))


def _basic_credentials(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        client_id, secret = decoded.split(":", 1)
    except (ValueError, UnicodeDecodeError):
        raise OAuthError(
            "invalid_client", "client authentication failed", 401, basic=True
        ) from None
    # RFC 6749 2.3.1: both parts are form-urlencoded before being joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _verified_claims(
    assertion: str, jwks: Mapping[str, Any], algorithm: str, kid: Any
) -> dict[str, Any] | None:
    candidates = [
        key
        for key in jwks["keys"]
        if (kid is None or key.get("kid") == kid) and key.get("alg", algorithm) == algorithm
    ]
    for candidate in candidates:
        try:
            payload = jws.verify(assertion, jwk.construct(candidate, algorithm), [algorithm])
            claims = json.loads(payload)
        except (JOSEError, ValueError):
            continue
        return claims if isinstance(claims, dict) else None
    return None
