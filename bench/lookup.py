"""Crisis flag lookups against simulated partners over real HTTP, at 1, 8 and 32 concurrent.

Three partners (PDS, NRL, one trust) run in the partner simulator, a separate process, each
answering in 20 ms, on a real PostgreSQL. Each lookup is the real route: token check, fan-out,
merge, audit event, notification, lookup record. The API runs in-process (driven through
httpx's ASGI transport) and then as `triage serve` in a process of its own with 1 or more uvicorn
workers (driven over real HTTP). The baseline, run at each concurrency in this process, is
**partners only**: the same three partner calls through the same adapters, nothing else.

Figures per row: lookups/s, mean, p50, p99, p50 as a multiple of the partner latency (the floor
no design beats), and CPU per operation: of the API (in-process: this whole process, load
generator included; serve: the server's process tree), `API own` (the API's CPU per lookup less
this process's CPU per partners-only fan-out at the same concurrency: what the API adds to the
three calls), PostgreSQL (its server processes and its backends on the benchmark's database),
the simulator and, served, the load generator (this process); and partner calls not answered
(deadline, open breaker), if any: such a row made fewer calls and does not compare. Then one
partner is black-holed (it never answers): the deadline must hold and its breaker open (read
from /metrics).

    python bench/lookup.py                                  # in-process, then serve with 1 worker
    python bench/lookup.py --api serve --workers 1 2        # serve only, with 1 then 2 workers
    python bench/lookup.py --api inprocess --transport httpx   # httpx's own connection pool
    python bench/lookup.py --workers 1 --profile /tmp/prof  # and py-spy the 1-worker server

With `--profile DIR`, the 32-concurrent lookup row is run once more against the 1-worker server
under `py-spy record --format raw -r 250 --subprocesses` (printed as `lookup, profiled`: py-spy
stops the server at every sample, so its figures are not the measured ones); the raw stacks go
to DIR/lookup.txt and are summarised by package (bench/profile.py). TRIAGE_DATABASE_URL, if
set, is the database; otherwise an embedded PostgreSQL is started for the run.
"""

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from httpx_aiohttp import AiohttpTransport
from pydantic import SecretStr
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.metrics import build_metrics
from api.partner_rate import rate_engine
from api.partners import Partners, build_partners
from api.partnership import load_partnership
from api.settings import DEMO_PARTNERSHIP_FILE, Environment, Settings
from bench.harness import database_url_in, exchange_token, running, summary, timed_concurrently
from bench.profile import render, summarise
from clients.errors import PartnerError
from clients.transport import TransportKind
from tests.factories import incident_payload

PARTNER_LATENCY_MS = 20
DEADLINE_SECONDS = 2.0
PEOPLE = ["9000000009", "9000000025", "9000000033"]
CONCURRENCY = (1, 8, 32)
PROFILED_CONCURRENCY = 32
SERVER_START_SECONDS = 60
# Every simulated car exchanges its tokens from this one address.
GENEROUS_RATE_LIMITS = {
    "TRIAGE_RATE_LIMIT_TOKEN_PER_SECOND": "100000",
    "TRIAGE_RATE_LIMIT_TOKEN_BURST": "1000000",
    "TRIAGE_RATE_LIMIT_ANONYMOUS_PER_SECOND": "100000",
    "TRIAGE_RATE_LIMIT_ANONYMOUS_BURST": "1000000",
}


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


def healthy_trust() -> dict[str, Any]:
    return {"latency_ms": PARTNER_LATENCY_MS}


def start_simulator(directory: Path, port: int) -> subprocess.Popen[bytes]:
    faults = directory / "faults.yaml"
    latency = healthy_trust()
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
        cwd=ROOT,
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


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process still there when read."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, rest = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        found.append((int(entry.name), int(rest.split()[1]), comm.split("(", 1)[1]))
    return found


CpuReading = dict[int, float]


def cpu_reading(pids: list[int]) -> CpuReading:
    """CPU seconds so far of each process still there when read."""
    reading = {}
    for pid in pids:
        try:
            reading[pid] = cpu_seconds(pid)
        except OSError:
            continue
    return reading


def this_process() -> CpuReading:
    return {os.getpid(): time.process_time()}


def cpu_used(before: CpuReading, after: CpuReading) -> float:
    """CPU used between two readings by the processes of the second: one started in between
    counts whole, one that exited in between is lost (a shared PostgreSQL's backends come and
    go), so the figure is never negative."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def tree_cpu(root: int) -> CpuReading:
    """A process and all its descendants (a uvicorn master and its workers)."""
    children: dict[int, list[int]] = {}
    for pid, parent, _ in _processes():
        children.setdefault(parent, []).append(pid)
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        tree.append(pid)
        queue.extend(children.get(pid, []))
    return cpu_reading(tree)


def postgres_cpu(database: str) -> CpuReading:
    """The PostgreSQL server's processes (the postmaster and its writers, checkpointer,
    autovacuum, ...) and its backends on `database`; backends on other databases serve other
    work on a shared server and are left out."""
    pids = []
    for pid, _, comm in _processes():
        if not comm.startswith("postgres"):
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # A backend's title: "postgres: [<cluster>: ]<user> <database> <client address> <state>".
        words = title.removeprefix("postgres: ").split()
        if words and words[0].endswith(":"):
            words = words[1:]
        backend = title.startswith("postgres: ") and len(words) >= 3
        backend = backend and (words[2].startswith("[local]") or "(" in words[2])
        if not backend or words[1] == database:
            pids.append(pid)
    return cpu_reading(pids)


@dataclass
class Target:
    """Where the lookups go and whose CPU is the API's."""

    name: str
    client: httpx.AsyncClient
    keys_dir: Path
    audience: str
    # The baseline's adapters, in this process, built as the API builds its own.
    partners: Partners
    api_cpu: Callable[[], CpuReading]
    metrics_headers: dict[str, str] = field(default_factory=dict)
    server_pid: int | None = None


@dataclass(frozen=True)
class Run:
    transport: str
    per_worker: int
    simulator_port: int
    simulator_pid: int
    # PostgreSQL's CPU is counted for this database's backends only.
    database: str
    profile_dir: Path | None


async def run(
    transport_kind: str,
    per_worker: int,
    modes: list[str],
    workers: list[int],
    profile_dir: Path | None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="triage-bench-lookup-") as name:
        directory = Path(name)
        database_url = await database_url_in(directory)
        port = free_port()
        simulator = start_simulator(directory, port)
        database = make_url(database_url).database or ""
        settings = Run(transport_kind, per_worker, port, simulator.pid, database, profile_dir)
        overrides: dict[str, Any] = {
            "partnership_file": partnership(directory, port),
            "lookup_deadline_seconds": DEADLINE_SECONDS,
            "partner_transport": TransportKind(transport_kind),
        }
        try:
            if "inprocess" in modes:
                async with running(
                    pool_size=40, settings_overrides=overrides, database_url=database_url
                ) as bench:
                    target = Target(
                        "in-process",
                        bench.client,
                        bench.settings.keys_dir,
                        bench.settings.token_audience,
                        bench.app.state.resources.partners,
                        this_process,
                    )
                    await measure(target, settings)
            if "serve" in modes:
                for count in workers:
                    await measure_server(directory, database_url, overrides, count, settings)
        finally:
            simulator.terminate()
            simulator.wait(timeout=10)


async def measure_server(
    directory: Path, database_url: str, overrides: dict[str, Any], workers: int, settings: Run
) -> None:
    keys_dir = directory / f"keys-serve-{workers}"
    async with (
        partner_adapters(database_url, overrides) as (partners, audience),
        serving(directory, database_url, keys_dir, overrides, workers) as server,
        httpx.AsyncClient(
            # The load generator on aiohttp too: the cheapest client there is, so it takes as
            # little as possible of the cores the server needs.
            # Idle connections are let go before uvicorn's 5 s keep-alive closes them, so no lookup
            # is sent on a connection the server is closing (a POST is not retried).
            transport=AiohttpTransport(
                limits=httpx.Limits(
                    max_connections=64, max_keepalive_connections=64, keepalive_expiry=2.0
                ),
                trust_env=False,
            ),
            base_url=server.base_url,
            timeout=httpx.Timeout(30.0),
        ) as client,
    ):
        target = Target(
            f"serve, {workers} worker{'s' if workers > 1 else ''}",
            client,
            keys_dir,
            audience,
            partners,
            lambda: tree_cpu(server.pid),
            {"authorization": f"Bearer {server.metrics_token}"},
            server.pid,
        )
        await measure(target, settings, profile=settings.profile_dir if workers == 1 else None)


@asynccontextmanager
async def partner_adapters(
    database_url: str, overrides: dict[str, Any]
) -> AsyncIterator[tuple[Partners, str]]:
    """For the baseline beside a served API: the partner adapters as the API builds them (same
    transport, same rate limiter shared through the database), with no app around them whose
    periodic work (the audit sealer above all) would run in this process. Also the audience
    the server's tokens are for."""
    app_settings = Settings(
        environment=Environment.development, database_url=SecretStr(database_url)
    ).model_copy(update=overrides)
    partnership_config = load_partnership(app_settings.partnership_path)
    rates = rate_engine(app_settings) if app_settings.partner_rate_shared else None
    partners = build_partners(
        partnership_config.partners, build_metrics(), app_settings.partner_transport, rates=rates
    )
    try:
        yield partners, app_settings.token_audience
    finally:
        await partners.close()
        if rates is not None:
            await rates.dispose()


@dataclass(frozen=True)
class Server:
    pid: int
    base_url: str
    metrics_token: str


def start_server(
    directory: Path, database_url: str, keys_dir: Path, overrides: dict[str, Any], workers: int
) -> tuple[subprocess.Popen[bytes], Server, Path]:
    """`triage serve` of the checkout this file is in, in a process of its own."""
    port = free_port()
    metrics_token = secrets.token_urlsafe(24)
    environment = os.environ | GENEROUS_RATE_LIMITS
    environment |= {
        "TRIAGE_ENVIRONMENT": "development",
        "TRIAGE_DATABASE_URL": database_url,
        "TRIAGE_KEYS_DIR": str(keys_dir),
        "TRIAGE_PARTNERSHIP_FILE": str(overrides["partnership_file"]),
        "TRIAGE_LOOKUP_DEADLINE_SECONDS": str(overrides["lookup_deadline_seconds"]),
        "TRIAGE_PARTNER_TRANSPORT": str(overrides["partner_transport"]),
        "TRIAGE_DB_POOL_SIZE": "40",
        "TRIAGE_METRICS_TOKEN": metrics_token,
        "TRIAGE_LOG_LEVEL": "WARNING",
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if workers > 1:
        # Workers add up their metrics through files here: a fresh folder per server.
        metrics_dir = Path(tempfile.mkdtemp(prefix=f"metrics-{workers}-", dir=directory))
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    log = directory / f"serve-{workers}.log"
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-migrate"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    return process, Server(process.pid, f"http://127.0.0.1:{port}", metrics_token), log


@asynccontextmanager
async def serving(
    directory: Path, database_url: str, keys_dir: Path, overrides: dict[str, Any], workers: int
) -> AsyncIterator[Server]:
    process, server, log = start_server(directory, database_url, keys_dir, overrides, workers)
    try:
        if not await _ready(process, server.base_url, workers):
            process.kill()
            raise SystemExit(f"`triage serve` did not become ready:\n{_tail(log)}")
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _ready(process: subprocess.Popen[bytes], base_url: str, workers: int) -> bool:
    deadline = time.monotonic() + SERVER_START_SECONDS
    async with httpx.AsyncClient(base_url=base_url, timeout=1.0) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    # Every worker, not just the first up, before anything is measured.
                    alive = [pid for pid, parent, _ in _processes() if parent == process.pid]
                    if workers == 1 or len(alive) >= workers:
                        return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    return False


async def open_cars(target: Target) -> list[tuple[str, dict[str, str]]]:
    """One car per worker: its own officer and incident, as at 32 scenes at once. (One officer's
    lookups, or one incident's, take turns by design: the quotas depend on it.) Each is the URL
    to post lookups to and the headers with its token."""
    client = target.client
    cars: list[tuple[str, dict[str, str]]] = []
    for car in range(max(CONCURRENCY)):
        subject = f"bench-officer-{car}"

        async def token(subject: str = subject, **form: str) -> str:
            return await exchange_token(
                client,
                target.keys_dir,
                target.audience,
                "officer",
                "NSP",
                "street-triage",
                subject=subject,
                **form,
            )

        opener = await token()
        created = await client.post(
            "/v1/incidents",
            json=incident_payload(),
            headers={"authorization": f"Bearer {opener}"},
        )
        created.raise_for_status()
        incident_id = created.json()["id"]
        cars.append(
            (
                f"/v1/incidents/{incident_id}/flag-lookups",
                {"authorization": f"Bearer {await token(incident_id=incident_id)}"},
            )
        )
    return cars


Call = Callable[[], Awaitable[None]]


def lookups(
    client: httpx.AsyncClient, cars: list[tuple[str, dict[str, str]]], missed: Counter[str]
) -> Callable[[int], Call]:
    """Worker `index` looks one person up after another in its car's incident. A source that
    did not answer is counted in `missed`: figures with partners left out are not comparable."""

    def worker(index: int) -> Call:
        url, headers = cars[index]

        async def one() -> None:
            person = PEOPLE[index % len(PEOPLE)]
            response = await client.post(url, json={"nhs_number": person}, headers=headers)
            assert response.status_code == 200, response.text
            for source in response.json().get("sources", []):
                if source.get("status") in ("unavailable", "error"):
                    missed[f"{source.get('name')} {source.get('status')}"] += 1

        return one

    return worker


def fan_outs(partners: Partners, missed: Counter[str]) -> Callable[[int], Call]:
    """The baseline: the same three partner calls through the same adapters, nothing else."""

    def fan_out(index: int) -> Call:
        async def one() -> None:
            person = PEOPLE[index % len(PEOPLE)]
            deadline = time.monotonic() + DEADLINE_SECONDS
            assert partners.pds is not None
            assert partners.nrl is not None
            answers = await asyncio.gather(
                partners.pds.verify(person, deadline=deadline),
                partners.nrl.crisis_plan_pointers(person, deadline=deadline),
                partners.trusts[0].crisis_record(person, deadline=deadline),
                return_exceptions=True,
            )
            # On a saturated machine a call can miss the deadline, as in a lookup, where it
            # becomes an "unavailable" source: counted and shown, not a crash.
            for answer in answers:
                if isinstance(answer, PartnerError):
                    missed[f"{answer.partner} {answer.reason}"] += 1
                elif isinstance(answer, BaseException):
                    raise answer

        return one

    return fan_out


async def measure(target: Target, run: Run, profile: Path | None = None) -> None:
    missed: Counter[str] = Counter()
    worker = lookups(target.client, await open_cars(target), missed)
    fan_out = fan_outs(target.partners, missed)
    serve = target.server_pid is not None
    print(
        f"lookup benchmark, API {target.name}: transport={run.transport}, {len(PEOPLE)} partners"
        f" at {PARTNER_LATENCY_MS} ms, deadline {DEADLINE_SECONDS} s,"
        f" {run.per_worker} lookups per worker"
    )
    await timed_concurrently([fan_out(i) for i in range(8)], 10)  # warm up connections
    await timed_concurrently([worker(i) for i in range(8)], 10)

    async def row(
        concurrency: int, label: str, make: Callable[[int], Call], baseline: float | None
    ) -> float:
        """Prints one row; returns the CPU per operation of the process that ran the calls."""

        def read() -> list[CpuReading]:
            return [
                this_process(),
                target.api_cpu(),
                cpu_reading([run.simulator_pid]),
                postgres_cpu(run.database),
            ]

        missed.clear()
        before = read()
        samples, wall = await timed_concurrently(
            [make(i) for i in range(concurrency)], run.per_worker
        )
        here, api, simulator, postgres = (
            cpu_used(start, end) / len(samples) * 1000
            for start, end in zip(before, read(), strict=True)
        )
        ordered = sorted(samples)
        p50 = ordered[len(ordered) // 2] * 1000
        if baseline is None:
            # The fan-out runs here, whatever the mode; the API only idles.
            cpu = f"fan-out (this process) {here:4.1f} ms"
            if serve:
                cpu += f", server idle {api:4.1f} ms"
        else:
            where = "server" if serve else "this process"
            cpu = f"{where} {api:4.1f} ms, API own {api - baseline:4.1f} ms"
        cpu += f", postgres {postgres:4.1f} ms, simulator {simulator:4.1f} ms"
        if serve and baseline is not None:
            cpu += f", load generator {here:4.1f} ms"
        if missed:
            cpu += f"; partner calls not answered: {dict(missed)}"
        print(
            f"  {concurrency:2d} concurrent, {label:16s}: {len(samples) / wall:5.0f}/s  {summary(samples)}"
            f"  p50/partner {p50 / PARTNER_LATENCY_MS:4.1f}x  cpu/op: {cpu}"
        )
        return here

    for concurrency in CONCURRENCY:
        baseline = await row(concurrency, "partners only", fan_out, None)
        await row(concurrency, "lookup", worker, baseline)
        if profile is not None and concurrency == PROFILED_CONCURRENCY:
            assert target.server_pid is not None
            async with profiling(target.server_pid, profile / "lookup.txt") as raw:
                await row(concurrency, "lookup, profiled", worker, baseline)
            print(f"  py-spy profile of the server at {concurrency} concurrent: {raw}")
            print("\n".join(f"    {line}" for line in render(summarise(raw)).splitlines()))

    await black_hole_trust(target, run, worker)


def start_py_spy(pid: int, raw: Path) -> tuple[subprocess.Popen[bytes], Path]:
    py_spy = Path(sys.executable).parent / "py-spy"
    command = str(py_spy) if py_spy.exists() else shutil.which("py-spy")
    if command is None:
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    raw.parent.mkdir(parents=True, exist_ok=True)
    log = raw.with_suffix(".log")
    with log.open("wb") as output:
        arguments = ["record", "--format", "raw", "-r", "250", "--subprocesses", "--pid", str(pid)]
        spy = subprocess.Popen(
            [command, *arguments, "-o", str(raw)], stdout=output, stderr=subprocess.STDOUT
        )
    return spy, log


@asynccontextmanager
async def profiling(pid: int, raw: Path) -> AsyncIterator[Path]:
    """py-spy on a process and its children for the length of the block; `raw` gets the stacks."""
    spy, log = start_py_spy(pid, raw)
    await asyncio.sleep(1.0)  # attached before the first lookup
    if spy.poll() is not None:
        raise SystemExit(f"py-spy did not start: {_tail(log)}")
    try:
        yield raw
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        await asyncio.to_thread(spy.wait, 30)


async def black_hole_trust(target: Target, run: Run, worker: Callable[[int], Call]) -> None:
    # Black-hole the trust: it never answers. The deadline holds; after five failures its
    # breaker opens and later lookups stop waiting for it.
    faults = f"http://127.0.0.1:{run.simulator_port}/_sim/faults/trust-RQI"
    async with httpx.AsyncClient() as admin:
        await admin.put(faults, json={"hang": True})
        try:
            samples, wall = await timed_concurrently(
                [worker(i) for i in range(8)], max(3, run.per_worker // 4)
            )
        finally:
            # The next API measured must find the trust answering again.
            await admin.put(faults, json=healthy_trust())
    response = await target.client.get("/metrics", headers=target.metrics_headers)
    response.raise_for_status()
    breaker = next(
        (
            line
            for line in response.text.splitlines()
            if line.startswith('triage_partner_breaker_state{partner="trust-rqi"}')
        ),
        "",
    )
    ordered = sorted(samples)
    print(
        f"  trust black-holed, 8 concurrent: {len(samples) / wall:6.0f} lookups/s  {summary(samples)}"
        f"  max {ordered[-1] * 1000:.0f} ms (deadline {DEADLINE_SECONDS * 1000:.0f} ms); breaker gauge: {breaker.split()[-1] if breaker else '?'} (2 = open)"
    )


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


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
    parser.add_argument(
        "--api",
        choices=["inprocess", "serve", "both"],
        default="both",
        help="run the API in this process, as `triage serve`, or both in turn (the default)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="uvicorn workers of the served API; several run in turn (e.g. --workers 1 2)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy the 1-worker server during a second 32-concurrent lookup row; "
        "raw stacks to DIR/lookup.txt, summarised by package",
    )
    args = parser.parse_args()
    modes = ["inprocess", "serve"] if args.api == "both" else [args.api]
    if args.profile is not None and ("serve" not in modes or 1 not in args.workers):
        parser.error("--profile needs the served API with 1 worker (--api serve|both, --workers 1)")
    if any(count < 1 for count in args.workers):
        parser.error("--workers must be at least 1")
    # Stopped by a signal, the simulator and server still stop with it.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    asyncio.run(run(args.transport, args.lookups, modes, args.workers, args.profile))


if __name__ == "__main__":
    main()
