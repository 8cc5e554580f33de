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
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.dependencies import SessionDep
from api.security import Authorizer
from api.token.repository import token_state
from auth.principal import Principal
from bench.harness import running, summary, timed
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


async def run(requests: int) -> None:
    async with running(router) as bench:
        client = bench.client
        token = await bench.token("officer", "NSP", "street-triage")
        headers = {"authorization": f"Bearer {token}"}

        async def floor() -> None:
            assert (await client.get("/bench/floor")).status_code == 200

        async def public() -> None:
            assert (await client.get("/bench/public")).status_code == 200

        async def guarded() -> None:
            assert (await client.get("/bench/guarded", headers=headers)).status_code == 200

        resources = bench.app.state.resources
        claims = resources.tokens.verify(token, now=time.time())

        async def verify_only() -> None:
            resources.tokens.verify(token, now=time.time())

        async def state_only() -> None:
            async with resources.database.sessionmaker() as session, session.begin():
                assert await token_state(
                    session, user_id=claims.user_id, jti=claims.jti, organisation_code="NSP"
                )

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
    asyncio.run(run(parser.parse_args().requests))


if __name__ == "__main__":
    main()
