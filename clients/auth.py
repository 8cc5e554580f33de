"""NHS application authentication: a signed JWT client assertion (RS512) for an access token.

The token is cached until shortly before it expires; concurrent callers share one refresh.
"""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from jose import jwt as jose_jwt

from clients.errors import PartnerBadResponse, PartnerUnavailable

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300  # NHS token endpoints refuse assertions living longer
REFRESH_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class _Cached:
    token: str
    expires_at: float


class ClientAssertionAuth:
    def __init__(
        self,
        *,
        partner: str,
        http: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        private_key_pem: str,
        key_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._partner = partner
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._private_key_pem = private_key_pem
        self._key_id = key_id
        self._clock = clock
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()

    def assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._token_url,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        }
        token: str = jose_jwt.encode(
            claims, self._private_key_pem, algorithm="RS512", headers={"kid": self._key_id}
        )
        return token

    async def access_token(self) -> str:
        cached = self._cached
        if cached is not None and cached.expires_at - REFRESH_MARGIN_SECONDS > self._clock():
            return cached.token
        async with self._lock:
            cached = self._cached
            if cached is None or cached.expires_at - REFRESH_MARGIN_SECONDS <= self._clock():
                cached = self._cached = await self._fetch()
        return cached.token

    async def _fetch(self) -> _Cached:
        try:
            response = await self._http.post(
                self._token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": self.assertion(),
                },
            )
        except httpx.HTTPError:
            raise PartnerUnavailable(self._partner, "token_endpoint_unreachable") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise PartnerUnavailable(self._partner, f"token_endpoint_{response.status_code}")
        if response.status_code != 200:
            raise PartnerBadResponse(self._partner, f"token_refused_{response.status_code}")
        try:
            body = response.json()
            token = body["access_token"]
            expires_in = int(body["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise PartnerBadResponse(self._partner, "token_response_malformed") from None
        if not isinstance(token, str) or not token or expires_in <= 0:
            raise PartnerBadResponse(self._partner, "token_response_malformed")
        return _Cached(token=token, expires_at=self._clock() + expires_in)
