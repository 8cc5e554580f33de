"""A load test: the API as it is deployed, under a realistic mix, for a fixed time.

Real processes: the API (`triage serve`, uvicorn, one worker as by default) on an embedded
PostgreSQL of its own, or on TRIAGE_DATABASE_URL; the partner simulator answering in 20 ms per
partner; and this load generator. Each virtual user is a street triage car or a supervisor:

- a car looks people up (crisis flag lookup, bound token) and writes its joint assessment
  (`PUT …/assessment` with If-Match), with think time between actions;
- a supervisor reads the outcome report for the last year.

The baseline, measured under the same load in the same run, is `GET /healthz` (no database, no
token): the floor of the server and network path. It reports throughput, p50, p99 and errors per
operation. The target on the 2-core machine: zero errors and lookup p99 under 250 ms at 50
concurrent users.

    python bench/load.py                          # 50 users, 60 s
    python bench/load.py --users 50 --duration 120 --think 1.0 --workers 2
"""

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import assessment_content, incident_payload, nhs_number
from tests.processes import (
    GENEROUS_QUOTAS,
    api_process,
    exchange_form,
    simulated_partnership,
    simulator_process,
)

PARTNER_LATENCY_MS = 20
TOKEN_REFRESH_SECONDS = 240  # street-triage tokens live 300 s
SUPERVISOR_SHARE = 0.2
OPERATIONS = ("lookup", "assessment_write", "report_read", "healthz (baseline)")


@dataclass
class Results:
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    async def measure(
        self, operation: str, call: Awaitable[httpx.Response]
    ) -> httpx.Response | None:
        """Await `call` (nothing is sent before) and file its time, or its error."""
        started = time.perf_counter()
        try:
            response = await call
        except httpx.HTTPError as exc:
            self.errors[operation].append(type(exc).__name__)
            return None
        elapsed = time.perf_counter() - started
        if response.status_code >= 400:
            self.errors[operation].append(f"{response.status_code}")
            return None
        self.samples[operation].append(elapsed)
        return response


class Tokens:
    """Purpose-bound tokens, exchanged again before they expire."""

    def __init__(self, client: httpx.AsyncClient, keys_dir: Path) -> None:
        self.client = client
        self.keys_dir = keys_dir

    async def get(self, role: str, org: str, purpose: str, **form: str) -> str:
        response = await self.client.post(
            "/v1/token", data=exchange_form(self.keys_dir, role, org, purpose, **form)
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


async def car(
    index: int,
    client: httpx.AsyncClient,
    tokens: Tokens,
    results: Results,
    stop: float,
    think: float,
) -> None:
    """One street triage car: an incident with a subject and an assessment, then lookups and
    assessment writes with think time between them, until `stop`."""
    rng = random.Random(index)
    opener = await tokens.get("officer", "NSP", "street-triage")
    created = await client.post(
        "/v1/incidents", json=incident_payload(), headers={"authorization": f"Bearer {opener}"}
    )
    created.raise_for_status()
    incident_id = created.json()["id"]
    bound = await tokens.get("officer", "NSP", "street-triage", incident_id=incident_id)
    issued = time.monotonic()
    headers = {"authorization": f"Bearer {bound}"}
    person = nhs_number(900_000_100 + index)
    subject = await client.post(
        f"/v1/incidents/{incident_id}/subjects", json={"nhs_number": person}, headers=headers
    )
    subject.raise_for_status()
    url = f"/v1/incidents/{incident_id}/subjects/{subject.json()['id']}/assessment"
    body = {"content": assessment_content()}
    started = await client.post(url, json=body, headers=headers)
    started.raise_for_status()
    etag = started.headers["etag"]
    people = [person, "9000000009", "9000000025"]
    while time.monotonic() < stop:
        await asyncio.sleep(rng.expovariate(1 / think))
        if time.monotonic() >= stop:
            return
        if time.monotonic() - issued > TOKEN_REFRESH_SECONDS:
            bound = await tokens.get("officer", "NSP", "street-triage", incident_id=incident_id)
            issued, headers = time.monotonic(), {"authorization": f"Bearer {bound}"}
        if rng.random() < 0.5:
            lookup = {"nhs_number": rng.choice(people)}
            await results.measure(
                "lookup",
                client.post(
                    f"/v1/incidents/{incident_id}/flag-lookups", json=lookup, headers=headers
                ),
            )
        else:
            written = await results.measure(
                "assessment_write",
                client.put(url, json=body, headers=headers | {"if-match": etag}),
            )
            if written is not None:
                etag = written.headers["etag"]
        await results.measure("healthz (baseline)", client.get("/healthz"))


async def supervisor(
    index: int,
    client: httpx.AsyncClient,
    tokens: Tokens,
    results: Results,
    stop: float,
    think: float,
) -> None:
    rng = random.Random(10_000 + index)
    token = await tokens.get("supervisor", "NSP", "supervision")
    issued = time.monotonic()
    today = datetime.now(UTC).date()
    params = {
        "from": (today - timedelta(days=365)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
        "group_by": "month",
    }
    while time.monotonic() < stop:
        await asyncio.sleep(rng.expovariate(1 / think))
        if time.monotonic() >= stop:
            return
        if time.monotonic() - issued > TOKEN_REFRESH_SECONDS:
            token, issued = await tokens.get("supervisor", "NSP", "supervision"), time.monotonic()
        headers = {"authorization": f"Bearer {token}"}
        await results.measure(
            "report_read",
            client.get("/v1/reports/outcomes", params=params, headers=headers),
        )


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report(results: Results, duration: float, users: int) -> bool:
    print(f"\n{users} users for {duration:.0f} s")
    print(
        f"  {'operation':20s} {'count':>7s} {'per s':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s} {'errors':>7s}"
    )
    for operation in OPERATIONS:
        ordered = sorted(results.samples.get(operation, []))
        errors = results.errors.get(operation, [])
        if not ordered:
            print(
                f"  {operation:20s} {0:7d} {'-':>7s} {'-':>8s} {'-':>8s} {'-':>8s} {len(errors):7d}"
            )
            continue
        print(
            f"  {operation:20s} {len(ordered):7d} {len(ordered) / duration:7.1f}"
            f" {percentile(ordered, 0.5) * 1000:8.1f} {percentile(ordered, 0.99) * 1000:8.1f}"
            f" {ordered[-1] * 1000:8.1f} {len(errors):7d}"
        )
    all_errors = [error for errors in results.errors.values() for error in errors]
    if all_errors:
        kinds: dict[str, int] = defaultdict(int)
        for error in all_errors:
            kinds[error] += 1
        print(f"  errors by kind: {dict(kinds)}")
    lookups = sorted(results.samples.get("lookup", []))
    p99 = percentile(lookups, 0.99) * 1000 if lookups else float("inf")
    met = not all_errors and p99 < 250
    print(
        f"  target: zero errors and lookup p99 < 250 ms -> errors {len(all_errors)}, "
        f"lookup p99 {p99:.0f} ms: {'met' if met else 'NOT met'}"
    )
    return met


async def drive(
    base_url: str, keys_dir: Path, users: int, duration: float, think: float
) -> Results:
    results = Results()
    limits = httpx.Limits(max_connections=users * 2, max_keepalive_connections=users * 2)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, limits=limits, trust_env=False
    ) as client:
        tokens = Tokens(client, keys_dir)
        supervisors = max(1, round(users * SUPERVISOR_SHARE))
        stop = time.monotonic() + duration
        await asyncio.gather(
            *(car(i, client, tokens, results, stop, think) for i in range(users - supervisors)),
            *(supervisor(i, client, tokens, results, stop, think) for i in range(supervisors)),
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, seconds")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn workers of the API (`triage serve`'s default)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="triage-load-") as name:
        directory = Path(name)
        faults = directory / "faults.yaml"
        latency = {"latency_ms": PARTNER_LATENCY_MS}
        faults.write_text(
            yaml.safe_dump(
                {"pds": latency, "nrl": latency, "trust-RQI": latency, "trust-Y05868": latency}
            )
        )
        with simulator_process(directory, faults) as simulator:
            partnership = simulated_partnership(
                directory, simulator, quotas=GENEROUS_QUOTAS, max_concurrency=64
            )
            environment = {
                "TRIAGE_PGDATA_DIR": str(directory / "pgdata"),
                "TRIAGE_PARTNERSHIP_FILE": str(partnership),
                "TRIAGE_DB_POOL_SIZE": "20",
                # Every simulated user exchanges its tokens from this one address.
                "TRIAGE_RATE_LIMIT_TOKEN_PER_SECOND": "100000",
                "TRIAGE_RATE_LIMIT_TOKEN_BURST": "1000000",
            }
            with api_process(directory, environment, workers=args.workers) as api:
                print(
                    f"load: {args.users} users ({SUPERVISOR_SHARE:.0%} supervisors), think time {args.think} s,"
                    f" API with {args.workers} workers, partners at {PARTNER_LATENCY_MS} ms"
                )
                wall = time.monotonic()
                results = asyncio.run(
                    drive(api.base_url, api.keys_dir, args.users, args.duration, args.think)
                )
                met = report(results, time.monotonic() - wall, args.users)
    raise SystemExit(0 if met else 1)


if __name__ == "__main__":
    main()
