"""The outcome report for one force over one year, on the data `bench/seed_incidents.py` made.

Three measurements, interleaved in one run so they share the machine's state:

- baseline: a bare `SELECT count(*)` of the same incidents (same index, same rows), no report;
- report SQL: the report's one statement, as the application runs it (its role, the force's
  tenant under row-level security), without HTTP;
- report API: `GET /v1/reports/outcomes` in-process: token check, the statement, the audit event,
  the JSON.

    python bench/report.py [--runs 30] [--org NSP] [--group-by month] [--explain]
    TRIAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/triage_bench python bench/report.py
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.report.repository import ReportQuery, outcome_figures
from api.report.service import viewpoint_of
from api.token.repository import enter_tenant
from bench.harness import running
from bench.seed_incidents import bench_database_url
from models.report import ReportGrouping, ReportViewpoint

# The same incidents, counted and nothing else: by the force that opened them, or the trust named.
_PERIOD = (
    " AND time_of_call_at >= (CAST(:start AS timestamp) AT TIME ZONE 'Europe/London')"
    " AND time_of_call_at < (CAST(:end AS timestamp) AT TIME ZONE 'Europe/London')"
)
BASELINE = {
    ReportViewpoint.force: text(
        "SELECT count(*) FROM incident WHERE organisation_code = :org" + _PERIOD
    ),
    ReportViewpoint.trust: text(
        "SELECT count(*) FROM incident WHERE partner_trust_code = :org" + _PERIOD
    ),
}


def milliseconds(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    mean = statistics.fmean(ordered) * 1000
    return f"p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  mean {mean:8.1f} ms"


async def run(runs: int, org: str, grouping: ReportGrouping, explain: bool) -> None:
    today = datetime.now(UTC).date()
    start, end = date(today.year - 1, 1, 1), date(today.year, 1, 1)
    async with running(pool_size=4) as bench:
        database = bench.app.state.resources.database
        partnership = bench.app.state.resources.partnership
        viewpoint = viewpoint_of(partnership, org)
        baseline_count = BASELINE[viewpoint]
        query = ReportQuery(
            organisation_code=org,
            viewpoint=viewpoint,
            period_start=start,
            period_end=end,
            grouping=grouping,
        )
        async with database.engine.connect() as connection:
            total = (await connection.execute(text("SELECT count(*) FROM incident"))).scalar_one()
            rows = (
                await connection.execute(baseline_count, {"org": org, "start": start, "end": end})
            ).scalar_one()
        print(
            f"outcome report: {org}, {start} to {end}, by {grouping.value}; "
            f"{rows:,} of {total:,} incidents"
        )
        token = await bench.token("supervisor", org, "supervision")
        params = {"from": str(start), "to": str(end), "group_by": grouping.value}
        headers = {"authorization": f"Bearer {token}"}

        async def baseline() -> None:
            async with database.engine.connect() as connection:
                await connection.execute(baseline_count, {"org": org, "start": start, "end": end})

        async def report_sql() -> None:
            async with database.sessionmaker() as session, session.begin():
                await enter_tenant(session, org)
                await outcome_figures(session, query)

        async def report_api() -> None:
            response = await bench.client.get(
                "/v1/reports/outcomes", params=params, headers=headers
            )
            assert response.status_code == 200, response.text

        measured: dict[str, list[float]] = {"baseline": [], "report SQL": [], "report API": []}
        calls: dict[str, Callable[[], Awaitable[None]]] = {
            "baseline": baseline,
            "report SQL": report_sql,
            "report API": report_api,
        }
        for call in calls.values():  # warm up caches and connections
            await call()
        for _ in range(runs):
            for name, call in calls.items():
                started = time.perf_counter()
                await call()
                measured[name].append(time.perf_counter() - started)
        for name, samples in measured.items():
            print(f"  {name:<14} {milliseconds(samples)}  ({runs} runs)")
        total = (
            await bench.client.get("/v1/reports/outcomes", params=params, headers=headers)
        ).json()["total"]
        print(
            "  figures: {incidents} incidents, s136 rate {s136_detention_rate}, repeat contact rate"
            " {repeat_contact_rate}, time at scene median {time_at_scene_median_minutes} min,"
            " p90 {time_at_scene_p90_minutes} min".format(**total)
        )
        if explain:
            await explain_plan(database, query)


async def explain_plan(database: object, query: ReportQuery) -> None:
    from sqlalchemy.dialects import postgresql

    from api.database import Database
    from api.report import repository

    assert isinstance(database, Database)
    statement = repository.report_statement(query)
    compiled = statement.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
    async with database.sessionmaker() as session, session.begin():
        await enter_tenant(session, query.organisation_code)
        connection = await session.connection()
        plan = await connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))
        print("\n".join(row[0] for row in plan))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--org", default="NSP")
    parser.add_argument(
        "--group-by", type=ReportGrouping, default=ReportGrouping.month, choices=ReportGrouping
    )
    parser.add_argument("--explain", action="store_true", help="print the plan, as the app runs it")
    args = parser.parse_args()
    os.environ["TRIAGE_DATABASE_URL"] = bench_database_url()
    asyncio.run(run(args.runs, args.org, args.group_by, args.explain))


if __name__ == "__main__":
    main()
