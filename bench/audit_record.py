"""Audited transactions with the hash chain (before) and the transparency log (after), in one run.

Two databases on one PostgreSQL server: one migrated to 0013, whose `audit_append` locks the chain
head until the writing transaction ends; one migrated to head, whose `audit_append` takes no lock,
with the sealer running beside the writers as the API runs it (every `--seal-delay`/2 s). The same
`record()` call writes to either. Each sample is one transaction on a pooled connection that
switches to the application's role (as every request does), records one event and commits.

Three measurements for each:
1. writers: audited transactions a second, p50 and p99, and the `record()` call's p99 (what it
   waits for), at 1, 8 and 32 concurrent writers;
2. lookups under 8 writers: one more task doing lookup-shaped audited transactions (a read, then
   its event) while 8 writers run: its p99;
3. lookups under the anonymous flood's write: the counted refusals of a flood (`--refusal-keys`
   events, one transaction, as `api.anonymous` writes them), written again and again while the
   lookup task runs: its p99 and worst.

    python bench/audit_record.py [--events 2000] [--writers 1 8 32]
    TRIAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/audit_record.py
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.audit.note import Signer
from api.audit.repository import audit_event, record
from api.audit.sealer import LogKeys, seal_periodically
from api.database import Database, build_database
from api.migration import upgrade_async
from api.settings import Environment, Settings
from api.token.repository import enter_tenant
from bench.harness import summary
from models import AuditAction, AuditEvent, AuditOutcome
from tests.database import scratch_database

CHAIN_REVISION = "0013_browser_sign_in"
APPEND = text("SELECT audit_append(CAST(:events AS jsonb))")
LOOKUP_SECONDS = 4.0
FLOOD_WRITES = 8
UNSEALED = text(
    "SELECT count(*) FROM audit_event e"
    " WHERE NOT EXISTS (SELECT 1 FROM audit_leaf l WHERE l.event_id = e.id)"
)
LAG = text(
    "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM l.sealed_at -"
    " e.occurred_at)) FROM audit_leaf l JOIN audit_event e ON e.id = l.event_id"
    " WHERE e.seq <= :through"
)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def event(action: AuditAction = AuditAction.assessment_read) -> AuditEvent:
    return audit_event(
        action,
        AuditOutcome.success,
        actor_user_id=uuid.uuid4(),
        actor_role="officer",
        actor_organisation_code="NSP",
        purpose="street-triage",
        incident_id=uuid.uuid4(),
        route="/bench",
        details={"revision": 3},
    )


class Variant:
    def __init__(self, name: str, database: Database) -> None:
        self.name = name
        self.database = database
        self.record_times: list[float] = []

    async def audited(self, *, read_first: bool = False) -> None:
        async with self.database.sessionmaker() as session, session.begin():
            await enter_tenant(session, "NSP")
            if read_first:
                connection = await session.connection()
                await connection.execute(text("SELECT count(*) FROM organisation"))
            started = time.perf_counter()
            await record(session, event())
            self.record_times.append(time.perf_counter() - started)

    async def flood_write(self, payload: str) -> None:
        """The counted refusals' one transaction, as `api.anonymous` writes it."""
        async with self.database.engine.begin() as connection:
            await connection.execute(APPEND, {"events": payload})


async def closed_loop(
    call: Callable[[], Awaitable[None]], workers: int, per_worker: int
) -> tuple[list[float], float]:
    async def worker() -> list[float]:
        samples = []
        for _ in range(per_worker):
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)
        return samples

    started = time.perf_counter()
    results = await asyncio.gather(*(worker() for _ in range(workers)))
    return [sample for result in results for sample in result], time.perf_counter() - started


async def until(stop: float, call: Callable[[], Awaitable[None]]) -> list[float]:
    samples = []
    while time.perf_counter() < stop:
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def lookups_during(
    variant: Variant, load: Callable[[float], Awaitable[object]]
) -> list[float]:
    stop = time.perf_counter() + LOOKUP_SECONDS
    lookups, _ = await asyncio.gather(
        until(stop, lambda: variant.audited(read_first=True)), load(stop)
    )
    return lookups


async def measure(variant: Variant, events: int, writers: list[int], refusal_keys: int) -> int:
    """Prints the figures; returns the last seq written before the flood's writes."""
    flushes: list[float] = []
    # Made first, one per write (events are unique), so that what is measured is the database's
    # answer, not this process building thousands of events beside the lookups (or the sealer).
    payloads = [
        json.dumps(
            [
                audit_event(
                    AuditAction.access_refuse,
                    AuditOutcome.denied,
                    reason="no_token",
                    route="/v1/incidents/{incident_id}",
                    details={"count": 20, "client": f"10.0.{n // 250}.{n % 250}"},
                ).model_dump(mode="json")
                for n in range(refusal_keys)
            ]
        )
        for _ in range(FLOOD_WRITES)
    ]

    for _ in range(200):  # warm the pool and the server's plan caches
        await variant.audited()
    for count in writers:
        variant.record_times.clear()
        samples, wall = await closed_loop(variant.audited, count, max(1, events // count))
        print(
            f"{variant.name} {count:>2} writer(s): {len(samples) / wall:6.0f} audited tx/s  "
            f"{summary(samples)}  record() p99 {percentile(variant.record_times, 0.99) * 1000:.2f} ms"
        )

    async def eight_writers(stop: float) -> None:
        await asyncio.gather(*(until(stop, variant.audited) for _ in range(8)))

    lookups = await lookups_during(variant, eight_writers)
    print(f"{variant.name} lookups under 8 writers: {summary(lookups)}")
    async with variant.database.engine.connect() as connection:
        before_flood = int(await connection.scalar(text("SELECT max(seq) FROM audit_event")) or 0)

    async def flood(stop: float) -> None:
        while payloads and time.perf_counter() < stop:
            started = time.perf_counter()
            await variant.flood_write(payloads.pop())
            flushes.append(time.perf_counter() - started)

    lookups = await lookups_during(variant, flood)
    print(
        f"{variant.name} lookups under the flood's write ({refusal_keys} counted refusals, "
        f"{len(flushes)} writes of p50 {percentile(flushes, 0.5) * 1000:.0f} ms): "
        f"{summary(lookups)}  worst {max(lookups) * 1000:.0f} ms"
    )
    return before_flood


async def main(events: int, writers: list[int], refusal_keys: int, seal_delay: float) -> None:
    configured = os.environ.get("TRIAGE_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as directory:
        if configured:
            server = configured
        else:
            from api.embedded import start_embedded_postgres

            server = await asyncio.to_thread(start_embedded_postgres, Path(directory) / "pgdata")
        async with (
            scratch_database(server, prefix="bench_chain") as chain_url,
            scratch_database(server, prefix="bench_log") as log_url,
        ):
            await upgrade_async(chain_url, CHAIN_REVISION)
            await upgrade_async(log_url)
            pool = max(*writers, 8) + 4

            def database(url: str) -> Database:
                return build_database(
                    Settings(
                        environment=Environment.development,
                        database_url=SecretStr(url),
                        keys_dir=Path(directory) / "keys",
                        db_pool_size=pool,
                        db_max_overflow=0,
                    )
                )

            chain, log = database(chain_url), database(log_url)
            signer = Signer("bench.invalid/audit", Ed25519PrivateKey.generate())
            keys = LogKeys(signer=signer, verifiers=(signer.verifier,), cosigner=None)
            sealer = asyncio.create_task(seal_periodically(log.engine, keys, seal_delay))
            try:
                await measure(Variant("before (chain)", chain), events, writers, refusal_keys)
                before_flood = await measure(
                    Variant("after (log)   ", log), events, writers, refusal_keys
                )
                written = time.perf_counter()
                async with log.engine.connect() as connection:
                    while True:
                        unsealed = await connection.scalar(UNSEALED)
                        await connection.commit()
                        if not unsealed:
                            break
                        await asyncio.sleep(0.05)
                    leaves = await connection.scalar(text("SELECT count(*) FROM audit_leaf"))
                    lag = await connection.scalar(LAG, {"through": before_flood})
                print(
                    f"after (log): {leaves} events sealed; seal delay (leaf time - event time)"
                    f" p99 {float(lag):.2f} s over the writers' phases; the flood's last events"
                    f" sealed {time.perf_counter() - written:.2f} s after its last write"
                )
            finally:
                sealer.cancel()
                await asyncio.gather(sealer, return_exceptions=True)
                await chain.dispose()
                await log.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="transactions per writer count")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--refusal-keys", type=int, default=10_000)
    parser.add_argument("--seal-delay", type=float, default=2.0)
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.events, arguments.writers, arguments.refusal_keys, arguments.seal_delay)
    )
