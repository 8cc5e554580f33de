"""Partner rates shared through PostgreSQL: one statement reserves a call's slot on the partner's
row (GCRA), on a small pool of its own so partner calls never wait for the request pool.

PostgreSQL rather than Redis, by measurement (bench/partner_rate.py): a reservation costs a
fraction of a millisecond against partner calls of tens, and the database is already there on
every deployment, the demo's embedded one included; Redis would be a second store to run.
"""

import time

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.database import drop_closed_on_checkout
from api.settings import Settings, async_database_url
from clients.rate import RateUnavailable, Reserve, SharedRateLimiter

# `tat`: the theoretical arrival time of the partner's next call. A call at `now` (the
# statement's own transaction's time, one value throughout) may go at greatest(now, tat -
# tolerance); it is reserved only if that is within the longest wait, and `tat` moves one
# interval on. The wait is derived from the row as written (RETURNING sees only the new row).
_RESERVE = (
    "INSERT INTO partner_rate AS rate (partner, tat)"
    " VALUES ($1, extract(epoch FROM now()) + $2)"
    " ON CONFLICT (partner) DO UPDATE"
    " SET tat = greatest(rate.tat, extract(epoch FROM now())) + $2"
    " WHERE greatest(extract(epoch FROM now()), rate.tat - $3)"
    " - extract(epoch FROM now()) <= $4"
    " RETURNING greatest(extract(epoch FROM now()), rate.tat - $2 - $3)"
    " - extract(epoch FROM now()) AS wait"
)

RESERVATION_TIMEOUT_SECONDS = 0.5


def rate_engine(settings: Settings) -> AsyncEngine:
    """A pool of two, autocommitting: a reservation is one statement and holds no lock after."""
    assert settings.database_url is not None
    engine = create_async_engine(
        async_database_url(settings.database_url.get_secret_value()),
        pool_size=2,
        max_overflow=2,
        pool_timeout=RESERVATION_TIMEOUT_SECONDS,
        isolation_level="AUTOCOMMIT",
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": RESERVATION_TIMEOUT_SECONDS * 2,
            "server_settings": {
                "application_name": "triage-api-partner-rate",
                # Nothing here is worth a disk flush: a crash forgets a few seconds of rate.
                "synchronous_commit": "off",
            },
        },
    )
    drop_closed_on_checkout(engine)
    return engine


def reserve_on(engine: AsyncEngine, partner: str) -> Reserve:
    async def reserve(interval: float, tolerance: float, longest: float) -> float | None:
        try:
            async with engine.connect() as connection:
                # The driver's connection, autocommitting: one statement before every partner
                # call, where SQLAlchemy's statement machinery would cost more than the statement.
                driver = (await connection.get_raw_connection()).driver_connection
                assert driver is not None
                wait = await driver.fetchval(_RESERVE, partner, interval, tolerance, longest)
        except (
            SQLAlchemyError,  # the pool: no connection in time, or one that failed
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,  # the driver's own, e.g. a stale statement cache
            OSError,
            TimeoutError,
        ) as exc:
            raise RateUnavailable(type(exc).__name__) from None
        return None if wait is None else max(0.0, float(wait))

    return reserve


def shared_limiter(engine: AsyncEngine, partner: str, per_second: float) -> SharedRateLimiter:
    return SharedRateLimiter(per_second, reserve_on(engine, partner), clock=time.monotonic)
