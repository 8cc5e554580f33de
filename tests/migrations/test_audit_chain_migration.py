"""Migration 0006 on a database with history: earlier events are chained, oldest first, with what
they kept in details lifted into columns; the downgrade puts it back."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from api import migration
from api.audit.service import verify_chain
from api.settings import async_database_url
from models import GENESIS_HASH
from tests.database import scratch_database

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
                report = await verify_chain(connection)
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
            assert report.ok, report.problem
            assert (report.events, report.head_seq) == (3, 3)

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
