"""Trusted issuers: the file's rules, and key sets fetched by URL at most once a minute."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from auth.issuers import IssuerConfigError, IssuerRegistry, TrustedIssuer, load_trusted_issuers
from tests.identity_provider import IdentityProvider

OWN_ISSUER = "urn:street-triage:api"


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
        ({"jwks_url": "https://idp.example/jwks"}, "give exactly one of jwks_file and jwks_url"),
        ({"jwks_file": None}, "give exactly one of jwks_file and jwks_url"),
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
