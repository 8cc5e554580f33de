"""An embedded PostgreSQL server (the `pgserver` wheel) for machines that have none installed."""

import asyncio
import logging
import warnings
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from api.settings import libpq_database_url

DATABASE_NAME = "triage"

logger = logging.getLogger(__name__)


def start_embedded_postgres(pgdata: Path, *, stop_at_exit: bool = True) -> str:
    """Start (or join) the embedded server in `pgdata`; return the URL of the `triage` database.

    The data directory persists, so data survives restarts. With `stop_at_exit` the server stops when
    the last process using it exits; otherwise it keeps running for other tools.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import (  # noqa: PLC0415 - only when it is wanted
            get_server,
        )

    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop" if stop_at_exit else None)
    admin_url: str = server.get_uri()
    asyncio.run(_ensure_database(admin_url, DATABASE_NAME))
    logger.info("embedded_postgres.ready", extra={"fields": {"pgdata": str(pgdata)}})
    return libpq_database_url(_with_database(admin_url, DATABASE_NAME))


def _with_database(url: str, name: str) -> str:
    # The embedded server trusts local socket connections; it has no password to carry.
    admin = make_url(url)
    return URL.create(
        drivername=admin.drivername,
        username=admin.username,
        host=admin.host,
        port=admin.port,
        database=name,
        query=admin.query,
    ).render_as_string(hide_password=False)


async def _ensure_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # CREATE DATABASE takes no parameters; `name` is our own constant, quoted.
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
