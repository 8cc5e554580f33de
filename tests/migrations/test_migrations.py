"""Migrations: a real round trip, and no drift between the models and the migration files."""

import asyncio
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

import models
from api import migration
from api.settings import async_database_url
from tests.database import scratch_database

EXPECTED_TABLES = {
    "alembic_version",
    "organisation",
    "user_account",
    "incident",
    "issued_token",
    "revoked_token",
    "audit_event",
    "break_glass_review",
    "flag_lookup",
    "access_notification",
}


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(async_database_url(url))
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def test_upgrade_downgrade_upgrade(database_server_url: str) -> None:
    async with scratch_database(database_server_url, prefix="triage_migrate") as url:
        await migration.upgrade_async(url)
        assert await _tables(url) >= EXPECTED_TABLES

        await asyncio.to_thread(migration.downgrade, url, "base")
        assert await _tables(url) == {"alembic_version"}

        await migration.upgrade_async(url)
        assert await _tables(url) >= EXPECTED_TABLES


async def test_concurrent_upgrades_take_turns(database_server_url: str) -> None:
    # Replicas starting together each run `triage serve`, which migrates first.
    # Alembic's context is process-global, so each replica is a process of its own, as in production.
    async with scratch_database(database_server_url, prefix="triage_race") as url:
        code = "import sys; from api.migration import upgrade; upgrade(sys.argv[1])"
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", code, url, stderr=asyncio.subprocess.PIPE
            )
            for _ in range(4)
        ]
        results = [await process.communicate() for process in processes]
        failures = [
            err.decode()
            for process, (_, err) in zip(processes, results, strict=True)
            if process.returncode
        ]
        assert failures == []
        assert await _tables(url) >= EXPECTED_TABLES


async def test_every_revision_steps_down_and_up(database_server_url: str) -> None:
    script = ScriptDirectory(str(migration.MIGRATIONS_DIR))
    revisions = [rev.revision for rev in script.walk_revisions("base", "heads")]
    assert revisions, "no migrations found"
    async with scratch_database(database_server_url, prefix="triage_steps") as url:
        for revision in reversed(revisions):
            await migration.upgrade_async(url, revision)
        for revision in revisions:
            down = script.get_revision(revision).down_revision
            await asyncio.to_thread(migration.downgrade, url, str(down) if down else "base")
        assert await _tables(url) == {"alembic_version"}


async def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, models.metadata))

    engine = create_async_engine(async_database_url(database_url))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


def test_single_head() -> None:
    script = ScriptDirectory(str(migration.MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1
    assert migration.head_revision() == script.get_current_head()
