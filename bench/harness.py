"""Shared set-up for benchmarks: a real database, the app in-process, real tokens, timing."""

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app
from api.migration import upgrade_async
from api.settings import Environment, Settings
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from auth.development import mint_identity_token


@dataclass
class Bench:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    async def token(
        self, role: str, org: str, purpose: str, *, subject: str | None = None, **form: str
    ) -> str:
        return await exchange_token(
            self.client,
            self.settings.keys_dir,
            self.settings.token_audience,
            role,
            org,
            purpose,
            subject=subject,
            **form,
        )


async def exchange_token(
    client: httpx.AsyncClient,
    keys_dir: Path,
    audience: str,
    role: str,
    org: str,
    purpose: str,
    *,
    subject: str | None = None,
    **form: str,
) -> str:
    """A development identity token from `keys_dir`, exchanged at `client`'s /v1/token: the app
    in-process or a server in its own process."""
    identity = mint_identity_token(
        keys_dir, audience=audience, role=role, organisation_code=org, subject=subject
    )
    response = await client.post(
        "/v1/token",
        data={
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": identity,
            "subject_token_type": JWT_TOKEN_TYPE,
            "purpose": purpose,
            **form,
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def database_url_in(directory: Path) -> str:
    """TRIAGE_DATABASE_URL, migrated; or a throwaway embedded PostgreSQL in `directory`, stopped
    when this process exits. For benchmarks that run the API in a process of its own."""
    database_url = os.environ.get("TRIAGE_DATABASE_URL")
    if not database_url:
        from api.embedded import start_embedded_postgres

        database_url = await asyncio.to_thread(start_embedded_postgres, directory / "pgdata")
    await upgrade_async(database_url)
    return database_url


@asynccontextmanager
async def running(
    *routers: APIRouter,
    pool_size: int = 10,
    settings_overrides: dict[str, Any] | None = None,
    partner_transport: httpx.AsyncBaseTransport | None = None,
    database_url: str | None = None,
) -> AsyncIterator[Bench]:
    """The app on `database_url`, else TRIAGE_DATABASE_URL, else a throwaway embedded PostgreSQL."""
    configured = database_url or os.environ.get("TRIAGE_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as directory:
        if configured:
            database_url = configured
        else:
            from api.embedded import start_embedded_postgres

            database_url = await asyncio.to_thread(
                start_embedded_postgres, Path(directory) / "pgdata"
            )
        await upgrade_async(database_url)
        settings = Settings(
            environment=Environment.development,
            database_url=SecretStr(database_url),
            keys_dir=Path(directory) / "keys",
            log_level="WARNING",
            db_pool_size=pool_size,
            # Every simulated car exchanges its tokens from this one address.
            rate_limit_token_per_second=100_000,
            rate_limit_token_burst=1_000_000,
        ).model_copy(update=settings_overrides or {})
        app = create_app(settings, partner_transport=partner_transport)
        for router in routers:
            app.include_router(router)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as client,
        ):
            yield Bench(app, client, settings)


async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def timed_concurrently(
    calls: list[Callable[[], Awaitable[Any]]], per_worker: int
) -> tuple[list[float], float]:
    """Each call is one worker, run `per_worker` times in a row; returns samples and wall time."""
    started = time.perf_counter()
    results = await asyncio.gather(*(timed(call, per_worker) for call in calls))
    return [sample for result in results for sample in result], time.perf_counter() - started


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e6
    p99 = ordered[int(len(ordered) * 0.99)] * 1e6
    return f"mean {statistics.fmean(ordered) * 1e6:8.0f} us  p50 {p50:8.0f} us  p99 {p99:8.0f} us"
