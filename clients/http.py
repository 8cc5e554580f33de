"""One partner's HTTP: deadlines, one retry, a breaker, a size cap, a concurrency cap, metrics.

Every call runs inside `asyncio.timeout` up to the smaller of the partner's per-call timeout and
what is left of the caller's deadline: httpx's own timeouts are per phase, and a partner dripping
bytes slowly would outlast them. At most one retry, for idempotent calls, and only inside the
deadline; a 429 is retried after its Retry-After only if that also fits.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from clients.auth import ClientAssertionAuth
from clients.breaker import BreakerState, CircuitBreaker
from clients.errors import PartnerBadResponse, PartnerError, PartnerUnavailable
from clients.rate import Limiter

RETRYABLE_STATUSES = frozenset({502, 503, 504})
JSON_TYPES = ("application/fhir+json", "application/json")
# Below this much time left, a retry could not finish: give up instead.
MIN_RETRY_BUDGET_SECONDS = 0.05


class CallObserver(Protocol):
    """Told about every call: partner, outcome code, seconds taken, breaker state after."""

    def __call__(
        self, partner: str, outcome: str, seconds: float, breaker: BreakerState
    ) -> None: ...


@dataclass(frozen=True)
class PartnerResponse:
    status_code: int
    body: Any


class PartnerHttp:
    def __init__(
        self,
        *,
        name: str,
        http: httpx.AsyncClient,
        timeout_seconds: float,
        max_response_bytes: int,
        max_concurrency: int,
        auth: ClientAssertionAuth | None = None,
        breaker: CircuitBreaker | None = None,
        observer: CallObserver | None = None,
        correlation_id: Callable[[], str | None] = lambda: None,
        rate_limiter: Limiter | None = None,
    ) -> None:
        self.name = name
        self._http = http
        self._timeout = timeout_seconds
        self._max_bytes = max_response_bytes
        self._slots = asyncio.Semaphore(max_concurrency)
        self._auth = auth
        self.breaker = breaker or CircuitBreaker()
        self._observer = observer
        self._correlation_id = correlation_id
        self._rate_limiter = rate_limiter

    async def get(
        self, path: str, *, params: Mapping[str, str] | None = None, deadline: float
    ) -> PartnerResponse:
        return await self._call(
            "GET", path, params=params, body=None, idempotent=True, deadline=deadline
        )

    async def post(
        self, path: str, *, body: Any, deadline: float, idempotent: bool = False
    ) -> PartnerResponse:
        return await self._call(
            "POST", path, params=None, body=body, idempotent=idempotent, deadline=deadline
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        body: Any,
        idempotent: bool,
        deadline: float,
    ) -> PartnerResponse:
        started = time.monotonic()
        outcome = "ok"
        try:
            if not self.breaker.allow():
                raise PartnerUnavailable(self.name, "breaker_open")
            try:
                response = await self._attempts(method, path, params, body, idempotent, deadline)
            except PartnerError as exc:
                self.breaker.record_failure()
                raise exc from None
            except BaseException:
                # Cancelled (a lookup's deadline) or failed here, not at the partner: a trial
                # call left running would refuse every call after it until a restart.
                self.breaker.release()
                raise
            self.breaker.record_success()
            return response
        except PartnerError as exc:
            outcome = exc.reason
            raise
        finally:
            if self._observer is not None:
                self._observer(self.name, outcome, time.monotonic() - started, self.breaker.state)

    async def _attempts(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        idempotent: bool,
        deadline: float,
    ) -> PartnerResponse:
        attempts = 2 if idempotent else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                return await self._once(method, path, params, body, deadline)
            except _Retryable as exc:
                wait = exc.retry_after or 0.0
                left = deadline - time.monotonic()
                if last or left - wait < MIN_RETRY_BUDGET_SECONDS:
                    raise PartnerUnavailable(self.name, exc.reason) from None
                if wait:
                    await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _once(
        self, method: str, path: str, params: Mapping[str, str] | None, body: Any, deadline: float
    ) -> PartnerResponse:
        if self._rate_limiter is not None and not await self._rate_limiter.acquire(
            deadline=deadline
        ):
            # Over the partner's rate, we wait our turn; past the deadline, we do not ask at all.
            raise PartnerUnavailable(self.name, "rate_limited_locally")
        budget = min(self._timeout, deadline - time.monotonic())
        if budget <= 0:
            raise PartnerUnavailable(self.name, "deadline")
        try:
            async with asyncio.timeout(budget):
                async with self._slots:
                    headers = {"X-Request-ID": str(uuid.uuid4()), "Accept": "application/fhir+json"}
                    correlation = self._correlation_id()
                    if correlation:
                        headers["X-Correlation-ID"] = correlation
                    if self._auth is not None:
                        headers["Authorization"] = f"Bearer {await self._auth.access_token()}"
                    request = self._http.build_request(
                        method,
                        path,
                        params=params,
                        headers=headers,
                        content=None if body is None else json.dumps(body).encode(),
                    )
                    if body is not None:
                        request.headers["Content-Type"] = "application/fhir+json"
                    return await self._exchange(request)
        except TimeoutError:
            raise _Retryable("timeout") from None
        except httpx.TransportError:
            raise _Retryable("connection") from None

    async def _exchange(self, request: httpx.Request) -> PartnerResponse:
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code == 429:
                raise _Retryable("rate_limited", retry_after=_retry_after(response))
            if response.status_code in RETRYABLE_STATUSES:
                raise _Retryable(f"status_{response.status_code}")
            if response.status_code >= 500:
                raise PartnerUnavailable(self.name, f"status_{response.status_code}")
            if 300 <= response.status_code < 400:
                raise PartnerBadResponse(self.name, "redirect")
            raw = await self._read_capped(response)
        finally:
            await response.aclose()
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES:
            raise PartnerBadResponse(self.name, "content_type")
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise PartnerBadResponse(self.name, "malformed") from None
        return PartnerResponse(status_code=response.status_code, body=parsed)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise PartnerBadResponse(self.name, "oversized")
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a small compressed body cannot unpack into a huge one.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise PartnerBadResponse(self.name, "oversized")
            chunks.append(chunk)
        return b"".join(chunks)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 60 else None
