"""Traffic without a token we can verify costs almost nothing: it is counted, not logged one by
one, and held to a rate per client address.

A refusal of a request that carries no verifiable token (none, malformed, a bad signature, an
unknown issuer, expired...) is added to an in-memory tally keyed by (action, route template,
reason, client address). Once a minute, and at shutdown, a background task writes one audit event
per key with `details.count`, all in one transaction: one audit write a minute, instead of one per
request. The tally holds at most `max_keys` keys; refusals past that are counted under
one key per action with the reason `other`. A refusal of a verifiable token is not counted here: it
stays a full audit event of its own (`api.security`).

The token routes, and anonymous refusals, are held to a token bucket per client address. The
client address is the socket peer as the server gives it (uvicorn replaces it with the
`X-Forwarded-For` address only for peers listed in `FORWARDED_ALLOW_IPS`). Both the tallies and the
buckets live in each worker process: with several workers a key may give one event per worker a
minute, and a client may pass each worker's limit.
"""

import asyncio
import ipaddress
import json
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from api.audit.repository import audit_event, record
from api.errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, Problem, ServiceError
from api.settings import Settings
from models import AuditAction, AuditEvent, AuditOutcome

logger = logging.getLogger(__name__)

UNKNOWN_CLIENT = "unknown"
OVERFLOW = "other"


class RateLimited(ServiceError):
    status = 429
    type_slug = "rate-limited"
    title = "Too many requests"


RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "description": "Too many requests from this client address; `Retry-After` says when to "
        "try again",
        "content": {PROBLEM_CONTENT_TYPE: {}},
    }
}


# Token buckets


def refill(tokens: float, elapsed: float, rate: float, burst: float) -> float:
    """The tokens in a bucket `elapsed` seconds after it held `tokens`."""
    return min(burst, tokens + max(0.0, elapsed) * rate)


def wait_for_token(tokens: float, rate: float) -> float:
    """Seconds until a bucket holding `tokens` (fewer than one) holds one."""
    return max(0.0, (1.0 - tokens) / rate)


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client: `rate` a second, at most `burst` at once.

    At most `max_clients` buckets are kept; past that the least recently used goes. It is the
    idlest, and an evicted bucket only starts again full, as a new client would."""

    def __init__(self, rate: float, burst: int, max_clients: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, client: str, now: float) -> float:
        """0 if the client may go ahead (a token is taken), else the seconds until it may."""
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = Bucket(self.burst, now)
            self._buckets[client] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            bucket.tokens = refill(bucket.tokens, now - bucket.updated, self.rate, self.burst)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return wait_for_token(bucket.tokens, self.rate)

    def waiting(self, client: str, now: float) -> float:
        """The seconds until `client` may go ahead, taking nothing: 0 if it may now."""
        bucket = self._buckets.get(client)
        if bucket is None:
            return 0.0
        tokens = refill(bucket.tokens, now - bucket.updated, self.rate, self.burst)
        return 0.0 if tokens >= 1.0 else wait_for_token(tokens, self.rate)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(seconds: float) -> str:
    """`Retry-After` in whole seconds, never 0: a client told 0 comes straight back."""
    return str(max(1, math.ceil(seconds)))


# Counting refusals


@dataclass(frozen=True)
class RefusalKey:
    action: AuditAction
    route: str | None
    reason: str
    client: str


@dataclass
class Tally:
    count: int
    rate_limited: int
    first_at: datetime
    last_at: datetime

    def add(self, other: "Tally") -> None:
        self.count += other.count
        self.rate_limited += other.rate_limited
        self.first_at = min(self.first_at, other.first_at)
        self.last_at = max(self.last_at, other.last_at)


def overflow_key(action: AuditAction) -> RefusalKey:
    return RefusalKey(action, None, OVERFLOW, OVERFLOW)


class RefusalCounter:
    """Refusals by key, at most `max_keys` keys plus one overflow key per action.

    Only the event loop's thread touches it, and no method awaits, so it needs no lock."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._tallies: dict[RefusalKey, Tally] = {}

    def add(self, key: RefusalKey, *, rate_limited: bool, at: datetime) -> None:
        self.merge({key: Tally(1, int(rate_limited), at, at)})

    def merge(self, tallies: Mapping[RefusalKey, Tally]) -> None:
        for key, tally in tallies.items():
            kept = key
            if key not in self._tallies and len(self._tallies) >= self.max_keys:
                kept = overflow_key(key.action)
            found = self._tallies.get(kept)
            if found is None:
                self._tallies[kept] = Tally(
                    tally.count, tally.rate_limited, tally.first_at, tally.last_at
                )
            else:
                found.add(tally)

    def drain(self) -> dict[RefusalKey, Tally]:
        """Everything counted so far; the counter starts again empty."""
        tallies, self._tallies = self._tallies, {}
        return tallies

    def __len__(self) -> int:
        return len(self._tallies)


def refusal_events(tallies: Mapping[RefusalKey, Tally]) -> list[AuditEvent]:
    """One event per key, in a stable order."""
    ordered = sorted(
        tallies.items(),
        key=lambda item: (item[0].action, item[0].route or "", item[0].reason, item[0].client),
    )
    return [
        audit_event(
            key.action,
            AuditOutcome.denied,
            reason=key.reason,
            route=key.route,
            details={
                "count": tally.count,
                "rate_limited": tally.rate_limited,
                "client_address": key.client,
                "first_at": tally.first_at.isoformat(),
                "last_at": tally.last_at.isoformat(),
            },
        )
        for key, tally in ordered
    ]


class AnonymousTraffic:
    """One per app (so per worker process): the refusal counter and the two rate limiters."""

    def __init__(self, settings: Settings) -> None:
        self.flush_seconds = settings.anonymous_refusal_flush_seconds
        self.refusals = RefusalCounter(settings.anonymous_refusal_max_keys)
        self.anonymous = RateLimiter(
            settings.rate_limit_anonymous_per_second,
            settings.rate_limit_anonymous_burst,
            settings.anonymous_refusal_max_keys,
        )
        self.token = RateLimiter(
            settings.rate_limit_token_per_second,
            settings.rate_limit_token_burst,
            settings.anonymous_refusal_max_keys,
        )
        # The other public routes (health, readiness, metrics, the agreement, the dashboard
        # page): probes and pages at human or orchestrator pace; `/readyz` takes a database
        # connection, so a flood of it must not starve the lookups of theirs.
        self.public = RateLimiter(
            settings.rate_limit_anonymous_per_second,
            settings.rate_limit_anonymous_burst,
            settings.anonymous_refusal_max_keys,
        )

    def refuse(
        self, action: AuditAction, route: str | None, reason: str, client: str, *, limit: bool
    ) -> float:
        """Counts the refusal; with `limit`, holds it to the anonymous rate: 0, or the seconds the
        client is to wait (the refusal is then a 429)."""
        wait = self.anonymous.take(client, _monotonic()) if limit else 0.0
        key = RefusalKey(action, route, reason, client)
        self.refusals.add(key, rate_limited=wait > 0, at=datetime.now(UTC))
        return wait

    async def flush(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Writes what was counted, one event per key in one transaction; the number of events.

        It never waits long for the chain head: if requests hold it, or the database cannot be
        reached, the counts are kept for the next flush and the failure is logged with them."""
        tallies = self.refusals.drain()
        if not tallies:
            return 0
        events = refusal_events(tallies)
        try:
            async with sessions() as session, session.begin():
                await record(session, *events)
        except Exception as exc:
            self.refusals.merge(tallies)
            logger.error(
                "audit.anonymous_refusals_not_written",
                extra={
                    "fields": {
                        "keys": len(tallies),
                        "refusals": sum(tally.count for tally in tallies.values()),
                        "error.type": type(exc).__name__,
                    }
                },
            )
            return 0
        return len(events)

    async def flush_periodically(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """The lifespan's background task; cancelled at shutdown, before the last flush."""
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush(sessions)


def _monotonic() -> float:
    # The event loop's clock: monotonic, and what asyncio's own timers use.
    return asyncio.get_running_loop().time()


# The HTTP side


def anonymous_traffic(request: Request) -> AnonymousTraffic:
    traffic: AnonymousTraffic = request.app.state.anonymous_traffic
    return traffic


def client_key(host: str | None) -> str:
    """The address a client is limited and counted under: an IPv6 client by its /64, which one
    subscriber holds whole (one bucket per address would give each of its addresses a fresh
    burst)."""
    if not host:
        return UNKNOWN_CLIENT
    if ":" in host:
        try:
            return str(ipaddress.ip_network(f"{host}/64", strict=False))
        except ValueError:
            return host
    return host


def client_address(request: Request) -> str:
    return client_key(request.client.host if request.client is not None else None)


def count_anonymous_refusal(
    request: Request, action: AuditAction, route: str | None, reason: str, *, limit: bool = True
) -> None:
    """Counts a refusal of a request without a verifiable token; raises `RateLimited` if the client
    is over the anonymous rate (with `limit`). The caller then refuses as it would have."""
    wait = anonymous_traffic(request).refuse(
        action, route, reason, client_address(request), limit=limit
    )
    if wait > 0:
        raise RateLimited(
            "Too many refused requests from this address.",
            headers={"Retry-After": retry_after(wait)},
        )


# Before routing

GATED_REASON = "rate_limited_before_routing"
GATED_BODY = json.dumps(
    {
        "type": PROBLEM_TYPE_BASE + "rate-limited",
        "title": RateLimited.title,
        "status": 429,
        "detail": "Too many requests from this address.",
    }
).encode()
_JWT_SHAPE = re.compile(rb"^[Bb]earer +[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


def may_hold_a_token(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request carries something shaped like a bearer JWT: only then could it be
    anyone's, and only then does it go past the gate to be verified."""
    return any(
        name.lower() == b"authorization" and _JWT_SHAPE.match(value.strip())
        for name, value in headers
    )


class AnonymousGate:
    """The outermost layer: a client already over the anonymous rate that sends a request to a
    route needing a token, with nothing shaped like one, is answered 429 here, before routing,
    logging, metrics and dependencies run. A flood from one address then costs a dictionary
    lookup a request, not a trip through the application; it is still counted for the audit
    trail. Requests with a JWT-shaped token, and public routes, always go through."""

    def __init__(
        self,
        app: ASGIApp,
        traffic: AnonymousTraffic,
        public_paths: frozenset[str],
        token_paths: frozenset[str],
    ):
        self.app = app
        self.traffic = traffic
        self.public_paths = public_paths
        self.token_paths = token_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        client = client_key(scope["client"][0] if scope.get("client") else None)
        if path in self.token_paths:
            # Each token request costs a signature check and most a database write; the limit is
            # taken here, before the body is read or anything else runs.
            wait = self.traffic.token.take(client, _monotonic())
        elif path in self.public_paths:
            wait = self.traffic.public.take(client, _monotonic())
        elif may_hold_a_token(scope["headers"]):
            wait = 0.0
        else:
            wait = self.traffic.anonymous.waiting(client, _monotonic())
            if wait > 0:
                self.traffic.refusals.add(
                    RefusalKey(AuditAction.access_refuse, None, GATED_REASON, client),
                    rate_limited=True,
                    at=datetime.now(UTC),
                )
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                    (b"retry-after", retry_after(wait).encode()),
                    (b"cache-control", b"no-store"),
                    (b"content-length", str(len(GATED_BODY)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": GATED_BODY})
