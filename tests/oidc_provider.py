"""The development OpenID provider (`devidp`) for tests: served by uvicorn in a thread on a free
port, clients with real key material, and sign-in driven over real HTTP."""

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import uvicorn
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jose import jwk
from jose import jwt as jose_jwt

from devidp import Client, IssuerKind, ProviderConfig, create_app, issuer_urls
from devidp.people import DEMO_PEOPLE, Person
from tests.processes import free_port

ClientAuth = Literal["client_secret_post", "client_secret_basic", "private_key_jwt"]
REDIRECT_PATH = "/auth/callback"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientKeys:
    """An RSA key for private_key_jwt: the private JWK set the client holds, the public one the
    provider holds."""

    kid: str
    private_jwks: dict[str, Any]
    public_jwks: dict[str, Any]
    algorithm: str = "RS256"

    @classmethod
    def generate(cls, kid: str | None = None, algorithm: str = "RS256") -> "ClientKeys":
        kid = kid or f"client-key-{uuid.uuid4().hex[:8]}"
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key = jwk.construct(pem, algorithm)
        extra = {"kid": kid, "use": "sig", "alg": algorithm}
        private_jwk = {k: str(v) for k, v in key.to_dict().items()} | extra
        public_jwk = {k: str(v) for k, v in key.public_key().to_dict().items()} | extra
        return cls(kid, {"keys": [private_jwk]}, {"keys": [public_jwk]}, algorithm)

    def assertion(self, client_id: str, audience: str, **overrides: Any) -> str:
        """A client assertion (RFC 7523); overrides replace claims, None removes one."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 300,
        }
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        token: str = jose_jwt.encode(
            claims,
            self.private_jwks["keys"][0],
            algorithm=self.algorithm,
            headers={"kid": self.kid},
        )
        return token

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        private_path = directory / f"{name}-private-jwks.json"
        public_path = directory / f"{name}-public-jwks.json"
        private_path.touch(mode=0o600)
        private_path.write_text(json.dumps(self.private_jwks, indent=2))
        public_path.write_text(json.dumps(self.public_jwks, indent=2))
        return private_path, public_path


@dataclass(frozen=True)
class TestClient:
    """A registered client and what it authenticates with."""

    client_id: str
    redirect_uri: str
    secret: str | None = None
    keys: ClientKeys | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    extra_redirect_uris: tuple[str, ...] = ()

    __test__ = False  # not a pytest test class

    def registration(self) -> Client:
        return Client(
            client_id=self.client_id,
            redirect_uris=(self.redirect_uri, *self.extra_redirect_uris),
            secret=self.secret,
            public_jwks=self.keys.public_jwks if self.keys else None,
            post_logout_redirect_uris=self.post_logout_redirect_uris,
        )


def secret_client(client_id: str, redirect_uri: str, **options: Any) -> TestClient:
    """A client that authenticates with a secret (client_secret_post or client_secret_basic)."""
    return TestClient(client_id, redirect_uri, secret=secrets.token_urlsafe(32), **options)


def key_client(client_id: str, redirect_uri: str, **options: Any) -> TestClient:
    """A client that authenticates with private_key_jwt, signing with a fresh RSA key."""
    return TestClient(client_id, redirect_uri, keys=ClientKeys.generate(), **options)


def provider_config(
    clients: Sequence[TestClient | Client],
    people: Sequence[Person] = DEMO_PEOPLE,
    **settings: Any,
) -> ProviderConfig:
    """A config on a free local port (issuer URLs depend on it, so it is chosen first)."""
    registrations = [c.registration() if isinstance(c, TestClient) else c for c in clients]
    return ProviderConfig(
        base_url=f"http://127.0.0.1:{free_port()}",
        clients=registrations,
        people=people,
        **settings,
    )


@contextmanager
def running_provider(config_or_app: ProviderConfig | FastAPI) -> Iterator[str]:
    """Serve the provider on the port of its base URL; yields the base URL."""
    app = config_or_app if isinstance(config_or_app, FastAPI) else create_app(config_or_app)
    base_url: str = app.state.provider.config.base_url
    parts = urlsplit(base_url)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=parts.hostname or "127.0.0.1", port=parts.port or 80, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="devidp-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the development OpenID provider did not start"
            assert thread.is_alive(), "the development OpenID provider stopped while starting"
            time.sleep(0.02)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(10)


def write_clients_file(directory: Path, clients: Sequence[TestClient]) -> Path:
    """A clients YAML for `python -m devidp --clients`, with its secret and JWK set files."""
    entries = []
    for client in clients:
        entry: dict[str, Any] = {
            "client_id": client.client_id,
            "redirect_uris": [client.redirect_uri, *client.extra_redirect_uris],
        }
        if client.secret is not None:
            secret_path = directory / f"{client.client_id}-secret.txt"
            secret_path.touch(mode=0o600)
            secret_path.write_text(client.secret + "\n")
            entry["secret_file"] = secret_path.name
        if client.keys is not None:
            _, public_path = client.keys.write(directory, client.client_id)
            entry["jwks_file"] = public_path.name
        if client.post_logout_redirect_uris:
            entry["post_logout_redirect_uris"] = list(client.post_logout_redirect_uris)
        entries.append(entry)
    path = directory / "dev-oidc-clients.yaml"
    path.write_text(yaml.safe_dump({"clients": entries}, sort_keys=False))
    return path


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(
    base_url: str,
    kind: IssuerKind,
    client: TestClient,
    *,
    code_challenge: str | None,
    state: str = "state-1",
    nonce: str | None = "nonce-1",
    scope: str | None = None,
    **extra: str,
) -> str:
    params: dict[str, str] = {
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "response_type": "code",
        "scope": scope or default_scope(kind),
        "state": state,
    }
    if nonce is not None:
        params["nonce"] = nonce
    if code_challenge is not None:
        params |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
    params |= extra
    return f"{issuer_urls(kind, base_url).authorize}?{urlencode(params)}"


def default_scope(kind: IssuerKind) -> str:
    if kind is IssuerKind.entra:
        return "openid profile"
    return "openid profile nationalrbacaccess associatedorgs nhsperson selectedrole"


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.request_id: str | None = None
        self.people: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("name") == "request":
            self.request_id = values.get("value")
        elif tag == "button" and values.get("name") == "person" and values.get("value"):
            self.people.append(str(values["value"]))


@dataclass(frozen=True)
class ChoicePage:
    action: str
    request_id: str
    people: list[str]


def read_choice_page(html: str) -> ChoicePage:
    reader = _FormReader()
    reader.feed(html)
    assert reader.action, "not a sign-in page"
    assert reader.request_id, "not a sign-in page"
    return ChoicePage(reader.action, reader.request_id, reader.people)


def choose_person(http: httpx.Client, authorize: str, person_key: str | None) -> str:
    """Open an authorization URL, choose a person as a browser would (None: cancel), and return
    where the provider sends the browser next (the client's redirect URI with code or error)."""
    page = http.get(authorize, follow_redirects=False)
    assert page.status_code == 200, page.text
    form = read_choice_page(page.text)
    choice = {"person": person_key} if person_key is not None else {"cancel": "1"}
    answer = http.post(
        form.action, data={"request": form.request_id} | choice, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def code_from(location: str) -> str:
    query = parse_qs(urlsplit(location).query)
    assert "code" in query, f"no code in the redirect: {query.get('error')}"
    return query["code"][0]


def token_request(
    http: httpx.Client,
    base_url: str,
    kind: IssuerKind,
    client: TestClient,
    *,
    code: str,
    code_verifier: str | None,
    auth: ClientAuth,
    redirect_uri: str | None = None,
    assertion: str | None = None,
) -> httpx.Response:
    """POST the authorization code to the token endpoint, authenticating as `auth` says."""
    token_url = issuer_urls(kind, base_url).token
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri or client.redirect_uri,
    }
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    basic: httpx.BasicAuth | None = None
    if auth == "client_secret_post":
        assert client.secret is not None
        form |= {"client_id": client.client_id, "client_secret": client.secret}
    elif auth == "client_secret_basic":
        assert client.secret is not None
        basic = httpx.BasicAuth(client.client_id, client.secret)
    else:
        assert client.keys is not None
        form |= {
            "client_id": client.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion or client.keys.assertion(client.client_id, token_url),
        }
    if basic is None:
        return http.post(token_url, data=form)
    return http.post(token_url, data=form, auth=basic)


def sign_in(
    http: httpx.Client,
    base_url: str,
    kind: IssuerKind,
    client: TestClient,
    person_key: str,
    *,
    auth: ClientAuth,
    nonce: str = "nonce-1",
    scope: str | None = None,
) -> dict[str, Any]:
    """The whole code flow over HTTP: authorize, choose the person, exchange the code."""
    verifier, challenge = pkce_pair()
    location = choose_person(
        http,
        authorize_url(base_url, kind, client, code_challenge=challenge, nonce=nonce, scope=scope),
        person_key,
    )
    response = token_request(
        http, base_url, kind, client, code=code_from(location), code_verifier=verifier, auth=auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
