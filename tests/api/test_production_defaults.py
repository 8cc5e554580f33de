"""Defaults that are safe where the API really runs: documentation and metrics are not
published unless asked for outside development."""

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from api.settings import Environment, Settings
from tests.conftest import METRICS, METRICS_TOKEN


async def answers(settings: Settings, path: str, **headers: str) -> int:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://triage.test"
        ) as client,
    ):
        response = await client.get(path, headers=headers)
        assert "Traceback" not in response.text
        return response.status_code


@pytest.mark.parametrize(
    ("environment", "docs_enabled", "status"),
    [
        (Environment.production, None, 404),
        (Environment.production, True, 200),
        (Environment.development, None, 200),
        (Environment.development, False, 404),
    ],
)
async def test_docs_are_off_by_default_outside_development(
    settings: Settings, environment: Environment, docs_enabled: bool | None, status: int
) -> None:
    configured = settings.model_copy(
        update={"environment": environment, "docs_enabled": docs_enabled}
    )
    for path in ("/openapi.json", "/docs", "/redoc"):
        found = await answers(configured, path)
        # Without docs the path is like any unknown one: refused without a token, never served.
        assert found == status if status == 200 else found in (401, 404), path


@pytest.mark.parametrize(
    ("environment", "token", "sent", "status"),
    [
        (Environment.production, None, {}, 404),
        (Environment.production, None, METRICS, 404),
        (Environment.production, METRICS_TOKEN, {}, 401),
        (Environment.production, METRICS_TOKEN, {"Authorization": "Bearer wrong"}, 401),
        (Environment.production, METRICS_TOKEN, {"Authorization": METRICS_TOKEN}, 401),
        (Environment.production, METRICS_TOKEN, METRICS, 200),
        (Environment.development, None, {}, 200),
        (Environment.development, METRICS_TOKEN, {}, 401),
    ],
)
async def test_metrics_are_for_the_scraper_holding_their_token(
    settings: Settings,
    environment: Environment,
    token: str | None,
    sent: dict[str, str],
    status: int,
) -> None:
    configured = settings.model_copy(
        update={
            "environment": environment,
            "metrics_token": SecretStr(token) if token is not None else None,
        }
    )
    assert await answers(configured, "/metrics", **sent) == status
