"""Migrations of the audit trail on a database with history. 0006: earlier events are chained,
oldest first, with what they kept in details lifted into columns; the downgrade puts it back.
0014: the chained events become the log's first leaves, in chain order, and still verify; the
downgrade chains the events written since onto the chain."""

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api import migration
from api.audit.repository import audit_event, record
from api.audit.sealer import load_log_keys_for, seal
from api.audit.service import verify_log
from api.settings import async_database_url
from models import GENESIS_HASH, AuditAction, AuditOutcome
from tests.audit import independent
from tests.database import scratch_database
from tests.identity_provider import KeyMaterial


async def chain_links(connection: AsyncConnection) -> list[Any]:
    """The chain in seq order, each link checked here: SHA-256 of the previous hash and the
    event's canonical text, as migration 0006 defines it."""
    rows = (
        await connection.execute(
            text(
                "SELECT seq, prev_hash, hash, audit_event_canonical(audit_event) AS canonical"
                " FROM audit_event ORDER BY seq"
            )
        )
    ).all()
    previous = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        assert row.seq == expected_seq
        assert row.prev_hash == previous
        assert row.hash == hashlib.sha256((previous + row.canonical).encode()).hexdigest()
        previous = row.hash
    return list(rows)


PERSON = uuid.uuid4()
EARLIER = [
    ("token.issue", {"scope": "incident:open"}),
    (
        "crisis_flag.lookup",
        {
            "lookup_id": str(uuid.uuid4()),
            "person_id": str(PERSON),
            "data_classes": ["crisis_flag", "crisis_contact"],
            "sources": {"pds": "found", "nrl": "not_found"},
        },
    ),
    ("crisis_plan.read", {"plan_id": str(uuid.uuid4()), "person_id": str(PERSON), "revision": 1}),
]


async def test_earlier_events_are_chained_and_lifted_and_put_back(database_server_url: str) -> None:
    async with scratch_database(database_server_url, prefix="triage_chain_mig") as url:
        await migration.upgrade_async(url, "0005_crisis_plan")
        engine = create_async_engine(async_database_url(url))
        try:
            start = datetime(2026, 11, 1, tzinfo=UTC)
            async with engine.begin() as connection:
                for minutes, (action, details) in enumerate(EARLIER):
                    await connection.execute(
                        text(
                            "INSERT INTO audit_event (id, occurred_at, action, outcome, details)"
                            " VALUES (:id, :at, :action, 'success', CAST(:details AS jsonb))"
                        ),
                        {
                            "id": uuid.uuid4(),
                            "at": start + timedelta(minutes=minutes),
                            "action": action,
                            "details": json.dumps(details),
                        },
                    )

            await migration.upgrade_async(url, "0006_audit_chain")
            async with engine.begin() as connection:
                rows = (
                    await connection.execute(
                        text(
                            "SELECT seq, prev_hash, action, person_id, data_classes,"
                            " source_systems, details FROM audit_event ORDER BY seq"
                        )
                    )
                ).all()
                links = await chain_links(connection)
            assert [(row.seq, row.action) for row in rows] == [
                (1, "token.issue"),
                (2, "crisis_flag.lookup"),
                (3, "crisis_plan.read"),
            ]
            assert rows[0].prev_hash == GENESIS_HASH
            lookup, read = rows[1], rows[2]
            assert (lookup.person_id, read.person_id) == (PERSON, PERSON)
            assert lookup.data_classes == ["crisis_flag", "crisis_contact"]
            assert lookup.source_systems == ["nrl", "pds"]
            assert "person_id" not in lookup.details
            assert "data_classes" not in lookup.details
            assert lookup.details["sources"] == {"pds": "found", "nrl": "not_found"}
            assert len(links) == 3

            await asyncio.to_thread(migration.downgrade, url, "0005_crisis_plan")
            async with engine.begin() as connection:
                restored = (
                    await connection.execute(text("SELECT details FROM audit_event"))
                ).scalars()
                assert sorted(
                    json.dumps(details, sort_keys=True) for details in restored
                ) == sorted(json.dumps(details, sort_keys=True) for _, details in EARLIER)
        finally:
            await engine.dispose()


async def test_chained_events_become_the_first_leaves_and_the_downgrade_chains_new_ones(
    database_server_url: str, key_material: KeyMaterial
) -> None:
    keys = load_log_keys_for(key_material.signing_keys_file, "a.example/audit", "a.example/w")
    async with scratch_database(database_server_url, prefix="triage_log_mig") as url:
        await migration.upgrade_async(url, "0013_browser_sign_in")
        engine = create_async_engine(async_database_url(url))

        async def write(count: int) -> None:
            for number in range(count):
                async with (
                    engine.connect() as connection,
                    AsyncSession(bind=connection) as session,
                    session.begin(),
                ):
                    await record(
                        session,
                        audit_event(
                            AuditAction.token_issue, AuditOutcome.success, details={"n": number}
                        ),
                    )

        try:
            await write(4)  # through the chain head, as before
            async with engine.connect() as connection:
                chained = await chain_links(connection)

            await migration.upgrade_async(url)
            await write(2)  # through the log, with no lock
            result = await seal(engine, keys)
            assert result is not None
            assert result.tree_size == 6
            async with engine.connect() as connection:
                leaves = (
                    await connection.execute(
                        text(
                            "SELECT e.seq, convert_to(audit_event_canonical(e), 'UTF8') AS entry"
                            " FROM audit_leaf l JOIN audit_event e ON e.id = l.event_id"
                            " ORDER BY l.leaf_index"
                        )
                    )
                ).all()
                note = (
                    await connection.execute(text("SELECT note FROM audit_checkpoint"))
                ).scalar_one()
                report = await verify_log(connection, keys)
            assert report.ok, report.problem
            # The chained events first, in chain order, their entries the text their hashes cover.
            assert [row.seq for row in leaves[:4]] == [1, 2, 3, 4]
            assert [bytes(row.entry).decode() for row in leaves[:4]] == [
                link.canonical for link in chained
            ]
            body = independent.verify_signed_note(note, keys.signer.verifier.vkey)
            assert independent.checkpoint_fields(body)[1:] == (
                6,
                independent.mth([bytes(row.entry) for row in leaves]),
            )

            await asyncio.to_thread(migration.downgrade, url, "0013_browser_sign_in")
            async with engine.connect() as connection:
                rechained = await chain_links(connection)
                head = (
                    await connection.execute(text("SELECT seq, hash FROM audit_chain_head"))
                ).one()
            assert [link.hash for link in rechained[:4]] == [link.hash for link in chained]
            assert (head.seq, head.hash) == (6, rechained[-1].hash)
            await write(1)  # the chain works again
            async with engine.connect() as connection:
                assert len(await chain_links(connection)) == 7
        finally:
            await engine.dispose()
