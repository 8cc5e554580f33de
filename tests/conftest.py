"""Fixtures: a migrated database for the session, a rolled-back transaction per test, the app."""

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.app import create_app
from api.audit.repository import write_refusals
from api.dependencies import get_session
from api.migration import upgrade_async
from api.settings import DEMO_PARTNERSHIP_FILE, Environment, Settings, async_database_url
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from tests.database import database_server, scratch_database
from tests.identity_provider import IdentityProvider, KeyMaterial, make_key_material

METRICS_TOKEN = "metrics-scraper-token"
METRICS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


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


@pytest.fixture(scope="session")
def key_material() -> Iterator[KeyMaterial]:
    with tempfile.TemporaryDirectory(prefix="triage-test-keys-") as directory:
        yield make_key_material(Path(directory))


@pytest.fixture
def idp(key_material: KeyMaterial) -> IdentityProvider:
    return key_material.idp


@pytest.fixture
def settings(database_url: str, key_material: KeyMaterial) -> Settings:
    return Settings(
        environment=Environment.production,
        database_url=SecretStr(database_url),
        partnership_file=DEMO_PARTNERSHIP_FILE,
        signing_keys_file=key_material.signing_keys_file,
        trusted_issuers=key_material.trusted_issuers_file,
        # Production's defaults are off; these tests read the document and the metrics.
        docs_enabled=True,
        metrics_token=SecretStr(METRICS_TOKEN),
        # Each test's partners are its own, as each app's were: the rate shared through the
        # database would carry one test's calls into the next (tests/api/test_partner_rate.py).
        partner_rate_shared=False,
    )


@pytest.fixture
def partner_transport() -> httpx.AsyncBaseTransport | None:
    """Where partner calls go: nowhere by default; lookup tests fake the partners here."""
    return None


@pytest.fixture
def app(
    settings: Settings,
    connection: AsyncConnection,
    partner_transport: httpx.AsyncBaseTransport | None,
) -> FastAPI:
    app = create_app(settings, partner_transport=partner_transport)

    async def session_in_test_transaction() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            try:
                async with session.begin():
                    yield session
            finally:
                # As `get_session` does: refusals outlive the request's (savepoint) transaction.
                await write_refusals(session)

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
        try:
            yield client
        finally:
            # What was counted belongs with the test's rolled-back writes; written at shutdown it
            # would land outside the test's transaction.
            app.state.anonymous_traffic.refusals.drain()


@dataclass
class Exchanger:
    """Trades identity tokens for access tokens through the real endpoint."""

    client: httpx.AsyncClient
    idp: IdentityProvider

    async def request(
        self,
        role: str,
        org: str,
        purpose: str,
        *,
        incident_id: uuid.UUID | str | None = None,
        subject_token: str | None = None,
        **fields: Any,
    ) -> httpx.Response:
        form: dict[str, Any] = {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": subject_token or self.idp.token(role, org),
            "subject_token_type": JWT_TOKEN_TYPE,
            "purpose": purpose,
        }
        if incident_id is not None:
            form["incident_id"] = str(incident_id)
        form.update({name: value for name, value in fields.items() if value is not None})
        return await self.client.post("/v1/token", data=form)

    async def token(self, role: str, org: str, purpose: str, **kwargs: Any) -> str:
        response = await self.request(role, org, purpose, **kwargs)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


@pytest.fixture
def exchanger(client: httpx.AsyncClient, idp: IdentityProvider) -> Exchanger:
    return Exchanger(client, idp)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@dataclass
class Committing:
    """An app whose requests commit, each on its own connection, on a database of its own."""

    exchanger: Exchanger
    url: str


@pytest.fixture
async def committing(
    settings: Settings, database_server_url: str, idp: IdentityProvider
) -> AsyncIterator[Committing]:
    """For true concurrency. On the shared test connection every request runs in one
    transaction, so row locks and unique indexes never make one request wait for another."""
    async with scratch_database(database_server_url, prefix="triage_commit") as url:
        await upgrade_async(url)
        app = create_app(
            settings.model_copy(
                update={"database_url": SecretStr(url), "db_pool_size": 25, "db_max_overflow": 0}
            )
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://triage.test",
            ) as client,
        ):
            yield Committing(Exchanger(client, idp), url)
