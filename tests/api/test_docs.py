"""The documentation pages work on a closed network: Swagger UI and ReDoc come from the package,
under a policy that lets them load nothing from anywhere else."""

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api.docs.router import ASSET_PATHS
from api.settings import Settings
from tests.api.test_dashboard import chromium, console_problems, serving


async def test_the_pages_name_no_other_host_and_allow_none(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = await client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "http" not in policy, (path, policy)
        assert "default-src 'none'" in policy
        assert "cdn" not in response.text.lower(), path
        assert "fonts.googleapis" not in response.text, path
        assert "https://" not in response.text.replace("https://swagger.io", ""), path


async def test_the_vendored_files_are_served_and_nothing_else_in_their_folder(
    client: httpx.AsyncClient,
) -> None:
    for path in ASSET_PATHS:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert len(response.content) > 100, path
        assert response.headers["x-content-type-options"] == "nosniff"
    for name in ("redoc.LICENSE", "..%2F..%2Fapp.py", "router.py", "swagger-ui.NOTICE"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 404, name


async def test_no_docs_when_they_are_off(settings: Settings) -> None:
    from api.app import create_app  # noqa: PLC0415

    app = create_app(settings.model_copy(update={"docs_enabled": False}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://triage.test"
    ) as client:
        for path in ("/docs", "/redoc", "/openapi.json", ASSET_PATHS[0]):
            assert (await client.get(path)).status_code in (401, 404), path


@pytest.fixture
def closed_network_browser() -> Iterator[Any]:
    """Headless Chromium that can reach 127.0.0.1 and no other host, recording every request."""
    # Every other host fails to resolve, as on a force network with no way out.
    with chromium(
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", window_size="1280,1000"
    ) as driver:
        yield driver


def requested_hosts(driver: Any) -> set[str]:
    """The hosts the browser sent requests to (those the page's policy stopped were not sent)."""
    hosts: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url.startswith("http"):
                hosts[params["requestId"]] = urlsplit(url).netloc
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return {host for request, host in hosts.items() if request not in blocked}


async def test_swagger_ui_and_redoc_render_on_a_closed_network(
    settings: Settings, database_server_url: str, closed_network_browser: Any
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    browser = closed_network_browser

    async def nothing(connection: Any) -> None:
        return None

    async with serving(settings, database_server_url, write=nothing) as server:
        browser.get(f"{server.url}/docs")
        WebDriverWait(browser, 30).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock")
        )
        operations = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        assert any("/v1/token" in item.text for item in operations)
        assert console_problems(browser) == []

        browser.get(f"{server.url}/redoc")
        WebDriverWait(browser, 30).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, "[data-section-id]")
        )
        assert "Street triage API" in browser.find_element(By.TAG_NAME, "h1").text
        # ReDoc's bundle asks for its footer logo from its CDN: the policy refuses it, so the
        # request is never made (and the page has no logo).
        refused_logo = "'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"
        problems = [line for line in console_problems(browser) if refused_logo not in line]
        assert problems == []
        assert requested_hosts(browser) == {urlsplit(server.url).netloc}
