"""What a partner call pays to hold the partner's rate across workers: one slot reservation.

Measured in the same run: this process's own bucket (the floor), the product's reservation in
PostgreSQL (one statement on the partner's row, on its own small pool), and the same GCRA in
Redis (one Lua script), at 1 and 8 concurrent callers. The rate is set so high no call waits:
the figures are the reservation's own cost, against partner calls of tens of milliseconds.

    python bench/partner_rate.py [--calls 2000]
    TRIAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/partner_rate.py

Redis is asked only if the `redis` package is installed and a server answers on 127.0.0.1:6379.
"""

import argparse
import asyncio
import importlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.migration import upgrade_async
from api.partner_rate import rate_engine, reserve_on
from api.settings import Environment, Settings
from bench.harness import summary, timed_concurrently
from clients.rate import RateLimiter

FAST = 1_000_000.0  # calls a second: no reservation ever waits
GCRA_LUA = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local interval, tolerance, longest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or t)
local slot = math.max(t, tat - tolerance)
if slot - t > longest then return nil end
redis.call('SET', KEYS[1], tostring(math.max(tat, t) + interval), 'EX', 60)
return tostring(slot - t)
"""


async def database_url() -> str:
    configured = os.environ.get("TRIAGE_DATABASE_URL")
    if configured:
        return configured
    from api.embedded import start_embedded_postgres

    directory = tempfile.mkdtemp(prefix="triage-bench-")
    return await asyncio.to_thread(start_embedded_postgres, Path(directory) / "pgdata")


async def measure(
    label: str, call: Callable[[], Awaitable[Any]], calls: int, concurrency: int
) -> None:
    samples, wall = await timed_concurrently([call] * concurrency, calls // concurrency)
    rate = len(samples) / wall
    print(f"{label:<34} {concurrency:>2} concurrent  {rate:8.0f}/s  {summary(samples)}")


async def main(calls: int) -> None:
    url = await database_url()
    await upgrade_async(url)
    settings = Settings(environment=Environment.development, database_url=SecretStr(url))
    engine = rate_engine(settings)
    reserve = reserve_on(engine, f"bench-{uuid.uuid4().hex[:8]}")
    local = RateLimiter(FAST, burst=FAST)
    interval = 1 / FAST

    async def local_call() -> None:
        await local.acquire(deadline=time.monotonic() + 1)

    async def postgres_call() -> None:
        await reserve(interval, 0.0, 1.0)

    redis_call = await redis_reservation(interval)
    try:
        for concurrency in (1, 8):
            await measure("this process's bucket", local_call, calls, concurrency)
            await measure("PostgreSQL reservation (product)", postgres_call, calls, concurrency)
            if redis_call is not None:
                await measure("Redis reservation (Lua GCRA)", redis_call, calls, concurrency)
    finally:
        await engine.dispose()


async def redis_reservation(interval: float) -> Callable[[], Awaitable[Any]] | None:
    try:
        # Optional, only for the comparison: imported by name, so type checking needs no stubs.
        redis = importlib.import_module("redis.asyncio")
    except ImportError:
        print("Redis: not measured (pip install redis to compare)")
        return None
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        await client.ping()
    except Exception as exc:
        print(f"Redis: not measured (no server on 127.0.0.1:6379: {type(exc).__name__})")
        return None
    script = client.register_script(GCRA_LUA)
    key = f"bench-rate-{uuid.uuid4().hex[:8]}"

    async def call() -> None:
        await script(keys=[key], args=[interval, 0.0, 1.0])

    return call


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
