"""Faults with real processes: the API as `triage serve` in a process of its own, the partner
simulator in another, and a PostgreSQL of this test's own, stopped and started again under a
stream of lookups and writes.

What is promised: while the database is down the API answers 503 problem+json, never a 500 or a
hang; it recovers without a restart; no acknowledged write or audit event is lost. A partner whose
latency spikes, one that drops the connection mid-answer, and one that drips its answer slowly
never hold a lookup past its deadline.
"""

import asyncio
import subprocess
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.settings import libpq_database_url
from tests.factories import incident_payload
from tests.processes import GENEROUS_QUOTAS, api_process, exchange_form, simulated_partnership
from tests.sim import test_simulator

running_simulator = test_simulator.running_simulator

DEADLINE_SECONDS = 1.5
KNOWN_TO_RQI = "9000000009"

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.postgres_server import PostgresServer, get_server


@dataclass
class OwnPostgres:
    """A PostgreSQL server for this test alone, so it can be stopped without harming others."""

    server: PostgresServer

    @property
    def url(self) -> str:
        admin: str = self.server.get_uri()
        return admin.replace("/postgres?", "/triage?", 1)

    def stop(self) -> None:
        # "fast": sessions are ended at once, as in a crash or a failover, mid-transaction.
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "pg_ctl"),
                "-D",
                str(self.server.pgdata),
                "-w",
                "-m",
                "fast",
                "stop",
            ],
            user=self.server.system_user,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    server = get_server(tempfile.mkdtemp(prefix="triage-fault-pg-"), cleanup_mode="delete")
    try:
        yield OwnPostgres(server)
    finally:
        server.cleanup()


@dataclass
class Api:
    base_url: str
    keys_dir: Path
    process: subprocess.Popen[bytes]

    async def token(self, client: httpx.AsyncClient, role: str, org: str, **form: str) -> str:
        form_data = exchange_form(self.keys_dir, role, org, "street-triage", **form)
        response = await client.post("/v1/token", data=form_data)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


@pytest.fixture
async def api(own_postgres: OwnPostgres, running_simulator: str) -> AsyncIterator[Api]:
    directory = Path(tempfile.mkdtemp(prefix="triage-fault-api-"))
    admin = await asyncpg.connect(own_postgres.server.get_uri())
    try:
        await admin.execute('CREATE DATABASE "triage"')
    finally:
        await admin.close()
    partnership = simulated_partnership(
        directory, running_simulator, quotas=GENEROUS_QUOTAS, timeout_seconds=1.0
    )
    environment = {
        "TRIAGE_DATABASE_URL": libpq_database_url(own_postgres.url),
        "TRIAGE_PARTNERSHIP_FILE": str(partnership),
        "TRIAGE_LOOKUP_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
        "TRIAGE_DB_POOL_TIMEOUT_SECONDS": "2",
        "TRIAGE_DB_CONNECT_TIMEOUT_SECONDS": "2",
    }
    with api_process(directory, environment) as served:
        yield Api(served.base_url, served.keys_dir, served.process)


@dataclass
class Answer:
    kind: str
    status: int
    content_type: str
    body: Any
    request_id: str
    at: float


@dataclass
class Stream:
    answers: list[Answer] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def _keep_asking(
    stream: Stream, client: httpx.AsyncClient, kind: str, url: str, body: Any, token: str
) -> None:
    while not stream.stop.is_set():
        try:
            response = await client.post(
                url,
                json=body() if callable(body) else body,
                headers={"authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as exc:  # a hang or a dropped connection is a failure too
            stream.answers.append(Answer(kind, 0, "", repr(exc), "", time.monotonic()))
            continue
        stream.answers.append(
            Answer(
                kind,
                response.status_code,
                response.headers.get("content-type", ""),
                response.json() if response.content else None,
                response.headers["x-request-id"],
                time.monotonic(),
            )
        )


async def test_the_database_stops_and_starts_under_a_stream_of_work(
    api: Api, own_postgres: OwnPostgres
) -> None:
    async with httpx.AsyncClient(base_url=api.base_url, trust_env=False, timeout=20) as client:
        opener = await api.token(client, "officer", "NSP")
        created = await client.post(
            "/v1/incidents", json=incident_payload(), headers={"authorization": f"Bearer {opener}"}
        )
        assert created.status_code == 201
        incident_id = created.json()["id"]
        bound = await api.token(client, "officer", "NSP", incident_id=incident_id)

        stream = Stream()
        workers = [
            asyncio.create_task(
                _keep_asking(
                    stream,
                    client,
                    "lookup",
                    f"/v1/incidents/{incident_id}/flag-lookups",
                    {"nhs_number": KNOWN_TO_RQI},
                    bound,
                )
            )
            for _ in range(3)
        ] + [
            asyncio.create_task(
                _keep_asking(stream, client, "write", "/v1/incidents", incident_payload, opener)
            )
            for _ in range(3)
        ]
        started = time.monotonic()
        await asyncio.sleep(2)
        stopping_at = time.monotonic()
        await asyncio.to_thread(own_postgres.stop)
        await asyncio.sleep(2.5)
        down = await client.get("/readyz")
        await asyncio.to_thread(own_postgres.start)
        restarted_at = time.monotonic()
        await asyncio.sleep(3)
        stream.stop.set()
        await asyncio.gather(*workers)

    assert api.process.poll() is None, "the API process must not have been restarted"
    assert down.status_code == 503
    answers = stream.answers
    statuses = {answer.status for answer in answers}
    unexpected = [a for a in answers if a.status not in (200, 201, 503)]
    assert not unexpected, [(a.kind, a.status, a.body) for a in unexpected[:5]]
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable, f"the outage was never felt: {statuses}"
    for answer in unavailable:
        assert answer.content_type.startswith("application/problem+json")
        assert answer.body["type"].endswith("/database-unavailable")
        assert stopping_at <= answer.at <= restarted_at + 5
    # Recovered without a restart: both kinds of work succeed again after the database is back.
    after = [a for a in answers if a.at > restarted_at + 1]
    assert {a.kind for a in after if a.status in (200, 201)} == {"lookup", "write"}
    assert all(a.status in (200, 201) for a in after[-6:])
    before = [a for a in answers if started < a.at < stopping_at]
    assert before
    assert all(a.status in (200, 201) for a in before)

    # Nothing acknowledged is lost: every 2xx left its record and its audit event.
    acknowledged = [a for a in answers if a.status in (200, 201)]
    connection = await asyncpg.connect(
        own_postgres.server.get_uri().replace("/postgres?", "/triage?")
    )
    try:
        incidents = {str(row["id"]) for row in await connection.fetch("SELECT id FROM incident")}
        lookups = {str(row["id"]) for row in await connection.fetch("SELECT id FROM flag_lookup")}
        audited = {
            row["request_id"]
            for row in await connection.fetch("SELECT DISTINCT request_id FROM audit_event")
        }
    finally:
        await connection.close()
    for answer in acknowledged:
        if answer.kind == "write":
            assert answer.body["id"] in incidents
        else:
            assert answer.body["lookup_id"] in lookups
        assert answer.request_id in audited
    assert len([a for a in acknowledged if a.kind == "write"]) + 1 == len(incidents)


@pytest.mark.parametrize(
    ("partner", "fault"),
    [
        ("trust-RQI", {"latency_ms": 5000}),
        ("nrl", {"reset": True}),
        ("pds", {"drip_bytes_per_second": 20}),
        ("trust-RQI", {"hang": True}),
    ],
    ids=["latency-spike", "reset-mid-answer", "slow-drip", "hang"],
)
async def test_a_misbehaving_partner_never_holds_a_lookup_past_its_deadline(
    api: Api, running_simulator: str, partner: str, fault: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=api.base_url, trust_env=False, timeout=20) as client:
        opener = await api.token(client, "officer", "NSP")
        created = await client.post(
            "/v1/incidents", json=incident_payload(), headers={"authorization": f"Bearer {opener}"}
        )
        incident_id = created.json()["id"]
        bound = await api.token(client, "officer", "NSP", incident_id=incident_id)
        faults = await client.put(f"{running_simulator}/_sim/faults/{partner}", json=fault)
        assert faults.status_code == 200, faults.text
        slowest = 0.0
        for _ in range(4):
            started = time.monotonic()
            response = await client.post(
                f"/v1/incidents/{incident_id}/flag-lookups",
                json={"nhs_number": KNOWN_TO_RQI},
                headers={"authorization": f"Bearer {bound}"},
            )
            slowest = max(slowest, time.monotonic() - started)
            assert response.status_code == 200, response.text
            answer = response.json()
            sources = {source["name"]: source["status"] for source in answer["sources"]}
            assert sources[partner.lower()] in ("unavailable", "error")
            # The others still answered: the fault is confined to its partner.
            assert [name for name, status in sources.items() if status == "found"]
            assert answer["known_to_services"] in ("yes", "unknown")
    # The deadline is the officer's whole wait, over real HTTP, recording included.
    assert slowest < DEADLINE_SECONDS + 0.3, slowest
