"""Fixtures: a migrated database for the session, a rolled-back transaction per test, the app."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.app import create_app
from api.dependencies import get_session
from api.migration import upgrade_async
from api.settings import DEMO_PARTNERSHIP_FILE, Environment, Settings, async_database_url
from tests.database import database_server, scratch_database

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@pytest.fixture(scope="session")
def database_server_url() -> Iterator[str]:
    with database_server() as url:
        yield url


@pytest.fixture(scope="session")
async def database_url(database_server_url: str) -> AsyncIterator[str]:
    async with scratch_database(database_server_url) as url:
        await upgrade_async(url)
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(async_database_url(database_url))
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One outer transaction per test, rolled back at the end whatever the app committed."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        environment=Environment.production,
        database_url=SecretStr(database_url),
        partnership_file=DEMO_PARTNERSHIP_FILE,
    )


@pytest.fixture
def app(settings: Settings, connection: AsyncConnection) -> FastAPI:
    app = create_app(settings)

    async def session_in_test_transaction() -> AsyncIterator[AsyncSession]:
        async with (
            AsyncSession(
                bind=connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
            ) as session,
            session.begin(),
        ):
            yield session

    app.dependency_overrides[get_session] = session_in_test_transaction
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://triage.test",
        ) as client,
    ):
        yield client
