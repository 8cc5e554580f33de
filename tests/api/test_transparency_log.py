"""The audit trail as a transparency log: appends that wait for no one, sealing in commit order
within the delay, signed checkpoints, proofs checked by an independent implementation
(tests/audit/independent.py), verification that finds a changed, deleted, inserted or reordered
event, retention that keeps the tree verifiable, and witnesses that catch a rewritten log."""

import asyncio
import base64
import json
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.app import create_app
from api.audit.note import COSIGNATURE_V1, Signer, Verifier
from api.audit.repository import audit_event, record
from api.audit.sealer import LogKeys, load_log_keys_for, seal
from api.audit.service import ProblemKind, consistency_proof, purge_audit_events, verify_log
from api.audit.witness import witness
from api.migration import upgrade_async
from api.settings import Settings, async_database_url
from models import APPLICATION_ROLE, AuditAction, AuditOutcome, utcnow
from tests.api.test_cli import run_triage
from tests.audit import independent
from tests.conftest import Committing, Exchanger, bearer
from tests.database import scratch_database
from tests.factories import incident_payload
from tests.identity_provider import IdentityProvider, KeyMaterial
from tests.processes import free_port

ORIGIN = "street-triage.invalid/audit"


@pytest.fixture
async def log_url(database_server_url: str) -> AsyncIterator[str]:
    """A database of its own: nothing else writes to its log."""
    async with scratch_database(database_server_url, prefix="triage_log") as url:
        await upgrade_async(url)
        yield url


@pytest.fixture
async def log_engine(log_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(async_database_url(log_url))
    yield engine
    await engine.dispose()


@pytest.fixture
def keys(key_material: KeyMaterial) -> LogKeys:
    return load_log_keys_for(key_material.signing_keys_file, ORIGIN, f"{ORIGIN}/witness")


async def append(engine: AsyncEngine, count: int, *, ages_in_days: list[int] | None = None) -> None:
    """Events committed one transaction each; `ages_in_days` backdates them."""
    now = utcnow()
    ages = ages_in_days or [0] * count
    for age in ages:
        event = audit_event(AuditAction.token_issue, AuditOutcome.success, details={"age": age})
        event.occurred_at = now - timedelta(days=age)
        async with (
            engine.connect() as connection,
            AsyncSession(bind=connection) as session,
            session.begin(),
        ):
            await record(session, event)


async def leaves(connection: AsyncConnection) -> list[Any]:
    """Leaves in order, with the event's entry (None once purged) and seq."""
    rows = await connection.execute(
        text(
            "SELECT l.leaf_index, l.event_id, l.hash, e.seq, CASE WHEN e.id IS NULL THEN NULL"
            " ELSE convert_to(audit_event_canonical(e), 'UTF8') END AS entry"
            " FROM audit_leaf l LEFT JOIN audit_event e ON e.id = l.event_id"
            " ORDER BY l.leaf_index"
        )
    )
    return list(rows)


async def checkpoints(connection: AsyncConnection) -> list[str]:
    return list(
        (await connection.execute(text("SELECT note FROM audit_checkpoint ORDER BY tree_size")))
        .scalars()
        .all()
    )


async def tampered(connection: AsyncConnection, statement: str, **params: Any) -> None:
    """Change the log behind the application's back: as superuser, with the triggers off."""
    await connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    await connection.execute(text("ALTER TABLE audit_leaf DISABLE TRIGGER USER"))
    await connection.execute(text(statement), params)
    await connection.execute(text("ALTER TABLE audit_leaf ENABLE TRIGGER USER"))
    await connection.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))


# Sealing


async def test_sealing_makes_events_leaves_and_signs_the_tree_head(
    log_engine: AsyncEngine, keys: LogKeys
) -> None:
    await append(log_engine, 5)
    result = await seal(log_engine, keys)
    assert result is not None
    assert (result.sealed, result.tree_size) == (5, 5)
    again = await seal(log_engine, keys)
    assert again is not None
    assert (again.sealed, again.tree_size) == (0, 5)

    async with log_engine.connect() as connection:
        rows = await leaves(connection)
        notes = await checkpoints(connection)
    assert [row.leaf_index for row in rows] == [0, 1, 2, 3, 4]
    entries = [bytes(row.entry) for row in rows]
    assert [bytes(row.hash) for row in rows] == [independent.sha(b"\x00", e) for e in entries]
    body = independent.verify_signed_note(notes[-1], keys.signer.verifier.vkey)
    assert independent.checkpoint_fields(body) == (ORIGIN, 5, independent.mth(entries))


async def test_a_late_commit_is_sealed_after_the_events_that_committed_before_it(
    log_engine: AsyncEngine, keys: LogKeys
) -> None:
    """The horizon, not the seq order: the event written first and committed last is neither
    skipped nor put before events already sealed."""
    await append(log_engine, 2)
    await seal(log_engine, keys)
    async with log_engine.connect() as late, AsyncSession(bind=late) as session:
        transaction = await session.begin()
        await record(session, audit_event(AuditAction.token_issue, AuditOutcome.success))
        await append(log_engine, 3)  # written after, committed before
        early = await seal(log_engine, keys)
        assert early is not None
        assert early.tree_size == 5  # the three committed; the open one waits
        await transaction.commit()
    sealed = await seal(log_engine, keys)
    assert sealed is not None
    assert (sealed.sealed, sealed.tree_size) == (1, 6)
    async with log_engine.connect() as connection:
        rows = await leaves(connection)
        report = await verify_log(connection, keys)
    seqs = [row.seq for row in rows]
    # Written third (seq 3), committed last: leaf 5, after seqs 4, 5 and 6.
    assert seqs == [1, 2, 4, 5, 6, 3]
    assert report.ok, report.problem


async def test_a_long_transaction_in_another_database_does_not_hold_the_horizon(
    log_engine: AsyncEngine, keys: LogKeys, database_server_url: str
) -> None:
    """Transaction ids are server-wide; one running elsewhere cannot write this log's events."""
    elsewhere = create_async_engine(async_database_url(database_server_url))
    try:
        async with elsewhere.connect() as other:
            other_xid = int(
                await other.scalar(text("SELECT pg_current_xact_id()::text::bigint")) or 0
            )
            await append(log_engine, 2)
            await seal(log_engine, keys)
            async with log_engine.connect() as connection:
                horizon = await connection.scalar(text("SELECT xact_horizon FROM audit_tree_state"))
            await other.rollback()
    finally:
        await elsewhere.dispose()
    assert horizon is not None
    assert horizon > other_xid


async def test_appends_do_not_wait_for_an_open_writer(log_engine: AsyncEngine) -> None:
    """Before, a second writer queued on the chain head until the first committed."""
    async with log_engine.connect() as first, AsyncSession(bind=first) as session, session.begin():
        await record(session, audit_event(AuditAction.token_issue, AuditOutcome.success))
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(append(log_engine, 1), timeout=2)
        assert asyncio.get_running_loop().time() - started < 0.5


async def test_events_are_sealed_within_the_delay_under_load(
    committing: Committing, settings: Settings
) -> None:
    """Eight writers for three seconds, and one transaction that commits late: each event is a
    leaf within `audit_seal_delay_seconds` of its commit."""
    exchanger = committing.exchanger
    tokens = [await exchanger.token("officer", "NSP", "street-triage") for _ in range(8)]
    engine = create_async_engine(async_database_url(committing.url))
    stop = asyncio.get_running_loop().time() + 3.0
    statuses: list[int] = []

    async def writer(token: str) -> None:
        while asyncio.get_running_loop().time() < stop:
            response = await exchanger.client.post(
                "/v1/incidents", json=incident_payload(), headers=bearer(token)
            )
            statuses.append(response.status_code)

    async def late_committer() -> tuple[uuid.UUID, datetime]:
        event = audit_event(AuditAction.token_issue, AuditOutcome.success, details={"late": True})
        async with (
            engine.connect() as connection,
            AsyncSession(bind=connection) as session,
            session.begin(),
        ):
            await record(session, event)
            await asyncio.sleep(1.0)
        return event.id, datetime.now(UTC)

    try:
        results = await asyncio.gather(*(writer(token) for token in tokens), late_committer())
        late_id, committed_at = results[-1]  # type: ignore[misc]
        delay = settings.audit_seal_delay_seconds
        async with engine.connect() as connection:
            deadline = asyncio.get_running_loop().time() + delay + 1
            while asyncio.get_running_loop().time() < deadline:
                pending = await connection.scalar(
                    text(
                        "SELECT count(*) FROM audit_event e WHERE NOT EXISTS"
                        " (SELECT 1 FROM audit_leaf l WHERE l.event_id = e.id)"
                    )
                )
                await connection.commit()
                if pending == 0:
                    break
                await asyncio.sleep(0.1)
            lags = (
                await connection.execute(
                    text(
                        "SELECT e.action, extract(epoch FROM l.sealed_at - e.occurred_at) AS lag"
                        " FROM audit_event e JOIN audit_leaf l ON l.event_id = e.id"
                        " WHERE e.action = 'incident.open'"
                    )
                )
            ).all()
            late_sealed_at = await connection.scalar(
                text("SELECT sealed_at FROM audit_leaf WHERE event_id = :id"), {"id": late_id}
            )
    finally:
        await engine.dispose()
    # Past an officer's incident quota the answer is 429, and the refusal is audited too.
    assert set(statuses) <= {201, 429}
    assert statuses.count(201) >= 8
    assert len(lags) == len(statuses)
    # From before the commit (occurred_at is set first), so at least the delay from it.
    assert max(float(row.lag) for row in lags) < delay
    assert late_sealed_at is not None
    assert (late_sealed_at - committed_at).total_seconds() < delay


async def test_concurrent_writers_are_each_sealed_once_into_a_log_that_verifies(
    committing: Committing, keys: LogKeys
) -> None:
    exchanger = committing.exchanger
    officers = [await exchanger.token("officer", "NSP", "street-triage") for _ in range(10)]
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")

    async def open_incident(token: str) -> int:
        response = await exchanger.client.post(
            "/v1/incidents", json=incident_payload(), headers=bearer(token)
        )
        return response.status_code

    # Ten opens (each writes in its transaction) and ten refusals (each rolls back, then writes
    # its refusal in a transaction of its own), all at once, each on its own connection.
    statuses = await asyncio.gather(
        *(open_incident(token) for token in [*officers, *[supervisor] * 10])
    )
    assert sorted(statuses) == [201] * 10 + [403] * 10
    await sealed_size(exchanger.client, await event_count(committing.url))
    engine = create_async_engine(async_database_url(committing.url))
    try:
        async with engine.connect() as connection:
            counts = (
                await connection.execute(
                    text(
                        "SELECT (SELECT count(*) FROM audit_event) AS events,"
                        " (SELECT count(*) FROM audit_leaf) AS leaves,"
                        " (SELECT count(DISTINCT event_id) FROM audit_leaf) AS distinct_events,"
                        " (SELECT count(*) FROM audit_event WHERE action = 'access.refuse') AS refused"
                    )
                )
            ).one()
            report = await verify_log(connection, keys)
    finally:
        await engine.dispose()
    assert counts.refused == 10
    assert counts.events == counts.leaves == counts.distinct_events
    assert report.ok, report.problem


async def test_the_database_refuses_to_rewrite_the_log_even_for_its_owner(
    sealed_log: AsyncEngine,
) -> None:
    for statement in (
        "UPDATE audit_event SET reason = 'x'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "UPDATE audit_leaf SET hash = 'x'",
        "DELETE FROM audit_leaf",
        "TRUNCATE audit_tree_node",
        "UPDATE audit_checkpoint SET note = 'x'",
        "DELETE FROM audit_checkpoint",
        "DELETE FROM audit_tree_state",
        "INSERT INTO audit_tree_state (id, tree_size, xact_horizon, sealed_at)"
        " VALUES (true, 0, 0, now())",
        # Empty here, so their row triggers have nothing to refuse; their statement ones do.
        "TRUNCATE audit_log_purge",
        "TRUNCATE audit_witness_checkpoint",
    ):
        async with sealed_log.connect() as connection:
            with pytest.raises(DBAPIError, match=r"append-only|refused"):
                await connection.execute(text(statement))


async def test_the_application_role_only_appends_and_reads_the_log(
    sealed_log: AsyncEngine,
) -> None:
    for statement in (
        # Not even an insert: events are appended through audit_append, which numbers them.
        "INSERT INTO audit_event (id, seq, xact_id, occurred_at, action, outcome, data_classes,"
        " source_systems, details) VALUES (gen_random_uuid(), 999999, 1, now(), 'token.issue',"
        " 'success', '[]', '[]', '{}')",
        "UPDATE audit_event SET reason = 'x'",
        "INSERT INTO audit_leaf (leaf_index, event_id, hash, sealed_at)"
        " VALUES (99, gen_random_uuid(), 'x', now())",
        "INSERT INTO audit_tree_node (level, \"index\", hash) VALUES (9, 0, 'x')",
        "UPDATE audit_tree_state SET tree_size = 0",
        "INSERT INTO audit_checkpoint (tree_size, root_hash, note, signed_at)"
        " VALUES (99, 'x', 'x', now())",
        "INSERT INTO audit_witness_checkpoint (origin, tree_size, root_hash, note, witnessed_at)"
        " VALUES ('x', 1, 'x', 'x', now())",
    ):
        async with sealed_log.connect() as connection:
            await connection.execute(text(f"SET ROLE {APPLICATION_ROLE}"))
            with pytest.raises(DBAPIError, match="permission denied"):
                await connection.execute(text(statement))
    async with sealed_log.connect() as connection:
        await connection.execute(text(f"SET ROLE {APPLICATION_ROLE}"))
        assert await connection.scalar(text("SELECT count(*) FROM audit_leaf")) == 12
        assert await connection.scalar(text("SELECT count(*) FROM audit_checkpoint")) == 2


# Verification finds each kind of change


@pytest.fixture
async def sealed_log(log_engine: AsyncEngine, keys: LogKeys) -> AsyncEngine:
    """Twelve events in two seals, so two checkpoints beyond the empty one."""
    await append(log_engine, 7)
    await seal(log_engine, keys)
    await append(log_engine, 5)
    await seal(log_engine, keys)
    async with log_engine.connect() as connection:
        assert (await verify_log(connection, keys, batch=5)).ok
    return log_engine


async def test_a_changed_event_is_found_at_its_leaf(sealed_log: AsyncEngine, keys: LogKeys) -> None:
    async with sealed_log.begin() as connection:
        target = (await leaves(connection))[9]
        await tampered(
            connection,
            "UPDATE audit_event SET reason = 'forged' WHERE id = :id",
            id=target.event_id,
        )
        report = await verify_log(connection, keys, batch=4)
        await connection.rollback()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.at, report.problem.seq) == (
        ProblemKind.changed,
        9,
        target.seq,
    )
    assert report.leaves == 9


async def test_a_deleted_event_is_found_as_missing(sealed_log: AsyncEngine, keys: LogKeys) -> None:
    async with sealed_log.begin() as connection:
        target = (await leaves(connection))[3]
        await tampered(connection, "DELETE FROM audit_event WHERE id = :id", id=target.event_id)
        report = await verify_log(connection, keys)
        await connection.rollback()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.at) == (ProblemKind.missing, 3)


async def test_an_event_inserted_behind_the_log_is_found(
    sealed_log: AsyncEngine, keys: LogKeys
) -> None:
    async with sealed_log.begin() as connection:
        await tampered(
            connection,
            "INSERT INTO audit_event (id, seq, xact_id, occurred_at, action, outcome,"
            " data_classes, source_systems, details) VALUES (gen_random_uuid(), 4242, 1,"
            " now() - interval '1 day', 'token.issue', 'success', '[]', '[]', '{}')",
        )
        report = await verify_log(connection, keys)
        await connection.rollback()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.at) == (ProblemKind.inserted, 4242)


async def test_reordered_events_are_found(sealed_log: AsyncEngine, keys: LogKeys) -> None:
    async with sealed_log.begin() as connection:
        # Leaves 5 and 8 swap places, each keeping its own (correct) leaf hash.
        for moved, to in ((5, -1), (8, 5), (-1, 8)):
            await tampered(
                connection,
                "UPDATE audit_leaf SET leaf_index = :to WHERE leaf_index = :moved",
                moved=moved,
                to=to,
            )
        report = await verify_log(connection, keys)
        await connection.rollback()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.at) == (ProblemKind.reordered, 4)


async def test_a_tree_rebuilt_whole_no_longer_matches_the_signed_checkpoints(
    sealed_log: AsyncEngine, keys: LogKeys
) -> None:
    """Changed events, leaves and nodes rebuilt to match: only the checkpoints, signed with a key
    the database does not hold, still tell."""
    async with sealed_log.begin() as connection:
        await tampered(connection, "UPDATE audit_event SET reason = 'forged'")
        await connection.execute(text("ALTER TABLE audit_tree_node DISABLE TRIGGER USER"))
        await connection.execute(text("ALTER TABLE audit_leaf DISABLE TRIGGER USER"))
        await connection.execute(
            text(
                "UPDATE audit_leaf l SET hash = sha256('\\x00'::bytea ||"
                " convert_to(audit_event_canonical(e), 'UTF8')) FROM audit_event e"
                " WHERE e.id = l.event_id"
            )
        )
        rows = await leaves(connection)
        frontier_nodes = _nodes([bytes(row.hash) for row in rows])
        await connection.execute(text("DELETE FROM audit_tree_node"))
        for (level, index), value in frontier_nodes.items():
            await connection.execute(
                text('INSERT INTO audit_tree_node (level, "index", hash) VALUES (:l, :i, :h)'),
                {"l": level, "i": index, "h": value},
            )
        report = await verify_log(connection, keys)
        await connection.rollback()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.at) == (ProblemKind.checkpoint_mismatch, 7)


def _nodes(leaf_hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    nodes: dict[tuple[int, int], bytes] = {}
    level_hashes = leaf_hashes
    level = 0
    while len(level_hashes) > 1:
        level += 1
        level_hashes = [
            independent.sha(b"\x01", level_hashes[i], level_hashes[i + 1])
            for i in range(0, len(level_hashes) - 1, 2)
        ]
        nodes.update({(level, i): value for i, value in enumerate(level_hashes)})
    return nodes


async def test_a_checkpoint_signed_by_another_key_is_found(
    sealed_log: AsyncEngine, keys: LogKeys
) -> None:
    forger = Signer(ORIGIN, Ed25519PrivateKey.generate())
    forged = LogKeys(signer=forger, verifiers=(forger.verifier,), cosigner=None)
    await append(sealed_log, 1)
    await seal(sealed_log, forged)
    async with sealed_log.connect() as connection:
        report = await verify_log(connection, keys)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.at) == (ProblemKind.bad_signature, 13)


# Retention


async def test_purge_keeps_the_tree_and_its_proofs_verifiable(
    log_engine: AsyncEngine, keys: LogKeys
) -> None:
    await append(log_engine, 4, ages_in_days=[400, 300, 10, 200])
    await seal(log_engine, keys)
    cutoff = utcnow() - timedelta(days=100)
    async with log_engine.begin() as connection:
        assert await purge_audit_events(connection, cutoff, dry_run=True) == 2
        # The fourth is old too, but follows one still within retention: it waits for it.
        assert await purge_audit_events(connection, cutoff, dry_run=False) == 2
        assert await purge_audit_events(connection, cutoff, dry_run=False) == 0
    await seal(log_engine, keys)  # the purge's own event
    async with log_engine.connect() as connection:
        rows = await leaves(connection)
        report = await verify_log(connection, keys)
        notes = await checkpoints(connection)
        proof = await consistency_proof(connection, 4, 5)
        purge = (await connection.execute(text("SELECT * FROM audit_log_purge"))).one()
    assert report.ok, report.problem
    assert (report.leaves, report.purged_before) == (5, 2)
    assert [row.entry is None for row in rows] == [True, True, False, False, False]
    assert (purge.leaves_before, purge.events_purged) == (2, 2)
    # The consistency of the tree before and after the purge, by hashes alone.
    old_root = independent.checkpoint_fields(
        independent.verify_signed_note(notes[-2], keys.signer.verifier.vkey)
    )[2]
    new_root = independent.checkpoint_fields(
        independent.verify_signed_note(notes[-1], keys.signer.verifier.vkey)
    )[2]
    path = [base64.b64decode(value) for value in proof.consistency_path]
    assert independent.roots_from_consistency(4, 5, old_root, path) == (old_root, new_root)


async def test_triage_audit_seal_verify_and_purge(
    log_engine: AsyncEngine, log_url: str, tmp_path: Path
) -> None:
    await append(log_engine, 3, ages_in_days=[4000, 3000, 1])
    env = {"TRIAGE_ENVIRONMENT": "development", "TRIAGE_DATABASE_URL": log_url}

    sealed = run_triage("audit", "seal", cwd=tmp_path, **env)
    assert sealed.returncode == 0, sealed.stderr
    assert "sealed 3 events; tree size 3" in sealed.stdout
    verified = run_triage("audit", "verify", cwd=tmp_path, **env)
    assert verified.returncode == 0, verified.stderr
    assert "audit log OK: 3 leaves, tree size 3, checkpoints verified: 1" in verified.stdout

    # The demo agreement keeps audit events eight years: the first two are past it.
    purged = run_triage("audit", "purge", cwd=tmp_path, **env)
    assert purged.returncode == 0, purged.stderr
    assert ": 2 removed" in purged.stdout
    assert run_triage("audit", "seal", cwd=tmp_path, **env).returncode == 0
    verified = run_triage("audit", "verify", cwd=tmp_path, **env)
    assert verified.returncode == 0, verified.stderr
    assert "4 leaves" in verified.stdout
    assert "events of the first 2 leaves purged" in verified.stdout

    async with log_engine.begin() as connection:
        target = (await leaves(connection))[2]
        await tampered(
            connection, "UPDATE audit_event SET reason = 'x' WHERE id = :id", id=target.event_id
        )
    broken = run_triage("audit", "verify", cwd=tmp_path, **env)
    assert broken.returncode == 1
    assert "BROKEN: changed at 2" in broken.stderr
    # For scripts: the report as JSON on stdout, progress on stderr, the same exit status.
    as_json = run_triage("audit", "verify", "--json", "--batch", "2", cwd=tmp_path, **env)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert (report["ok"], report["problem"]["kind"], report["problem"]["at"]) == (
        False,
        "changed",
        2,
    )
    assert "triage: verified" in as_json.stderr


# Over HTTP: the checkpoint, its key, proofs


async def sealed_size(client: httpx.AsyncClient, at_least: int) -> str:
    """The latest checkpoint once it covers `at_least` leaves."""
    for _ in range(100):
        response = await client.get("/v1/audit/checkpoint")
        if response.status_code == 200 and int(response.text.split("\n")[1]) >= at_least:
            return response.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"no checkpoint of {at_least} leaves in time")


async def event_count(url: str) -> int:
    engine = create_async_engine(async_database_url(url))
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT count(*) FROM audit_event")) or 0)
    finally:
        await engine.dispose()


async def test_proofs_over_http_verify_independently(committing: Committing) -> None:
    exchanger = committing.exchanger
    client = exchanger.client
    officer = await exchanger.token("officer", "NSP", "street-triage")
    for _ in range(3):
        opened = await client.post(
            "/v1/incidents", json=incident_payload(), headers=bearer(officer)
        )
        assert opened.status_code == 201
    ig = bearer(await exchanger.token("ig_officer", "NSP", "audit"))

    key = await client.get("/v1/audit/checkpoint/key")
    assert key.status_code == 200
    assert key.headers["content-type"].startswith("text/plain")
    vkey = key.text.strip()
    first_note = await sealed_size(client, await event_count(committing.url))
    assert first_note.startswith(ORIGIN + "\n")
    first_size = independent.checkpoint_fields(independent.verify_signed_note(first_note, vkey))[1]

    listed = await client.get("/v1/audit-events", params={"action": "incident.open"}, headers=ig)
    event_id = listed.json()["items"][0]["id"]
    proved = await client.get(f"/v1/audit-events/{event_id}/proof", headers=ig)
    assert proved.status_code == 200, proved.text
    proof = proved.json()
    _, size, root = independent.checkpoint_fields(
        independent.verify_signed_note(proof["checkpoint"], vkey)
    )
    assert size == proof["tree_size"]
    entry = base64.b64decode(proof["entry"])
    assert event_id in entry.decode()
    path = [base64.b64decode(value) for value in proof["inclusion_path"]]
    assert independent.root_from_inclusion(entry, proof["leaf_index"], size, path) == root

    # Another organisation's event, or none: 404 alike.
    other = bearer(await exchanger.token("ig_officer", "RQI", "audit"))
    assert (
        await client.get(f"/v1/audit-events/{event_id}/proof", headers=other)
    ).status_code == 404
    assert (
        await client.get(f"/v1/audit-events/{uuid.uuid4()}/proof", headers=ig)
    ).status_code == 404
    assert (await client.get(f"/v1/audit-events/{event_id}/proof")).status_code == 401

    # The log grows; the later checkpoint extends the earlier one.
    await client.post("/v1/incidents", json=incident_payload(), headers=bearer(officer))
    second_note = await sealed_size(client, first_size + 1)
    first_root = independent.checkpoint_fields(first_note.split("\n\n")[0] + "\n")[2]
    _, second_size, second_root = independent.checkpoint_fields(
        independent.verify_signed_note(second_note, vkey)
    )
    consistency = await client.get(
        "/v1/audit/consistency", params={"first": first_size, "second": second_size}
    )
    assert consistency.status_code == 200, consistency.text
    hashes = [base64.b64decode(value) for value in consistency.json()["consistency_path"]]
    assert independent.roots_from_consistency(first_size, second_size, first_root, hashes) == (
        first_root,
        second_root,
    )
    too_far = await client.get(
        "/v1/audit/consistency", params={"first": 1, "second": second_size + 1000}
    )
    assert too_far.status_code == 400


async def test_a_subject_access_report_carries_a_proof_of_each_event(
    committing: Committing,
) -> None:
    exchanger = committing.exchanger
    client = exchanger.client
    person_id = uuid.uuid4()
    engine = create_async_engine(async_database_url(committing.url))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO person (id, nhs_number, created_at) VALUES (:id, '9000000033', now())"
                ),
                {"id": person_id},
            )
        for action in (AuditAction.crisis_plan_create, AuditAction.crisis_plan_read):
            async with (
                engine.connect() as connection,
                AsyncSession(bind=connection) as session,
                session.begin(),
            ):
                await record(
                    session,
                    audit_event(
                        action,
                        AuditOutcome.success,
                        actor_organisation_code="RQI",
                        person_id=person_id,
                    ),
                )
    finally:
        await engine.dispose()
    ig = bearer(await exchanger.token("ig_officer", "RQI", "audit"))
    await sealed_size(client, await event_count(committing.url))
    vkey = (await client.get("/v1/audit/checkpoint/key")).text
    report = await client.post(
        "/v1/subject-access-reports", json={"nhs_number": "9000000033"}, headers=ig
    )
    assert report.status_code == 200, report.text
    body = report.json()
    _, size, root = independent.checkpoint_fields(
        independent.verify_signed_note(body["checkpoint"], vkey)
    )
    assert len(body["events"]) == 2
    proven = {proof["event_id"]: proof for proof in body["inclusion_proofs"]}
    assert set(proven) == {event["id"] for event in body["events"]}
    for proof in proven.values():
        assert proof["tree_size"] == size
        entry = base64.b64decode(proof["entry"])
        path = [base64.b64decode(value) for value in proof["inclusion_path"]]
        assert independent.root_from_inclusion(entry, proof["leaf_index"], size, path) == root


# Witnesses


@asynccontextmanager
async def partner_log(
    settings: Settings, database_server_url: str
) -> AsyncIterator[tuple[str, str]]:
    """A partner organisation's API under a real uvicorn, on a database of its own, sealing
    every 0.2 s: (its base URL, its database URL)."""
    async with scratch_database(database_server_url, prefix="triage_partner") as url:
        await upgrade_async(url)
        app = create_app(
            settings.model_copy(
                update={
                    "database_url": SecretStr(url),
                    "audit_log_origin": "triage.rqi.example/audit",
                    "audit_seal_delay_seconds": 0.4,
                }
            )
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, name="partner-uvicorn", daemon=True)
        thread.start()
        try:
            for _ in range(200):
                if server.started:
                    break
                await asyncio.sleep(0.05)
            assert server.started, "uvicorn did not start"
            yield f"http://127.0.0.1:{port}", url
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 15)


async def rewrite_partner_log(url: str) -> None:
    """What the partner's database superuser could do: change an old event and rebuild the tree
    from nothing; the partner's sealer re-signs it with the partner's own key."""
    engine = create_async_engine(async_database_url(url))
    try:
        async with engine.begin() as connection:
            for table in ("audit_event", "audit_leaf", "audit_tree_node", "audit_checkpoint"):
                await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            await connection.execute(
                text(
                    "UPDATE audit_event SET reason = 'rewritten'"
                    " WHERE seq = (SELECT min(seq) FROM audit_event)"
                )
            )
            for table in ("audit_leaf", "audit_tree_node", "audit_checkpoint"):
                await connection.execute(text(f"DELETE FROM {table}"))
            await connection.execute(
                text("UPDATE audit_tree_state SET tree_size = 0, xact_horizon = 0")
            )
            for table in ("audit_event", "audit_leaf", "audit_tree_node", "audit_checkpoint"):
                await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    finally:
        await engine.dispose()


async def test_a_witness_cosigns_a_growing_log_and_catches_a_rewritten_one(
    settings: Settings,
    database_server_url: str,
    idp: IdentityProvider,
    log_engine: AsyncEngine,
    log_url: str,
    tmp_path: Path,
) -> None:
    cosigner = Signer("triage.nsp.example/witness", Ed25519PrivateKey.generate(), COSIGNATURE_V1)
    async with (
        partner_log(settings, database_server_url) as (base_url, partner_url),
        httpx.AsyncClient(base_url=base_url) as partner,
    ):
        exchanger = Exchanger(partner, idp)
        nurse = await exchanger.token("mh_practitioner", "RQI", "crisis-planning")
        vkey = (await partner.get("/v1/audit/checkpoint/key")).text.strip()
        assert vkey.startswith("triage.rqi.example/audit+")
        await sealed_size(partner, await event_count(partner_url))
        verifier = Verifier.parse(vkey)

        async with httpx.AsyncClient() as http, log_engine.begin() as ours:
            first = await witness(ours, http, base_url, verifier, cosigner)
        assert first.conflict is None
        assert first.previous_size is None
        assert first.cosigned is not None
        assert independent.verify_cosignature(
            first.cosigned, cosigner.name, cosigner.verifier.public_key
        )
        independent.verify_signed_note(first.cosigned, vkey)

        await partner.get("/v1/crisis-plans", headers=bearer(nurse))  # one more audited read
        await sealed_size(partner, first.tree_size + 1)
        async with httpx.AsyncClient() as http, log_engine.begin() as ours:
            grown = await witness(ours, http, base_url, verifier, cosigner)
        assert grown.conflict is None
        assert grown.previous_size == first.tree_size < grown.tree_size

        await rewrite_partner_log(partner_url)
        await asyncio.sleep(1.0)  # the partner's sealer re-seals and re-signs
        await sealed_size(partner, 1)
        env = {"TRIAGE_ENVIRONMENT": "development", "TRIAGE_DATABASE_URL": log_url}
        caught = await asyncio.to_thread(
            run_triage, "audit", "witness", base_url, "--vkey", vkey, cwd=tmp_path, **env
        )
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert "CONFLICT in triage.rqi.example/audit's log" in caught.stderr
    async with log_engine.connect() as connection:
        recorded = (
            await connection.execute(
                text(
                    "SELECT action, outcome, details FROM audit_event"
                    " WHERE action LIKE 'audit.witness%' ORDER BY seq"
                )
            )
        ).all()
        kept = (
            await connection.execute(text("SELECT count(*) FROM audit_witness_checkpoint"))
        ).scalar_one()
    assert [(row.action, row.outcome) for row in recorded] == [
        ("audit.witness", "success"),
        ("audit.witness", "success"),
        ("audit.witness_conflict", "failed"),
    ]
    assert recorded[-1].details["previous_size"] == grown.tree_size
    assert kept == 2
