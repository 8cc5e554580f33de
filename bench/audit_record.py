"""The cost of writing one audit event, `record()`, inside a transaction, against the same
transaction without it; and of the `record()` call alone (its statement, before the commit).

Each sample is one transaction on a pooled connection that switches to the application's role
(as every request does) and then, in the measured variant, records one event. The difference of
the two is what `record()` adds to a request. With several writers at once, the audit chain's head
row makes the recording part of concurrent transactions take turns.

    python bench/audit_record.py [--events 2000] [--writers 1 8]
    TRIAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/triage_bench python bench/audit_record.py
"""

import argparse
import asyncio
import functools
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.audit.repository import audit_event, record
from api.database import build_database
from api.migration import upgrade_async
from api.settings import Environment, Settings
from api.token.repository import enter_tenant
from bench.harness import summary
from models import AuditAction, AuditOutcome


async def main(events: int, writers: list[int]) -> None:
    configured = os.environ.get("TRIAGE_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as directory:
        if configured:
            url = configured
        else:
            from api.embedded import start_embedded_postgres

            url = await asyncio.to_thread(start_embedded_postgres, Path(directory) / "pgdata")
        await upgrade_async(url)
        settings = Settings(
            environment=Environment.development,
            database_url=SecretStr(url),
            keys_dir=Path(directory) / "keys",
            db_pool_size=max(writers),
        )
        database = build_database(settings)
        user_id = uuid.uuid4()

        statement_times: list[float] = []

        async def transaction(with_event: bool) -> None:
            async with database.sessionmaker() as session, session.begin():
                await enter_tenant(session, "NSP")
                if with_event:
                    started = time.perf_counter()
                    await record(
                        session,
                        audit_event(
                            AuditAction.assessment_read,
                            AuditOutcome.success,
                            actor_user_id=user_id,
                            actor_role="officer",
                            actor_organisation_code="NSP",
                            purpose="street-triage",
                            incident_id=uuid.uuid4(),
                            route="/bench",
                            details={"revision": 3},
                        ),
                    )
                    statement_times.append(time.perf_counter() - started)

        try:
            for _ in range(200):  # warm the pool and the server's plan caches
                await transaction(True)
                await transaction(False)
            for count in writers:
                per_writer = max(1, events // count)
                for label, with_event in (("without record()", False), ("with record()   ", True)):
                    statement_times.clear()
                    samples, wall = await _concurrently(
                        [functools.partial(transaction, with_event)] * count, per_writer
                    )
                    print(
                        f"{count} writer(s) {label}: {len(samples) / wall:7.0f} tx/s  "
                        + summary(samples)
                    )
                    if statement_times:
                        print(
                            f"{count} writer(s) record() call  :              "
                            + summary(statement_times)
                        )
        finally:
            await database.dispose()


async def _concurrently(
    calls: list[Callable[[], Awaitable[None]]], per_worker: int
) -> tuple[list[float], float]:
    async def worker(call: Callable[[], Awaitable[None]]) -> list[float]:
        samples = []
        for _ in range(per_worker):
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)
        return samples

    started = time.perf_counter()
    results = await asyncio.gather(*(worker(call) for call in calls))
    return [sample for result in results for sample in result], time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8])
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.writers))
