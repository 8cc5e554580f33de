"""Per-request cost of verifying our token (signature, claims, revocation and user check).

Drives the app in-process (httpx ASGITransport, real PostgreSQL, real ES256 tokens) against routes
with the same handler, a one-row read in the request's transaction as every data route does: one
public, one behind `Authorizer`. A third, public and touching no database, shows the floor. All
are measured in the same run, interleaved in blocks, so the difference is the check's cost alone.

    python bench/token_verify.py [--requests 3000]
    TRIAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/triage_bench python bench/token_verify.py
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends
from pydantic import SecretStr
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app
from api.dependencies import SessionDep
from api.migration import upgrade_async
from api.security import Authorizer
from api.settings import Environment, Settings
from api.token.repository import token_state
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from auth.development import mint_identity_token
from auth.principal import Principal
from models import Scope

router = APIRouter(prefix="/bench")


async def read_one_row(session: SessionDep) -> dict[str, bool]:
    return {"ok": bool(await session.scalar(text("SELECT 1")))}


@router.get("/floor")
async def touch_nothing() -> dict[str, bool]:
    """No token, no database."""
    return {"ok": True}


@router.get("/public")
async def read_public(session: SessionDep) -> dict[str, bool]:
    """The baseline: no token, one read."""
    return await read_one_row(session)


@router.get("/guarded")
async def read_guarded(
    principal: Annotated[Principal, Depends(Authorizer(Scope.incident_open))], session: SessionDep
) -> dict[str, bool]:
    """The same handler behind token verification."""
    return await read_one_row(session)


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e6
    p99 = ordered[int(len(ordered) * 0.99)] * 1e6
    return f"mean {statistics.fmean(ordered) * 1e6:8.0f} us  p50 {p50:8.0f} us  p99 {p99:8.0f} us"


async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def run(requests: int, database_url: str) -> None:
    await upgrade_async(database_url)
    keys_dir = Path(tempfile.mkdtemp(prefix="triage-bench-keys-"))
    settings = Settings(
        environment=Environment.development,
        database_url=SecretStr(database_url),
        keys_dir=keys_dir,
        log_level="WARNING",
    )
    app = create_app(settings)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        identity = mint_identity_token(
            keys_dir, audience=settings.token_audience, role="officer", organisation_code="NSP"
        )
        exchanged = await client.post(
            "/v1/token",
            data={
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": identity,
                "subject_token_type": JWT_TOKEN_TYPE,
                "purpose": "street-triage",
            },
        )
        exchanged.raise_for_status()
        token = exchanged.json()["access_token"]
        headers = {"authorization": f"Bearer {token}"}

        async def floor() -> None:
            assert (await client.get("/bench/floor")).status_code == 200

        async def public() -> None:
            assert (await client.get("/bench/public")).status_code == 200

        async def guarded() -> None:
            assert (await client.get("/bench/guarded", headers=headers)).status_code == 200

        resources = app.state.resources
        claims = resources.tokens.verify(token, now=time.time())

        async def verify_only() -> None:
            resources.tokens.verify(token, now=time.time())

        async def state_only() -> None:
            async with resources.database.sessionmaker() as session, session.begin():
                assert await token_state(session, user_id=claims.user_id, jti=claims.jti)

        for call in (floor, public, guarded, verify_only, state_only):
            await timed(call, 200)  # warm up pools, caches, the JIT-less interpreter alike
        floor_samples: list[float] = []
        public_samples: list[float] = []
        guarded_samples: list[float] = []
        block = 250
        for _ in range(max(1, requests // block)):
            floor_samples += await timed(floor, block)
            public_samples += await timed(public, block)
            guarded_samples += await timed(guarded, block)
        verify_samples = await timed(verify_only, requests)
        state_samples = await timed(state_only, requests)

    print(f"token verification benchmark: {len(public_samples)} requests per route, sequential")
    print(f"  public, no database (floor)    {summary(floor_samples)}")
    print(f"  public, one read (baseline)    {summary(public_samples)}")
    print(f"  guarded, one read              {summary(guarded_samples)}")
    extra = (statistics.median(guarded_samples) - statistics.median(public_samples)) * 1e6
    print(f"  cost of the check (p50 diff)   {extra:8.0f} us per request")
    print(f"    of which signature + claims  {summary(verify_samples)}")
    print(f"    of which revocation + user   {summary(state_samples)} (own transaction)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    database_url = os.environ.get("TRIAGE_DATABASE_URL")
    if database_url:
        asyncio.run(run(args.requests, database_url))
        return
    from api.embedded import start_embedded_postgres

    with tempfile.TemporaryDirectory(prefix="triage-bench-pg-") as directory:
        asyncio.run(run(args.requests, start_embedded_postgres(Path(directory) / "pgdata")))


if __name__ == "__main__":
    main()
