"""Real PostgreSQL for the tests: the server named by TRIAGE_TEST_DATABASE_URL, or an embedded one."""

import os
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg
from sqlalchemy.engine import URL, make_url

TEST_DATABASE_ENV = "TRIAGE_TEST_DATABASE_URL"


@contextmanager
def database_server() -> Iterator[str]:
    """A URL of a database on a server the tests may create databases on."""
    configured = os.environ.get(TEST_DATABASE_ENV)
    if configured:
        yield configured
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server  # noqa: PLC0415 - only when needed

    pgdata = tempfile.mkdtemp(prefix="triage-test-pg-")
    server = get_server(pgdata, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str = "triage_test") -> AsyncIterator[str]:
    """A new, empty database on the server, dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_libpq(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _libpq(server_url, database=name)
    finally:
        admin = await asyncpg.connect(_libpq(server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _libpq(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    return URL.create(
        drivername="postgresql",
        username=parsed.username,
        password=parsed.password or None,
        host=parsed.host,
        port=parsed.port,
        database=database or parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)
