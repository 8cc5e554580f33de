"""The connection layer under each partner's httpx client, chosen by measurement.

httpx's own pool falls behind under a concurrent fan-out; the aiohttp transport, with the same
httpx API on top, answered 1.7-1.8 times as many lookups at 8 and 32 concurrent (bench/README.md).
Whatever the transport, a failure reaches the adapters as an `httpx.TransportError`, so an
outage is a source status, never an exception nobody expected.
"""

from collections.abc import AsyncIterator
from enum import StrEnum

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class TransportKind(StrEnum):
    aiohttp = "aiohttp"
    httpx = "httpx"


def partner_transport(kind: TransportKind, max_connections: int) -> httpx.AsyncBaseTransport:
    """One per partner, so one partner's connections never starve another's."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    if kind == TransportKind.httpx:
        return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # trust_env off: no proxy or certificate settings picked up from the environment.
    return _TransportErrors(AiohttpTransport(limits=limits, trust_env=False))


class _TransportErrors(httpx.AsyncBaseTransport):
    """aiohttp errors the transport does not translate become httpx transport errors."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(type(exc).__name__) from exc
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_StreamErrors(response.stream),
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _StreamErrors(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(type(exc).__name__) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()
