"""Crisis flag lookups against simulated partners over real HTTP, at 1, 8 and 32 concurrent.

Three partners (PDS, NRL, one trust) run in the partner simulator, a separate process, each
answering in 20 ms. The API runs in-process on a real PostgreSQL. Each lookup is the real route:
token check, fan-out, merge, audit event, notification, lookup record. Figures per concurrency:
lookups/s, p50, p99, and p50 as a multiple of the partner latency (the floor no design beats).
Then one partner is black-holed (it never answers): the deadline must hold and its breaker open.
Run once per httpx transport to choose by measurement:

    python bench/lookup.py --transport httpx       # httpx's own connection pool
    python bench/lookup.py --transport aiohttp     # the default: httpx on the aiohttp transport
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.settings import DEMO_PARTNERSHIP_FILE
from bench.harness import running, summary, timed_concurrently
from clients.transport import TransportKind
from tests.factories import incident_payload

PARTNER_LATENCY_MS = 20
DEADLINE_SECONDS = 2.0
PEOPLE = ["9000000009", "9000000025", "9000000033"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def partnership(directory: Path, port: int) -> Path:
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    base = f"http://127.0.0.1:{port}"
    document["partners"] = [
        {
            "name": "pds",
            "kind": "pds",
            "base_url": f"{base}/pds/FHIR/R4/",
            "rate_limit_per_second": 1000,
        },
        {
            "name": "nrl",
            "kind": "nrl",
            "base_url": f"{base}/nrl/FHIR/R4/",
            "rate_limit_per_second": 1000,
        },
        {
            "name": "trust-rqi",
            "kind": "fhir_trust",
            "organisation_code": "RQI",
            "base_url": f"{base}/trust/RQI/FHIR/R4/",
            "rate_limit_per_second": 1000,
            "max_concurrency": 64,
        },
    ]
    document["agreement"]["lookup_quotas"] = {
        "per_user_per_hour": 100_000,
        "per_organisation_per_day": 10_000_000,
        "people_per_incident": 1000,
    }
    path = directory / "partnership.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def start_simulator(directory: Path, port: int) -> subprocess.Popen[bytes]:
    faults = directory / "faults.yaml"
    latency = {"latency_ms": PARTNER_LATENCY_MS}
    faults.write_text(yaml.safe_dump({"pds": latency, "nrl": latency, "trust-RQI": latency}))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "partner-sim",
            "--port",
            str(port),
            "--faults",
            str(faults),
        ],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=0.5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the partner simulator did not start")


async def run(transport_kind: str, per_worker: int) -> None:
    with tempfile.TemporaryDirectory(prefix="triage-bench-lookup-") as directory:
        port = free_port()
        simulator = start_simulator(Path(directory), port)
        try:
            await measure(Path(directory), port, simulator.pid, transport_kind, per_worker)
        finally:
            simulator.terminate()
            simulator.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    directory: Path, port: int, simulator_pid: int, transport_kind: str, per_worker: int
) -> None:
    overrides: dict[str, Any] = {
        "partnership_file": partnership(directory, port),
        "lookup_deadline_seconds": DEADLINE_SECONDS,
        "partner_transport": TransportKind(transport_kind),
    }
    async with running(pool_size=40, settings_overrides=overrides) as bench:
        # One car per worker: its own officer and incident, as at 32 scenes at once. (One
        # officer's lookups, or one incident's, take turns by design: the quotas depend on it.)
        cars: list[tuple[str, dict[str, str]]] = []
        for car in range(32):
            subject = f"bench-officer-{car}"
            opener = await bench.token("officer", "NSP", "street-triage", subject=subject)
            created = await bench.client.post(
                "/v1/incidents",
                json=incident_payload(),
                headers={"authorization": f"Bearer {opener}"},
            )
            incident_id = created.json()["id"]
            token = await bench.token(
                "officer", "NSP", "street-triage", subject=subject, incident_id=incident_id
            )
            cars.append(
                (f"/v1/incidents/{incident_id}/flag-lookups", {"authorization": f"Bearer {token}"})
            )

        partners = bench.app.state.resources.partners

        def worker(index: int) -> Any:
            url, headers = cars[index]

            async def one() -> None:
                person = PEOPLE[index % len(PEOPLE)]
                response = await bench.client.post(
                    url, json={"nhs_number": person}, headers=headers
                )
                assert response.status_code == 200, response.text

            return one

        def fan_out(index: int) -> Any:
            """The baseline: the same three partner calls through the same adapters, nothing else."""

            async def one() -> None:
                person = PEOPLE[index % len(PEOPLE)]
                deadline = time.monotonic() + DEADLINE_SECONDS
                await asyncio.gather(
                    partners.pds.verify(person, deadline=deadline),
                    partners.nrl.crisis_plan_pointers(person, deadline=deadline),
                    partners.trusts[0].crisis_record(person, deadline=deadline),
                )

            return one

        print(
            f"lookup benchmark: transport={transport_kind}, {len(PEOPLE)} partners at {PARTNER_LATENCY_MS} ms, "
            f"deadline {DEADLINE_SECONDS} s, {per_worker} lookups per worker"
        )
        await timed_concurrently([worker(i) for i in range(8)], 10)  # warm up connections
        for concurrency in (1, 8, 32):
            for label, make in (("partners only", fan_out), ("lookup", worker)):
                cpu_before = time.process_time(), cpu_seconds(simulator_pid)
                samples, wall = await timed_concurrently(
                    [make(i) for i in range(concurrency)], per_worker
                )
                api_cpu = (time.process_time() - cpu_before[0]) / len(samples) * 1000
                sim_cpu = (cpu_seconds(simulator_pid) - cpu_before[1]) / len(samples) * 1000
                ordered = sorted(samples)
                p50 = ordered[len(ordered) // 2] * 1000
                print(
                    f"  {concurrency:2d} concurrent, {label:13s}: {len(samples) / wall:5.0f}/s  {summary(samples)}"
                    f"  p50/partner {p50 / PARTNER_LATENCY_MS:4.1f}x"
                    f"  cpu/op: this process {api_cpu:4.1f} ms, simulator {sim_cpu:4.1f} ms"
                )

        # Black-hole the trust: it never answers. The deadline holds; after five failures its
        # breaker opens and later lookups stop waiting for it.
        async with httpx.AsyncClient() as admin:
            await admin.put(f"http://127.0.0.1:{port}/_sim/faults/trust-RQI", json={"hang": True})
        samples, wall = await timed_concurrently(
            [worker(i) for i in range(8)], max(3, per_worker // 4)
        )
        metrics = (await bench.client.get("/metrics")).text
        breaker = next(
            (
                line
                for line in metrics.splitlines()
                if line.startswith('triage_partner_breaker_state{partner="trust-rqi"}')
            ),
            "",
        )
        ordered = sorted(samples)
        print(
            f"  trust black-holed, 8 concurrent: {len(samples) / wall:6.0f} lookups/s  {summary(samples)}"
            f"  max {ordered[-1] * 1000:.0f} ms (deadline {DEADLINE_SECONDS * 1000:.0f} ms); breaker gauge: {breaker.split()[-1] if breaker else '?'} (2 = open)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--transport", choices=[kind.value for kind in TransportKind], default="aiohttp"
    )
    parser.add_argument(
        "--lookups", type=int, default=40, help="lookups per worker at each concurrency"
    )
    args = parser.parse_args()
    asyncio.run(run(args.transport, args.lookups))


if __name__ == "__main__":
    main()
