"""A partner's published rate held by the application as a whole: every worker and replica
reserves its calls' slots on one row in PostgreSQL (GCRA), against the real database."""

import asyncio
import time
import uuid

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from api.partner_rate import rate_engine, reserve_on, shared_limiter
from api.settings import Settings
from clients.rate import RateLimiter, RateUnavailable, SharedRateLimiter

RATE = 5.0  # PDS's default: 5 requests a second per application


async def granted_within(limiters: list[SharedRateLimiter | RateLimiter], seconds: float) -> int:
    """Calls let through by all `limiters` together, each trying as fast as it may, for
    `seconds` (a call waits for its slot up to the end of the window)."""
    end = time.monotonic() + seconds
    count = 0

    async def worker(limiter: SharedRateLimiter | RateLimiter) -> None:
        nonlocal count
        while time.monotonic() < end:
            if await limiter.acquire(deadline=end):
                count += 1
            else:
                await asyncio.sleep(0.01)

    await asyncio.gather(*(worker(limiter) for limiter in limiters for _ in range(4)))
    return count


@pytest.fixture
def shared_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"partner_rate_shared": True})


async def test_two_workers_together_stay_within_the_partners_rate(
    shared_settings: Settings,
) -> None:
    partner = f"pds-{uuid.uuid4().hex[:8]}"
    # Two workers: each its own pool, as two processes have.
    first, second = rate_engine(shared_settings), rate_engine(shared_settings)
    try:
        shared = [
            shared_limiter(first, partner, RATE),
            shared_limiter(second, partner, RATE),
        ]
        together = await granted_within(list(shared), 2.0)
    finally:
        await first.dispose()
        await second.dispose()
    # A burst of 5, then 5 a second: at most 5 + 2 x 5 in two seconds, however many workers.
    assert 8 <= together <= 15
    # Each process on its own bucket lets the partner see twice that.
    alone = await granted_within([RateLimiter(RATE), RateLimiter(RATE)], 2.0)
    assert alone >= 2 * 8


async def test_a_slot_past_the_deadline_is_refused_at_once(shared_settings: Settings) -> None:
    engine = rate_engine(shared_settings)
    partner = f"pds-{uuid.uuid4().hex[:8]}"
    try:
        limiter = shared_limiter(engine, partner, RATE)
        for _ in range(5):  # the burst
            assert await limiter.acquire(deadline=time.monotonic() + 0.05)
        started = time.monotonic()
        assert not await limiter.acquire(deadline=time.monotonic() + 0.05)
        assert time.monotonic() - started < 0.05
        # Within reach of the deadline: it waits for its slot (one interval, 0.2 s).
        started = time.monotonic()
        assert await limiter.acquire(deadline=time.monotonic() + 1.0)
        assert 0.1 <= time.monotonic() - started <= 0.5
    finally:
        await engine.dispose()


async def test_a_database_that_cannot_be_asked_falls_back_to_this_process(
    shared_settings: Settings,
) -> None:
    unreachable = shared_settings.model_copy(
        update={
            "database_url": SecretStr("postgresql://triage:pw@127.0.0.1:1/triage"),
            "db_connect_timeout_seconds": 0.2,
        }
    )
    engine = rate_engine(unreachable)
    try:
        limiter = shared_limiter(engine, "pds", RATE)
        results = [await limiter.acquire(deadline=time.monotonic() + 0.05) for _ in range(7)]
    finally:
        await engine.dispose()
    # This process's own bucket: the burst of five, then refusals within so short a deadline.
    assert results == [True] * 5 + [False] * 2


async def test_the_app_shares_its_partners_rates_when_so_configured(
    shared_settings: Settings,
) -> None:
    app = create_app(shared_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://triage.test"
        ) as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        limiters = [
            client_._http._rate_limiter
            for client_ in (app.state.resources.partners.pds, app.state.resources.partners.nrl)
            if client_ is not None
        ]
    assert limiters
    assert all(isinstance(limiter, SharedRateLimiter) for limiter in limiters)


async def test_a_driver_error_of_any_kind_falls_back_to_this_process(
    shared_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the server's errors: the driver's own (a statement cache gone stale) too."""

    async def stale(*args: object, **kwargs: object) -> None:
        raise asyncpg.exceptions.OutdatedSchemaCacheError("cached statement plan is invalid")

    engine = rate_engine(shared_settings)
    try:
        monkeypatch.setattr(asyncpg.Connection, "fetchval", stale)
        with pytest.raises(RateUnavailable):
            await reserve_on(engine, "pds")(0.2, 0.0, 1.0)
    finally:
        await engine.dispose()
