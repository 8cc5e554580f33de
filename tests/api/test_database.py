"""The request's transaction as the hot paths use it: statements on the driver's connection are
part of it, and a pooled connection the server has closed is replaced before it is used."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from api.database import Database, build_database, driver_connection
from api.settings import Settings
from tests.database import scratch_database


@pytest.fixture
async def database(settings: Settings, database_server_url: str) -> AsyncIterator[Database]:
    async with scratch_database(database_server_url, prefix="triage_driver") as url:
        await _create_table(url)
        built = build_database(
            settings.model_copy(
                update={"database_url": SecretStr(url), "db_pool_size": 1, "db_max_overflow": 0}
            )
        )
        yield built
        await built.dispose()


async def _create_table(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("CREATE TABLE mark (name text PRIMARY KEY)")
    finally:
        await connection.close()


async def marks(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        rows = await session.exec(text("SELECT name FROM mark ORDER BY name"))  # type: ignore[call-overload]
        return [row.name for row in rows]


async def write_both_then_fail(database: Database) -> None:
    async with database.sessionmaker() as session, session.begin():
        await (await driver_connection(session)).execute("INSERT INTO mark VALUES ('driver lost')")
        await session.exec(text("INSERT INTO mark VALUES ('orm lost')"))  # type: ignore[call-overload]
        raise RuntimeError("the request failed after both writes")


async def test_a_statement_on_the_driver_begins_the_sessions_transaction(
    database: Database,
) -> None:
    async with database.sessionmaker() as session, session.begin():
        driver = await driver_connection(session)
        assert driver.is_in_transaction()
        await driver.execute("SELECT set_config('app.org', 'RQI', true)")
        setting = await session.exec(text("SELECT current_setting('app.org', true)"))  # type: ignore[call-overload]
        assert setting.scalar_one() == "RQI"
    async with database.sessionmaker() as session, session.begin():
        setting = await session.exec(text("SELECT current_setting('app.org', true)"))  # type: ignore[call-overload]
        assert setting.scalar_one() in ("", None)  # transaction-local: gone with the commit


async def test_driver_statements_commit_and_roll_back_with_the_sessions(
    database: Database,
) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.exec(text("INSERT INTO mark VALUES ('orm kept')"))  # type: ignore[call-overload]
        await (await driver_connection(session)).execute("INSERT INTO mark VALUES ('driver kept')")
    with pytest.raises(RuntimeError):
        await write_both_then_fail(database)
    assert await marks(database) == ["driver kept", "orm kept"]


async def test_a_connection_the_server_closed_is_replaced_at_checkout(
    database: Database, database_server_url: str
) -> None:
    async with database.sessionmaker() as session, session.begin():
        first = (await session.exec(text("SELECT pg_backend_pid()"))).scalar_one()  # type: ignore[call-overload]
    admin = await asyncpg.connect(database_server_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled connection's socket
    async with database.sessionmaker() as session, session.begin():
        second = (await session.exec(text("SELECT pg_backend_pid()"))).scalar_one()  # type: ignore[call-overload]
    assert second != first


async def test_each_transaction_of_a_session_gets_the_driver_inside_it(database: Database) -> None:
    """A session used again after its transaction ends (the refusals written after a request)."""
    async with database.sessionmaker() as session:
        async with session.begin():
            await (await driver_connection(session)).execute("INSERT INTO mark VALUES ('first')")
        with pytest.raises(RuntimeError):
            await fail_after_a_driver_write(session)
        async with session.begin():
            driver = await driver_connection(session)
            assert driver.is_in_transaction()
            await driver.execute("INSERT INTO mark VALUES ('third')")
    assert await marks(database) == ["first", "third"]


async def fail_after_a_driver_write(session: AsyncSession) -> None:
    async with session.begin():
        await (await driver_connection(session)).execute("INSERT INTO mark VALUES ('second')")
        raise RuntimeError("rolled back")
