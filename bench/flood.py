"""Lookups while anonymous requests flood the API: does traffic without a token slow the officers?

Real processes: the API as `triage serve` (one uvicorn worker, as by default), the partner simulator
answering in 20 ms per partner, this process driving steady lookups (8 triage cars, each its own
officer and incident, each starting a lookup every `--interval` seconds on the API's 127.0.0.1), and
a flood process sending `--rate` anonymous requests a second from 127.0.0.2 (another client address
on loopback): data routes without a token or with a garbage one, and token exchanges with a garbage
identity token. The flood is bounded in time and in connections, and stops by itself.

Three phases of `--duration` seconds in one run: lookups alone (baseline), lookups with the flood,
lookups alone again (to see drift). It prints lookup p50/p99 per phase and the change in p99, the
flood's answers (401 counted, 429 rate limited, 400 token refusals), what the flood added to the
audit chain, and CPU: of the machine, the API process and the flood process. Target: the flood
moves lookup p99 by no more than 10%.

    python bench/flood.py                                   # embedded PostgreSQL
    python bench/flood.py --rate 1000 --duration 30 --interval 0.25
    TRIAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/triage_flood python bench/flood.py
"""

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.settings import libpq_database_url
from tests.factories import incident_payload
from tests.processes import (
    GENEROUS_QUOTAS,
    api_process,
    exchange_form,
    simulated_partnership,
    simulator_process,
)

PARTNER_LATENCY_MS = 20
CARS = 8
PEOPLE = ["9000000009", "9000000025", "9000000033"]
FLOOD_ADDRESS = "127.0.0.2"
FLOOD_CONNECTIONS = 64
TARGET_P99_CHANGE = 0.10


# --- the flood: its own process, raw HTTP/1.1 over keep-alive connections --------------------------


def _flood_requests(host: str) -> list[bytes]:
    """What an anonymous caller sends: no token, a garbage token, a garbage identity token."""
    form = (
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=x"
        "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&purpose=street-triage"
    )
    requests = []
    for _ in range(8):
        requests.append(
            f"GET /v1/incidents/{uuid.uuid4()} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        )
    requests.append(
        f"GET /v1/notifications HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer garbage\r\n\r\n".encode()
    )
    requests.append(
        f"POST /v1/token HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(form)}\r\n\r\n"
        f"{form}".encode()
    )
    return requests


async def _read_status(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _flood(port: int, rate: float, seconds: float) -> dict[str, int]:
    statuses: Counter[str] = Counter()
    requests = _flood_requests(f"127.0.0.1:{port}")
    per_connection = rate / FLOOD_CONNECTIONS
    started = time.monotonic()
    stop = started + seconds

    async def connection(index: int) -> None:
        rng = random.Random(index)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=(FLOOD_ADDRESS, 0)
        )
        # Open loop on a fixed schedule; a late answer is not made up for past the connection's
        # one request in flight, so the rate sent is at most `rate`.
        due = started + index / rate
        try:
            while True:
                now = time.monotonic()
                if now >= stop:
                    return
                if due > now:
                    await asyncio.sleep(due - now)
                due = max(due + 1 / per_connection, time.monotonic() - 1 / per_connection)
                writer.write(rng.choice(requests))
                try:
                    statuses[str(await asyncio.wait_for(_read_status(reader), 5))] += 1
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
                    statuses[type(exc).__name__] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", port, local_addr=(FLOOD_ADDRESS, 0)
                    )
        finally:
            writer.close()

    await asyncio.gather(*(connection(index) for index in range(FLOOD_CONNECTIONS)))
    statuses["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    return dict(statuses)


def flood_process(
    port: int, rate: float, seconds: float, results: "multiprocessing.Queue[dict[str, int]]"
) -> None:
    results.put(asyncio.run(_flood(port, rate, seconds)))


# --- measuring -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Phase:
    name: str
    samples: list[float]
    errors: Counter[str]
    wall: float
    machine: float  # share of all CPUs busy
    api_cpu: float  # cores used by the API process
    flood_cpu: float
    flood: dict[str, int]
    chain_growth: int

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else 0.0


async def prepare_cars(
    client: httpx.AsyncClient, keys_dir: Path
) -> list[tuple[str, dict[str, str]]]:
    cars = []
    for _ in range(CARS):
        opener = (
            await client.post(
                "/v1/token", data=exchange_form(keys_dir, "officer", "NSP", "street-triage")
            )
        ).json()["access_token"]
        created = await client.post(
            "/v1/incidents", json=incident_payload(), headers={"authorization": f"Bearer {opener}"}
        )
        created.raise_for_status()
        incident_id = created.json()["id"]
        bound = await client.post(
            "/v1/token",
            data=exchange_form(
                keys_dir, "officer", "NSP", "street-triage", incident_id=incident_id
            ),
        )
        bound.raise_for_status()
        cars.append(
            (
                f"/v1/incidents/{incident_id}/flag-lookups",
                {"authorization": f"Bearer {bound.json()['access_token']}"},
            )
        )
    return cars


async def drive_lookups(
    client: httpx.AsyncClient,
    cars: list[tuple[str, dict[str, str]]],
    seconds: float,
    interval: float,
) -> tuple[list[float], Counter[str]]:
    samples: list[float] = []
    errors: Counter[str] = Counter()
    stop = time.monotonic() + seconds

    async def car(index: int) -> None:
        url, headers = cars[index]
        due = time.monotonic() + index * interval / len(cars)
        while True:
            now = time.monotonic()
            if now >= stop:
                return
            if due > now:
                await asyncio.sleep(due - now)
            due += interval
            started = time.perf_counter()
            try:
                response = await client.post(
                    url, json={"nhs_number": PEOPLE[index % len(PEOPLE)]}, headers=headers
                )
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            if response.status_code != 200:
                errors[str(response.status_code)] += 1
                continue
            samples.append(time.perf_counter() - started)

    await asyncio.gather(*(car(index) for index in range(len(cars))))
    return samples, errors


async def chain_seq(database_url: str) -> int:
    connection = await asyncpg.connect(libpq_database_url(database_url))
    try:
        return int(await connection.fetchval("SELECT count(*) FROM audit_event"))
    finally:
        await connection.close()


async def phase(
    name: str,
    client: httpx.AsyncClient,
    cars: list[tuple[str, dict[str, str]]],
    *,
    api_pid: int,
    port: int,
    database_url: str,
    seconds: float,
    interval: float,
    rate: float,
) -> Phase:
    seq_before = await chain_seq(database_url)
    flood: multiprocessing.Process | None = None
    results: multiprocessing.Queue[dict[str, int]] = multiprocessing.Queue()
    if rate > 0:
        flood = multiprocessing.Process(target=flood_process, args=(port, rate, seconds, results))
        flood.start()
        await asyncio.sleep(0.2)  # its connections open before the lookups are timed
    busy, total = machine_busy()
    api_before = cpu_seconds(api_pid)
    flood_before = cpu_seconds(flood.pid) if flood and flood.pid else 0.0
    started = time.monotonic()
    samples, errors = await drive_lookups(client, cars, seconds, interval)
    wall = time.monotonic() - started
    busy_after, total_after = machine_busy()
    api_cpu = (cpu_seconds(api_pid) - api_before) / wall
    flood_cpu = 0.0
    flooded: dict[str, int] = {}
    if flood is not None:
        assert flood.pid is not None
        flood_cpu = (cpu_seconds(flood.pid) - flood_before) / wall
        flooded = await asyncio.to_thread(results.get, True, seconds + 30)
        flood.join(timeout=30)
    return Phase(
        name=name,
        samples=samples,
        errors=errors,
        wall=wall,
        machine=(busy_after - busy) / max(1, total_after - total),
        api_cpu=api_cpu,
        flood_cpu=flood_cpu,
        flood=flooded,
        chain_growth=await chain_seq(database_url) - seq_before,
    )


def print_phase(result: Phase) -> None:
    ordered = result.samples
    print(
        f"  {result.name:22s} lookups {len(ordered):5d} ({len(ordered) / result.wall:5.1f}/s)"
        f"  p50 {result.percentile(0.5):6.1f} ms  p99 {result.percentile(0.99):6.1f} ms"
        f"  mean {statistics.fmean(ordered) * 1000 if ordered else 0:6.1f} ms  errors {dict(result.errors) or 0}"
    )
    print(
        f"  {'':22s} CPU: machine {result.machine:4.0%} of 2 cores, API process {result.api_cpu:4.2f} cores,"
        f" flood process {result.flood_cpu:4.2f} cores; audit chain +{result.chain_growth} events"
    )
    if result.flood:
        answered = {key: value for key, value in result.flood.items() if key != "elapsed_ms"}
        sent = sum(answered.values())
        shares = ", ".join(
            f"{key}: {value} ({value / sent:.0%})" for key, value in sorted(answered.items())
        )
        print(
            f"  {'':22s} flood: {sent} requests in {result.flood['elapsed_ms'] / 1000:.1f} s"
            f" ({sent * 1000 / result.flood['elapsed_ms']:.0f}/s) -> {shares}"
        )


@contextmanager
def database(directory: Path) -> Iterator[str]:
    configured = os.environ.get("TRIAGE_DATABASE_URL")
    if configured:
        yield configured
        return
    from api.embedded import start_embedded_postgres

    yield start_embedded_postgres(directory / "pgdata")


async def measure(
    base_url: str, keys_dir: Path, api_pid: int, database_url: str, args: argparse.Namespace
) -> bool:
    port = int(base_url.rsplit(":", 1)[1])
    limits = httpx.Limits(max_connections=CARS * 2, max_keepalive_connections=CARS * 2)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, limits=limits, trust_env=False
    ) as client:
        cars = await prepare_cars(client, keys_dir)
        await drive_lookups(client, cars, 5, args.interval)  # warm up
        common = {
            "api_pid": api_pid,
            "port": port,
            "database_url": database_url,
            "seconds": args.duration,
            "interval": args.interval,
        }
        print(
            f"flood: {CARS} cars each starting a lookup every {args.interval} s, partners at"
            f" {PARTNER_LATENCY_MS} ms; flood {args.rate:.0f}/s from {FLOOD_ADDRESS};"
            f" {args.duration:.0f} s a phase"
        )
        phases = []
        for name, rate in (
            ("without flood", 0.0),
            ("with flood", args.rate),
            ("without flood, after", 0.0),
        ):
            result = await phase(name, client, cars, rate=rate, **common)
            print_phase(result)
            phases.append(result)
    baseline, flooded = phases[0].percentile(0.99), phases[1].percentile(0.99)
    change = flooded / baseline - 1 if baseline else float("inf")
    met = change <= TARGET_P99_CHANGE
    print(
        f"  lookup p99 {baseline:.1f} ms -> {flooded:.1f} ms with the flood: {change:+.0%}"
        f" (target at most +{TARGET_P99_CHANGE:.0%}): {'met' if met else 'NOT met'}"
    )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="anonymous requests a second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds a phase")
    parser.add_argument(
        "--interval", type=float, default=0.25, help="seconds between a car's lookups"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="triage-flood-") as name:
        directory = Path(name)
        faults = directory / "faults.yaml"
        latency = {"latency_ms": PARTNER_LATENCY_MS}
        faults.write_text(
            yaml.safe_dump(
                {"pds": latency, "nrl": latency, "trust-RQI": latency, "trust-Y05868": latency}
            )
        )
        with simulator_process(directory, faults) as simulator, database(directory) as database_url:
            partnership = simulated_partnership(
                directory, simulator, quotas=GENEROUS_QUOTAS, max_concurrency=64
            )
            environment = {
                "TRIAGE_DATABASE_URL": database_url,
                "TRIAGE_PARTNERSHIP_FILE": str(partnership),
                "TRIAGE_DB_POOL_SIZE": "20",
            }
            with api_process(directory, environment) as api:
                met = asyncio.run(
                    measure(api.base_url, api.keys_dir, api.process.pid, database_url, args)
                )
    raise SystemExit(0 if met else 1)


if __name__ == "__main__":
    main()
