"""The async engine on asyncpg, with an explicit pool and timeouts."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import asyncpg
import sqlalchemy.exc
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.settings import Settings, async_database_url


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        await self.engine.dispose()


def build_database(settings: Settings) -> Database:
    if settings.database_url is None:
        raise RuntimeError(
            "no database configured: set TRIAGE_DATABASE_URL or start through `triage`"
        )
    engine = create_async_engine(
        async_database_url(settings.database_url.get_secret_value()),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=1800,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": settings.db_statement_timeout_seconds + 5,
            "server_settings": {
                "application_name": "triage-api",
                "statement_timeout": str(int(settings.db_statement_timeout_seconds * 1000)),
                "idle_in_transaction_session_timeout": "60000",
            },
        },
    )
    drop_closed_on_checkout(engine)
    return Database(engine=engine, sessionmaker=session_factory(engine))


def drop_closed_on_checkout(engine: AsyncEngine) -> None:
    """A pooled connection the server has closed (a restart, a terminated backend) is replaced
    when it is checked out, as `pool_pre_ping` would, but without its round trip (three
    statements with asyncpg) on every request: asyncpg sees the server's goodbye on the socket.
    A connection lost silently fails its first statement instead: a 503, and the pool is
    invalidated then."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _replace_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise sqlalchemy.exc.DisconnectionError("closed by the server")


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session, inside the session's transaction.

    For the hot paths only (STYLE rule 17: from repositories): a statement sent here skips the
    ORM's and SQLAlchemy's per-statement work, and is part of the same transaction as the ORM's
    statements, committed or rolled back with them. The transaction is begun here if no
    statement has begun it yet, exactly as SQLAlchemy's own adapter begins it (asyncpg has no
    implicit transactions). JSON columns travel as text: the engine's codecs decode them.
    Kept for the rest of the transaction: one transaction is one connection."""
    kept = session.info.get(_DRIVER)
    if kept is not None and kept[0] is session.sync_session.get_transaction():
        driver: asyncpg.Connection = kept[1]
        return driver
    connection = await session.connection()
    fairy = await connection.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    if adapted._transaction is None:  # the adapter keeps no public flag for it
        await adapted._start_transaction()
    driver = fairy.driver_connection
    tracer = _TRACERS.get(session.sync_session.get_bind().engine)
    if tracer is not None:
        driver = TracedDriver(driver, tracer)
    session.info[_DRIVER] = (session.sync_session.get_transaction(), driver)
    return driver


_DRIVER = "api.database.driver_connection"
# Engines whose statements are traced (`api.telemetry`): those sent on the driver are too.
_TRACERS: WeakKeyDictionary[Engine, Tracer] = WeakKeyDictionary()


def trace_driver_statements(engine: AsyncEngine, tracer: Tracer) -> None:
    """Statements sent on the driver's connection get a client span each, as the engine's own
    statements do: a traced lookup shows all of its statements."""
    _TRACERS[engine.sync_engine] = tracer


class TracedDriver:
    """The driver's connection, with a client span per statement: its text (placeholders, never
    values) and the database system, as SQLAlchemy's instrumentation writes them."""

    def __init__(self, driver: asyncpg.Connection, tracer: Tracer) -> None:
        self._driver = driver
        self._tracer = tracer

    @contextmanager
    def _span(self, query: str) -> Iterator[None]:
        name = query.split(None, 1)[0].upper() if query.strip() else "SQL"
        with self._tracer.start_as_current_span(
            name,
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": query},
        ):
            yield

    async def execute(self, query: str, *args: Any) -> str:
        with self._span(query):
            result: str = await self._driver.execute(query, *args)
            return result

    async def fetch(self, query: str, *args: Any) -> Any:
        with self._span(query):
            return await self._driver.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        with self._span(query):
            return await self._driver.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        with self._span(query):
            return await self._driver.fetchval(query, *args)

    def is_in_transaction(self) -> bool:
        in_transaction: bool = self._driver.is_in_transaction()
        return in_transaction


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: nothing may lazy-load after the transaction ends.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


# SQLSTATE classes and codes that mean "the server is not there", not "the request was wrong":
# connection exceptions, and the server shutting down, starting up or terminating sessions.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or went away mid-request: a 503, not a 500."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sqlalchemy.exc.TimeoutError):  # no pooled connection in time
            return True
        if isinstance(current, OSError | asyncpg.exceptions.ConnectionDoesNotExistError):
            return True  # refused, reset, or the socket gone; closed in the middle of a statement
        if isinstance(current, asyncpg.InterfaceError) and current.args == (
            "connection is closed",
        ):
            return True  # a statement sent on the driver's connection after the server closed it
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
        current = current.__cause__ or current.__context__
    return False
