"""NHS client-assertion authentication: the assertion's claims, caching, and failures."""

import asyncio
import time
from urllib.parse import parse_qs

import httpx
import pytest
from jose import jwt as jose_jwt

from clients.auth import ASSERTION_TYPE, ClientAssertionAuth
from clients.errors import PartnerBadResponse, PartnerUnavailable
from tests.identity_provider import IdentityProvider
from tests.partners import fhir, partner_http

TOKEN_URL = "https://auth.partner.test/oauth2/token"


class TokenEndpoint:
    def __init__(self, response: httpx.Response | None = None) -> None:
        self.forms: list[dict[str, list[str]]] = []
        self.response = response

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url == TOKEN_URL:
            self.forms.append(parse_qs(request.content.decode()))
            await asyncio.sleep(0.01)
            return self.response or httpx.Response(
                200,
                json={
                    "access_token": f"at-{len(self.forms)}",
                    "expires_in": 599,
                    "token_type": "Bearer",
                },
            )
        return fhir(200, {"resourceType": "Bundle", "seen": request.headers.get("authorization")})


@pytest.fixture(scope="module")
def key() -> IdentityProvider:
    return IdentityProvider.generate()


def make_auth(
    client: httpx.AsyncClient, key: IdentityProvider, clock: list[float] | None = None
) -> ClientAssertionAuth:
    return ClientAssertionAuth(
        partner="pds",
        http=client,
        token_url=TOKEN_URL,
        client_id="street-triage-app",
        private_key_pem=key.private_pem,
        key_id="triage-1",
        clock=(lambda: clock[0]) if clock else time.time,
    )


async def test_assertion_is_rs512_and_names_the_app_and_endpoint(key: IdentityProvider) -> None:
    endpoint = TokenEndpoint()
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        auth = make_auth(client, key)
        assert await auth.access_token() == "at-1"
    form = endpoint.forms[0]
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_assertion_type"] == [ASSERTION_TYPE]
    assertion = form["client_assertion"][0]
    assert jose_jwt.get_unverified_header(assertion) == {
        "alg": "RS512",
        "typ": "JWT",
        "kid": "triage-1",
    }
    claims = jose_jwt.decode(
        assertion, key.public_jwk | {"alg": "RS512"}, algorithms=["RS512"], audience=TOKEN_URL
    )
    assert claims["iss"] == claims["sub"] == "street-triage-app"
    assert claims["exp"] - claims["iat"] == 300
    assert len(claims["jti"]) == 36


async def test_token_is_cached_refreshed_near_expiry_and_fetched_once_by_concurrent_callers(
    key: IdentityProvider,
) -> None:
    endpoint = TokenEndpoint()
    clock = [1_000_000.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        auth = make_auth(client, key, clock)
        tokens = await asyncio.gather(*(auth.access_token() for _ in range(10)))
        assert set(tokens) == {"at-1"}
        assert len(endpoint.forms) == 1
        clock[0] += 599 - 31  # 31 seconds left: still used
        assert await auth.access_token() == "at-1"
        clock[0] += 2  # 29 seconds left: refreshed

        assert await auth.access_token() == "at-2"
        assert len(endpoint.forms) == 2
        assert endpoint.forms[0]["client_assertion"] != endpoint.forms[1]["client_assertion"]


@pytest.mark.parametrize(
    ("response", "error", "reason"),
    [
        (httpx.Response(503), PartnerUnavailable, "token_endpoint_503"),
        (
            httpx.Response(401, json={"error": "invalid_client"}),
            PartnerBadResponse,
            "token_refused_401",
        ),
        (httpx.Response(200, json={"token": "x"}), PartnerBadResponse, "token_response_malformed"),
        (
            httpx.Response(200, json={"access_token": "x", "expires_in": -5}),
            PartnerBadResponse,
            "token_response_malformed",
        ),
    ],
)
async def test_token_endpoint_failures_are_typed(
    key: IdentityProvider, response: httpx.Response, error: type[Exception], reason: str
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(TokenEndpoint(response))) as client:
        with pytest.raises(error) as caught:
            await make_auth(client, key).access_token()
    assert getattr(caught.value, "reason", None) == reason


async def test_partner_calls_carry_the_access_token(key: IdentityProvider) -> None:
    endpoint = TokenEndpoint()
    transport = httpx.MockTransport(endpoint)
    async with httpx.AsyncClient(
        transport=transport, base_url="https://partner.test/FHIR/R4/"
    ) as client:
        http = partner_http(client, auth=make_auth(client, key))
        first = await http.get("Patient", deadline=time.monotonic() + 2)
        second = await http.get("Patient", deadline=time.monotonic() + 2)
    assert first.body["seen"] == second.body["seen"] == "Bearer at-1"
    assert len(endpoint.forms) == 1
