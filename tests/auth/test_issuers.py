"""Trusted issuers: the file's rules, and key sets fetched by URL at most once a minute."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from auth.issuers import (
    IssuerConfigError,
    IssuerRegistry,
    ProviderUnavailable,
    TrustedIssuer,
    UserinfoRefused,
    load_trusted_issuers,
    provider_http_client,
)
from tests.identity_provider import IdentityProvider

OWN_ISSUER = "urn:street-triage:api"
DISCOVERY = "https://idp.example/.well-known/openid-configuration"


def write(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "issuers.yaml"
    path.write_text(yaml.safe_dump({"issuers": entries}))
    return path


def entry(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "issuer": "https://idp.example",
        "audience": OWN_ISSUER,
        "jwks_file": "jwks.json",
        "algorithms": ["RS256"],
        "organisation": "NSP",
    }
    return base | overrides


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"algorithms": ["RS256", "ES256"]}, "algorithms: List should have at most 1 item"),
        ({"algorithms": ["HS256"]}, "algorithms.0: Input should be"),
        ({"algorithms": ["none"]}, "algorithms.0: Input should be"),
        ({"jwks_url": "https://idp.example/jwks"}, "give exactly one of jwks_file, jwks_url and"),
        ({"jwks_file": None}, "give exactly one of jwks_file, jwks_url and discovery_url"),
        (
            {"discovery_url": "https://idp.example/.well-known/openid-configuration"},
            "give exactly one of jwks_file, jwks_url and discovery_url",
        ),
        # The cis2 profile reads userinfo, found through discovery, and maps R-codes.
        ({"profile": "cis2", "role_map": {"R8000": "mh_practitioner"}}, "give discovery_url"),
        (
            {"jwks_file": None, "discovery_url": DISCOVERY, "profile": "cis2"},
            "the cis2 profile needs role_map",
        ),
        ({"role_map": {"Triage.Officer": "constable"}}, "role_map.Triage.Officer: Input should"),
        # A clinical role is never held on less than a smartcard's assurance.
        ({"min_assurance": {"mh_practitioner": 2}}, "a clinical role needs assurance level 3"),
        ({"min_assurance": {"supervisor": 4}}, "min_assurance.supervisor: Input should be"),
        ({"sign_in": {"client_id": "c", "client_secret_file": "s"}}, "sign_in needs discovery_url"),
        (
            {
                "jwks_file": None,
                "discovery_url": DISCOVERY,
                "id": "nsp",
                "sign_in": {"client_id": "c"},
            },
            "client_secret_post takes client_secret_file",
        ),
        (
            {
                "jwks_file": None,
                "discovery_url": DISCOVERY,
                "id": "nsp",
                "sign_in": {"client_id": "c", "client_auth": "private_key_jwt"},
            },
            "private_key_jwt takes client_key_file",
        ),
        (
            {
                "jwks_file": None,
                "discovery_url": DISCOVERY,
                "id": "nsp",
                "sign_in": {"client_id": "c", "client_secret_file": "s", "scopes": ["profile"]},
            },
            "sign_in.scopes must include openid",
        ),
        # Outside development the address registered with the provider is stated, never guessed.
        (
            {
                "jwks_file": None,
                "discovery_url": DISCOVERY,
                "id": "nsp",
                "sign_in": {"client_id": "c", "client_secret_file": "s"},
            },
            "has a sign_in with no redirect_uri",
        ),
        ({"id": "Not An Id"}, "id: String should match pattern"),
        ({"issuer": OWN_ISSUER}, "lists this API's own issuer"),
        ({"role_claim": "role; drop"}, "role_claim: String should match pattern"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"organisations": ["RQI"]}, "give organisation or organisations, not both"),
        ({"organisation": "nsp; drop"}, "organisation: String should match pattern"),
        ({"organisation": None, "organisations": ["RQI", "x"]}, "organisations.1: String should"),
        # Outside development an issuer that names no organisation could assert any of them.
        ({"organisation": None}, "issuer https://idp.example names no organisations"),
        ({"organisation": None, "organisations": []}, "issuer https://idp.example names no"),
    ],
)
def test_issuer_file_rules(tmp_path: Path, overrides: dict[str, Any], message: str) -> None:
    item = {key: value for key, value in entry(**overrides).items() if value is not None}
    with pytest.raises(IssuerConfigError) as caught:
        load_trusted_issuers(write(tmp_path, [item]), own_issuer=OWN_ISSUER)
    assert message in str(caught.value)


def test_issuer_listed_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IssuerConfigError, match="lists an issuer twice"):
        load_trusted_issuers(write(tmp_path, [entry(), entry()]), own_issuer=OWN_ISSUER)


def test_an_issuer_without_organisations_is_allowed_only_when_not_required(
    tmp_path: Path,
) -> None:
    """Development (`require_organisations=False`) may trust a provider for every organisation."""
    path = write(tmp_path, [entry(organisation=None)])
    (loaded,) = load_trusted_issuers(path, own_issuer=OWN_ISSUER, require_organisations=False)
    assert not loaded.bound_to_organisations
    with pytest.raises(IssuerConfigError, match=r"https://idp\.example names no organisations"):
        load_trusted_issuers(path, own_issuer=OWN_ISSUER)


def test_json_file_and_relative_key_paths(tmp_path: Path) -> None:
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps({"issuers": [entry()]}))
    (loaded,) = load_trusted_issuers(path, own_issuer=OWN_ISSUER)
    assert loaded.jwks_file == tmp_path / "jwks.json"
    assert loaded.algorithm == "RS256"


class JwksServer:
    """A provider's JWKS endpoint at the transport: counts requests, can fail or rotate."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.requests = 0
        self.failing = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert request.url == "https://idp.example/.well-known/jwks.json"
        if self.failing:
            return httpx.Response(503)
        return httpx.Response(200, json=self.jwks)


async def test_url_keys_are_fetched_once_and_refreshed_on_unknown_kid_at_most_once_a_minute() -> (
    None
):
    provider = IdentityProvider.generate()
    server = JwksServer({"keys": [provider.public_jwk]})
    config = TrustedIssuer.model_validate(
        entry(jwks_file=None, jwks_url="https://idp.example/.well-known/jwks.json")
    )
    clock = [1000.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as http:
        registry = IssuerRegistry([config], http, clock=lambda: clock[0])
        assert await registry.key("https://idp.example", provider.kid) is not None
        assert await registry.key("https://idp.example", provider.kid) is not None
        assert server.requests == 1

        for attempt in range(50):
            assert await registry.key("https://idp.example", f"made-up-{attempt}") is None
        assert server.requests == 1  # within the minute: no refetch, however many unknown kids

        clock[0] += 61
        rotated = IdentityProvider.generate()
        rotated.public_jwk["kid"] = "police-idp-2"
        server.jwks = {"keys": [provider.public_jwk, rotated.public_jwk]}
        assert await registry.key("https://idp.example", "police-idp-2") is not None
        assert server.requests == 2

        clock[0] += 61
        server.failing = True
        assert await registry.key("https://idp.example", "police-idp-3") is None
        assert server.requests == 3
        # An outage at the provider keeps the keys we had.
        assert await registry.key("https://idp.example", provider.kid) is not None


async def test_unknown_issuer_has_no_keys_and_makes_no_request() -> None:
    server = JwksServer({"keys": []})
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as http:
        registry = IssuerRegistry([], http)
        assert await registry.key("https://attacker.example", "k") is None
    assert server.requests == 0


def test_two_issuers_with_one_id_are_refused(tmp_path: Path) -> None:
    first = entry(id="nsp")
    second = entry(id="nsp", issuer="https://idp2.example")
    with pytest.raises(IssuerConfigError, match="gives two issuers the same id"):
        load_trusted_issuers(write(tmp_path, [first, second]), own_issuer=OWN_ISSUER)


def test_sign_in_files_are_read_relative_to_the_issuers_file(tmp_path: Path) -> None:
    item = entry(
        jwks_file=None,
        discovery_url=DISCOVERY,
        id="nsp",
        sign_in={
            "client_id": "c",
            "client_secret_file": "secrets/entra",
            "redirect_uri": "https://triage.example/auth/callback",
        },
    )
    (loaded,) = load_trusted_issuers(write(tmp_path, [item]), own_issuer=OWN_ISSUER)
    assert loaded.sign_in is not None
    assert loaded.sign_in.client_secret_file == tmp_path / "secrets/entra"


@pytest.mark.parametrize("name", ["issuers-entra-id.yaml", "issuers-nhs-cis2.yaml"])
def test_the_example_issuer_files_are_valid_for_production(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "api" / "config" / "examples" / name
    (loaded,) = load_trusted_issuers(path, own_issuer=OWN_ISSUER)
    assert loaded.discovery_url is not None
    assert loaded.sign_in is not None
    assert loaded.sign_in.redirect_uri is not None
    assert loaded.bound_to_organisations


class DiscoveryServer:
    """A provider's discovery document, keys and userinfo at the transport."""

    def __init__(self, provider: IdentityProvider) -> None:
        self.provider = provider
        self.document: dict[str, Any] = {
            "issuer": "https://idp.example",
            "jwks_uri": "https://idp.example/keys",
            "authorization_endpoint": "https://idp.example/authorize",
            "token_endpoint": "https://idp.example/token",
            "userinfo_endpoint": "https://idp.example/userinfo",
        }
        self.requests: list[str] = []
        self.failing = False
        self.userinfo: httpx.Response = httpx.Response(200, json={"sub": "s"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if self.failing:
            return httpx.Response(503)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=self.document)
        if request.url.path == "/keys":
            return httpx.Response(200, json={"keys": [self.provider.public_jwk]})
        if request.url.path == "/userinfo":
            return self.userinfo
        return httpx.Response(404)


def discovered(**overrides: Any) -> TrustedIssuer:
    return TrustedIssuer.model_validate(entry(jwks_file=None, discovery_url=DISCOVERY, **overrides))


async def test_keys_come_from_the_discovery_documents_jwks_uri_and_survive_an_outage() -> None:
    provider = IdentityProvider.generate()
    server = DiscoveryServer(provider)
    clock = [1000.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as http:
        registry = IssuerRegistry([discovered()], http, clock=lambda: clock[0])
        assert await registry.key("https://idp.example", provider.kid) is not None
        assert server.requests == ["/.well-known/openid-configuration", "/keys"]
        metadata = await registry.metadata("https://idp.example")
        assert metadata.token_endpoint == "https://idp.example/token"
        for attempt in range(20):
            assert await registry.key("https://idp.example", f"rotated-{attempt}") is None
        assert len(server.requests) == 2  # at most once a minute
        clock[0] += 61
        server.failing = True
        assert await registry.key("https://idp.example", "rotated-again") is None
        assert len(server.requests) == 3
        # Kept through the provider's outage: keys and endpoints.
        assert await registry.key("https://idp.example", provider.kid) is not None
        assert (await registry.metadata("https://idp.example")) == metadata


@pytest.mark.parametrize(
    "change",
    [
        # A document naming another issuer could point us at someone else's keys.
        {"issuer": "https://attacker.example"},
        {"issuer": None},
        {"jwks_uri": None},
        {"jwks_uri": "file:///etc/passwd"},
        {"jwks_uri": ["https://idp.example/keys"]},
    ],
)
async def test_a_discovery_document_that_cannot_be_trusted_gives_no_keys(
    change: dict[str, Any],
) -> None:
    provider = IdentityProvider.generate()
    server = DiscoveryServer(provider)
    for name, value in change.items():
        if value is None:
            server.document.pop(name)
        else:
            server.document[name] = value
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as http:
        registry = IssuerRegistry([discovered()], http)
        assert await registry.key("https://idp.example", provider.kid) is None
        assert "/keys" not in server.requests


async def test_a_redirect_or_an_oversized_answer_is_not_followed_or_read() -> None:
    provider = IdentityProvider.generate()

    def redirecting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://attacker.example/keys"})

    def oversized(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{" + b" " * (300 * 1024) + b"}")

    for handler in (redirecting, oversized):
        seen: list[str] = []

        def counting(
            request: httpx.Request, handler: Any = handler, seen: list[str] = seen
        ) -> httpx.Response:
            seen.append(str(request.url.host))
            response: httpx.Response = handler(request)
            return response

        # The client the API itself builds for identity providers.
        async with provider_http_client(httpx.MockTransport(counting)) as http:
            registry = IssuerRegistry([discovered()], http)
            assert await registry.key("https://idp.example", provider.kid) is None
        assert seen == ["idp.example"]


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (httpx.Response(401), UserinfoRefused),
        (httpx.Response(403), UserinfoRefused),
        (httpx.Response(500), ProviderUnavailable),
        (httpx.Response(200, content=b"not json"), ProviderUnavailable),
        (httpx.Response(200, json=["not", "an", "object"]), ProviderUnavailable),
    ],
)
async def test_userinfo_refusals_and_failures_are_told_apart(
    answer: httpx.Response, raised: type[Exception]
) -> None:
    server = DiscoveryServer(IdentityProvider.generate())
    server.userinfo = answer
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as http:
        registry = IssuerRegistry([discovered()], http)
        with pytest.raises(raised):
            await registry.userinfo("https://idp.example", "access-token")


@pytest.mark.parametrize("name", ["issuers-entra-id.yaml", "issuers-nhs-cis2.yaml"])
def test_the_readme_shows_the_example_issuer_files_as_they_are(name: str) -> None:
    root = Path(__file__).resolve().parents[2]
    example = (root / "api" / "config" / "examples" / name).read_text(encoding="utf-8")
    assert f"```yaml\n{example}```" in (root / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("endpoint", "value"),
    [
        # Endpoints on another host, or another scheme or port, are not used.
        ("jwks_uri", "https://attacker.example/keys"),
        ("jwks_uri", "http://idp.example/keys"),
        ("jwks_uri", "https://idp.example:8443/keys"),
        ("jwks_uri", "https://idp.example.attacker.example/keys"),
    ],
)
async def test_keys_come_only_from_the_discovery_documents_own_host(
    endpoint: str, value: str
) -> None:
    provider = IdentityProvider.generate()
    server = DiscoveryServer(provider)
    server.document[endpoint] = value
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as http:
        registry = IssuerRegistry([discovered()], http)
        assert await registry.key("https://idp.example", provider.kid) is None
    assert server.requests == ["/.well-known/openid-configuration"]


async def test_endpoints_on_another_host_are_dropped_not_followed() -> None:
    server = DiscoveryServer(IdentityProvider.generate())
    server.document["token_endpoint"] = "https://attacker.example/token"
    server.document["userinfo_endpoint"] = "https://graph.example/oidc/userinfo"
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as http:
        registry = IssuerRegistry([discovered()], http)
        metadata = await registry.metadata("https://idp.example")
    assert metadata.token_endpoint is None
    assert metadata.userinfo_endpoint is None
    assert metadata.authorization_endpoint == "https://idp.example/authorize"


def test_providers_are_reached_over_https_outside_development(tmp_path: Path) -> None:
    plain = entry(
        jwks_file=None, discovery_url="http://idp.example/.well-known/openid-configuration"
    )
    with pytest.raises(IssuerConfigError, match="is reached over plain HTTP"):
        load_trusted_issuers(write(tmp_path, [plain]), own_issuer=OWN_ISSUER)
    # Development, or a provider on this machine, may use plain HTTP.
    load_trusted_issuers(
        write(tmp_path, [plain]), own_issuer=OWN_ISSUER, require_organisations=False
    )
    local = entry(jwks_file=None, jwks_url="http://127.0.0.1:8901/keys")
    load_trusted_issuers(write(tmp_path, [local]), own_issuer=OWN_ISSUER)
