"""Traffic without a verifiable token costs nothing: its refusals are counted, one audit event per
route, reason and client address when the counts are written, and it is held to a rate per client
address, as are the token routes. A refusal of a verifiable token stays an event of its own."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.anonymous import (
    AnonymousTraffic,
    RateLimiter,
    RefusalCounter,
    RefusalKey,
    client_key,
    refill,
    retry_after,
    wait_for_token,
)
from api.app import create_app
from api.migration import upgrade_async
from api.settings import Settings, async_database_url
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from models import AuditAction
from tests.conftest import Exchanger, bearer
from tests.database import scratch_database
from tests.identity_provider import IdentityProvider
from tests.problems import problem

INCIDENT_ROUTE = "/v1/incidents/{incident_id}"
TEST_CLIENT = "127.0.0.1"  # httpx's ASGI transport's default client address


def incident_url() -> str:
    return f"/v1/incidents/{uuid.uuid4()}"


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://triage.test") as client:
        yield client


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan; what is left counted is dropped rather than written at shutdown, which
    would be outside the test's transaction."""
    async with app.router.lifespan_context(app):
        try:
            yield
        finally:
            traffic(app).refusals.drain()


def traffic(app: FastAPI) -> AnonymousTraffic:
    found: AnonymousTraffic = app.state.anonymous_traffic
    return found


async def flush(app: FastAPI, connection: AsyncConnection) -> int:
    """The counts written as the background task writes them, inside the test's transaction."""
    sessions = async_sessionmaker(
        bind=connection,
        class_=AsyncSession,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )
    return await traffic(app).flush(sessions)


async def chain_seq(connection: AsyncConnection) -> int:
    await connection.execute(text("RESET ROLE"))
    # Events written, whether sealed into the log yet or not.
    return int((await connection.execute(text("SELECT count(*) FROM audit_event"))).scalar_one())


async def counted_events(connection: AsyncConnection, action: str) -> list[dict[str, Any]]:
    """The counted refusals written for `action`, as (route, reason, client, count, limited)."""
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        text(
            "SELECT route, reason, details FROM audit_event"
            " WHERE action = :action AND details ? 'count' ORDER BY seq"
        ),
        {"action": action},
    )
    return [
        {
            "route": row.route,
            "reason": row.reason,
            "client": row.details["client_address"],
            "count": row.details["count"],
            "rate_limited": row.details["rate_limited"],
        }
        for row in rows
    ]


def bad_exchange_form() -> dict[str, str]:
    return {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": "not-a-token",
        "subject_token_type": JWT_TOKEN_TYPE,
        "purpose": "street-triage",
    }


# --- counted, not chained ------------------------------------------------------------------------


async def test_anonymous_refusals_in_a_minute_are_one_event_with_their_count(
    app: FastAPI, client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    before = await chain_seq(connection)
    for _ in range(25):
        response = await client.get(incident_url())
        problem(response, 401, "unauthenticated")
    assert await chain_seq(connection) == before  # nothing chained per request

    assert await flush(app, connection) == 1
    assert await chain_seq(connection) == before + 1
    assert await counted_events(connection, "access.refuse") == [
        {
            "route": INCIDENT_ROUTE,
            "reason": "token_missing",
            "client": TEST_CLIENT,
            "count": 25,
            "rate_limited": 0,
        }
    ]
    assert await flush(app, connection) == 0  # counted once


async def test_routes_reasons_and_addresses_are_separate_keys(
    app: FastAPI, client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    for _ in range(3):
        await client.get(incident_url())
    await client.get(incident_url(), headers=bearer("not-a-token"))
    await client.get("/v1/crisis-plans")
    async with client_at(app, "192.0.2.7") as elsewhere:
        for _ in range(2):
            await elsewhere.get(incident_url())

    assert await flush(app, connection) == 4
    events = await counted_events(connection, "access.refuse")
    assert sorted((e["route"], e["reason"], e["client"], e["count"]) for e in events) == [
        ("/v1/crisis-plans", "token_missing", TEST_CLIENT, 1),
        (INCIDENT_ROUTE, "token_malformed", TEST_CLIENT, 1),
        (INCIDENT_ROUTE, "token_missing", TEST_CLIENT, 3),
        (INCIDENT_ROUTE, "token_missing", "192.0.2.7", 2),
    ]


async def test_an_unverifiable_identity_token_at_exchange_is_counted_not_chained(
    app: FastAPI, client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    before = await chain_seq(connection)
    for _ in range(5):
        response = await client.post("/v1/token", data=bad_exchange_form())
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"
    assert await chain_seq(connection) == before

    assert await flush(app, connection) == 1
    [event] = await counted_events(connection, "token.refuse")
    assert (event["route"], event["client"], event["count"]) == ("/v1/token", TEST_CLIENT, 5)


async def test_a_refusal_of_a_verifiable_token_is_still_an_event_of_its_own(
    client: httpx.AsyncClient, exchanger: Exchanger, connection: AsyncConnection
) -> None:
    unbound = await exchanger.token("officer", "NSP", "street-triage")  # incident:open only
    before = await chain_seq(connection)
    response = await client.get(incident_url(), headers=bearer(unbound))
    problem(response, 403, "forbidden")
    assert await chain_seq(connection) == before + 1
    row = (
        await connection.execute(
            text(
                "SELECT reason, route, actor_organisation_code, details FROM audit_event"
                " WHERE action = 'access.refuse' AND request_id = :request_id"
            ),
            {"request_id": response.headers["x-request-id"]},
        )
    ).one()
    assert (row.reason, row.route, row.actor_organisation_code) == (
        "scope_insufficient",
        INCIDENT_ROUTE,
        "NSP",
    )
    assert "count" not in row.details


@pytest.fixture
def few_keys(settings: Settings) -> Settings:
    return settings.model_copy(update={"anonymous_refusal_max_keys": 10})


async def test_the_cap_on_keys_holds_and_the_rest_count_as_other(few_keys: Settings) -> None:
    app = create_app(few_keys)
    async with running(app):
        for address in range(15):
            async with client_at(app, f"198.51.100.{address}") as client:
                await client.get(incident_url())
                await client.get(incident_url())
        assert len(traffic(app).refusals) == 11
        counts = traffic(app).refusals.drain()
    overflow = counts.pop(RefusalKey(AuditAction.access_refuse, None, "other", "other"))
    assert overflow.count == 10  # five addresses, two refusals each
    assert len(counts) == 10
    assert {tally.count for tally in counts.values()} == {2}


# --- written by the app itself -------------------------------------------------------------------


async def test_the_counts_are_written_every_interval_and_at_shutdown(
    settings: Settings, database_server_url: str
) -> None:
    async with scratch_database(database_server_url, prefix="triage_anonymous") as url:
        await upgrade_async(url)
        engine = create_async_engine(async_database_url(url))

        async def counted() -> list[tuple[str, int]]:
            async with engine.connect() as connection:
                return [
                    (e["reason"], e["count"])
                    for e in await counted_events(connection, "access.refuse")
                ]

        try:
            own = settings.model_copy(update={"database_url": SecretStr(url)})
            # Written at shutdown, though the interval never came.
            app = create_app(own.model_copy(update={"anonymous_refusal_flush_seconds": 3600}))
            async with app.router.lifespan_context(app), client_at(app, TEST_CLIENT) as client:
                for _ in range(3):
                    await client.get(incident_url())
                assert await counted() == []
            assert await counted() == [("token_missing", 3)]

            # Written by the background task while the app runs.
            app = create_app(own.model_copy(update={"anonymous_refusal_flush_seconds": 0.2}))
            async with app.router.lifespan_context(app), client_at(app, TEST_CLIENT) as client:
                for _ in range(4):
                    await client.get(incident_url(), headers=bearer("not-a-token"))
                for _ in range(50):
                    if len(await counted()) == 2:
                        break
                    await asyncio.sleep(0.1)
                assert await counted() == [("token_missing", 3), ("token_malformed", 4)]
        finally:
            await engine.dispose()


async def test_counts_that_cannot_be_written_are_kept_for_the_next_flush(
    app: FastAPI, client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    for _ in range(2):
        await client.get(incident_url())

    def unreachable() -> AsyncSession:
        raise ConnectionRefusedError("no database")

    assert await traffic(app).flush(unreachable) == 0  # type: ignore[arg-type]
    await client.get(incident_url())
    assert await flush(app, connection) == 1
    [event] = await counted_events(connection, "access.refuse")
    assert event["count"] == 3


# --- rate limits ---------------------------------------------------------------------------------


@pytest.fixture
def tight_limits(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_anonymous_per_second": 0.5,
            "rate_limit_anonymous_burst": 3,
            "rate_limit_token_per_second": 0.5,
            "rate_limit_token_burst": 3,
        }
    )


@pytest.fixture
def limited_app(tight_limits: Settings, app: FastAPI) -> FastAPI:
    limited = create_app(tight_limits)
    limited.dependency_overrides = app.dependency_overrides  # the test's transaction
    return limited


def handled(app: FastAPI) -> float:
    """Requests the application handled, as its metrics count them."""
    counter = app.state.resources.metrics.http_requests
    return float(
        sum(
            sample.value
            for metric in counter.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
    )


def rate_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["title"]) == (429, "Too many requests")
    assert body["type"] == "https://street-triage.nhs.example/problems/rate-limited"
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 2
    return seconds


async def test_anonymous_refusals_past_the_burst_are_429_with_retry_after(
    limited_app: FastAPI, connection: AsyncConnection
) -> None:
    async with running(limited_app):
        async with client_at(limited_app, "203.0.113.9") as client:
            statuses = [(await client.get(incident_url())).status_code for _ in range(3)]
            assert statuses == [401, 401, 401]
            rate_limited(await client.get(incident_url()))
            rate_limited(await client.get(incident_url(), headers=bearer("not-a-token")))
        async with client_at(limited_app, "203.0.113.10") as other:
            problem(await other.get(incident_url()), 401, "unauthenticated")  # its own bucket
        assert await flush(limited_app, connection) == 3
    events = await counted_events(connection, "access.refuse")
    # Past the burst, requests with nothing shaped like a token are turned away before routing.
    assert sorted((e["reason"], e["client"], e["count"], e["rate_limited"]) for e in events) == [
        ("rate_limited_before_routing", "203.0.113.9", 2, 2),
        ("token_missing", "203.0.113.10", 1, 0),
        ("token_missing", "203.0.113.9", 3, 0),
    ]


async def test_a_flood_past_the_burst_is_turned_away_before_routing_and_public_routes_stay_open(
    limited_app: FastAPI, connection: AsyncConnection
) -> None:
    async with running(limited_app), client_at(limited_app, "203.0.113.11") as client:
        for _ in range(3):
            await client.get(incident_url())
        before = handled(limited_app)
        for _ in range(20):
            rate_limited(await client.get(incident_url()))
        assert handled(limited_app) == before  # none of the twenty reached the application
        assert (await client.get("/healthz")).status_code == 200
        # Something shaped like a token goes through to be verified: 429 from the refusal path,
        # counted under its own reason.
        jwt_shaped = bearer("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
        rate_limited(await client.get(incident_url(), headers=jwt_shaped))
        assert await flush(limited_app, connection) >= 2
    events = await counted_events(connection, "access.refuse")
    gated = [e for e in events if e["reason"] == "rate_limited_before_routing"]
    assert [(e["client"], e["count"]) for e in gated] == [("203.0.113.11", 20)]
    assert any(e["reason"] != "rate_limited_before_routing" and e["rate_limited"] for e in events)


async def test_token_requests_past_the_burst_are_429_with_retry_after(
    limited_app: FastAPI,
) -> None:
    async with running(limited_app):
        async with client_at(limited_app, "203.0.113.20") as client:
            for _ in range(3):
                response = await client.post("/v1/token", data=bad_exchange_form())
                assert response.status_code == 400
            rate_limited(await client.post("/v1/token", data=bad_exchange_form()))
            rate_limited(await client.post("/v1/token/revoke", data={"token": "x"}))
        async with client_at(limited_app, "203.0.113.21") as other:
            assert (await other.post("/v1/token", data=bad_exchange_form())).status_code == 400


async def test_the_429_is_declared_on_the_token_and_protected_routes(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert "429" in paths["/v1/token"]["post"]["responses"]
    assert "429" in paths[INCIDENT_ROUTE]["get"]["responses"]


async def test_a_caller_with_a_valid_token_is_not_held_by_anonymous_limits(
    limited_app: FastAPI, idp: IdentityProvider
) -> None:
    async with running(limited_app), client_at(limited_app, "203.0.113.30") as client:
        form = bad_exchange_form() | {"subject_token": idp.token("officer", "NSP")}
        token = (await client.post("/v1/token", data=form)).json()["access_token"]
        for _ in range(4):
            await client.get(incident_url())
        rate_limited(await client.get(incident_url()))
        read = await client.get(incident_url(), headers=bearer(token))
        # Not 429: the officer's token is verified; it is only not bound to this incident.
        problem(read, 403, "forbidden")


# --- the rules, as tables ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "elapsed", "rate", "burst", "expected"),
    [
        (0.0, 0.0, 10.0, 20.0, 0.0),
        (0.0, 0.1, 10.0, 20.0, 1.0),
        (5.0, 1.0, 10.0, 20.0, 15.0),
        (19.5, 1.0, 10.0, 20.0, 20.0),  # never past the burst
        (3.0, -1.0, 10.0, 20.0, 3.0),  # a clock that went back adds nothing
    ],
)
def test_refill(tokens: float, elapsed: float, rate: float, burst: float, expected: float) -> None:
    assert refill(tokens, elapsed, rate, burst) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tokens", "rate", "wait", "header"),
    [(0.0, 10.0, 0.1, "1"), (0.5, 0.5, 1.0, "1"), (0.0, 0.5, 2.0, "2"), (0.9, 0.01, 10.0, "10")],
)
def test_wait_and_retry_after(tokens: float, rate: float, wait: float, header: str) -> None:
    assert wait_for_token(tokens, rate) == pytest.approx(wait)
    assert retry_after(wait) == header


def test_a_bucket_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3, max_clients=100)
    assert [limiter.take("a", 0.0) for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.5)]
    assert limiter.take("a", 0.5) == 0.0
    assert limiter.take("a", 0.5) == pytest.approx(0.5)
    assert limiter.take("b", 0.5) == 0.0  # per client


def test_buckets_are_bounded_and_the_idlest_goes_first() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_clients=3)
    for at, client in enumerate(["a", "b", "c"]):
        limiter.take(client, float(at))
    limiter.take("a", 3.0)  # a is used again: b is now the idlest
    limiter.take("d", 4.0)
    assert len(limiter) == 3
    assert limiter.take("b", 4.0) == 0.0  # forgotten, so new and full


def test_the_counter_merges_and_caps() -> None:
    counter = RefusalCounter(max_keys=2)
    at = datetime.now(UTC)
    keys = [RefusalKey(AuditAction.access_refuse, "/r", "token_missing", f"c{i}") for i in range(4)]
    for key in keys:
        counter.add(key, rate_limited=False, at=at)
    counter.add(keys[0], rate_limited=True, at=at)
    tallies = counter.drain()
    assert len(counter) == 0
    assert {key.client: (t.count, t.rate_limited) for key, t in tallies.items()} == {
        "c0": (2, 1),
        "c1": (1, 0),
        "other": (2, 0),
    }


async def test_public_routes_are_held_to_a_rate_per_address_before_they_touch_the_database(
    limited_app: FastAPI,
) -> None:
    async with running(limited_app), client_at(limited_app, "203.0.113.40") as client:
        statuses = [(await client.get("/readyz")).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        before = handled(limited_app)
        rate_limited(await client.get("/readyz"))
        assert handled(limited_app) == before  # turned away before the readiness check ran
        async with client_at(limited_app, "203.0.113.41") as other:
            assert (await other.get("/readyz")).status_code == 200


async def test_anonymous_requests_refused_for_control_characters_are_counted_and_held_to_the_rate(
    limited_app: FastAPI,
) -> None:
    async with running(limited_app), client_at(limited_app, "203.0.113.50") as client:
        for _ in range(3):
            refused = await client.get("/v1/incidents", params={"area": "\x01"})
            assert refused.status_code == 422
        rate_limited(await client.get("/v1/incidents", params={"area": "\x01"}))
        counted = traffic(limited_app).refusals.drain()
        # The three drained the address's bucket; the fourth never reached the application.
        assert {(key.reason, tally.count) for key, tally in counted.items()} == {
            ("control_character", 3),
            ("rate_limited_before_routing", 1),
        }


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # the same subscriber
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        (None, "unknown"),
    ],
)
def test_an_ipv6_client_is_limited_by_its_64(host: str | None, key: str) -> None:
    assert client_key(host) == key
