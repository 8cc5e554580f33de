"""The supervisors' dashboard: a public page with no data, a strict Content-Security-Policy, and
charts drawn in a real headless Chromium from the real report of a real server.

The browser test needs `chromium`, `chromedriver` and `selenium`. Without them it is skipped,
unless TRIAGE_REQUIRE_BROWSER=1 (as in CI), when it fails.
"""

import asyncio
import base64
import hashlib
import os
import re
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from api.app import create_app
from api.migration import upgrade_async
from api.settings import Settings, async_database_url
from tests.api.test_reports import make_quarter
from tests.api.test_reports import settings as two_forces_settings
from tests.database import scratch_database
from tests.identity_provider import IdentityProvider
from tests.processes import free_port
from tests.report_data import FREE_TEXT

settings = two_forces_settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
REQUIRE_BROWSER = "TRIAGE_REQUIRE_BROWSER"


def inline(tag: str, page: str) -> str:
    found = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.DOTALL)
    assert found is not None, f"no inline <{tag}>"
    return found.group(1)


def sha256_source(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


async def test_the_page_is_public_and_runs_only_its_own_script(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    page = response.text
    assert policy == {
        "default-src": "'none'",
        "script-src": sha256_source(inline("script", page)),
        "style-src": sha256_source(inline("style", page)),
        "connect-src": "'self'",
        "img-src": "'self'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    # Nothing is loaded from anywhere: no external script, style, font or image.
    assert re.search(r"<[^>]*\s(src|href)\s*=", page) is None
    assert "<link" not in page
    # No field has a name, so no submission could put the token in a URL.
    assert re.search(r"<(input|select)[^>]*\sname=", page) is None
    assert "localStorage" not in page
    assert "sessionStorage" not in page
    assert "document.cookie" not in page


# The browser test


def browser_paths() -> tuple[str, str]:
    """Chromium and its driver, or skip (fail when TRIAGE_REQUIRE_BROWSER=1) saying what is missing."""
    chromium = next(
        (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
    )
    driver = shutil.which("chromedriver")
    missing = []
    if chromium is None:
        missing.append("chromium")
    if driver is None:
        missing.append("chromedriver")
    try:
        import selenium  # noqa: F401, PLC0415 - optional: only this test needs it
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        reason = (
            "the dashboard browser test needs headless Chromium: missing "
            + ", ".join(missing)
            + " (apt-get install chromium chromium-driver)"
        )
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{REQUIRE_BROWSER}=1 but {reason}")
        pytest.skip(reason)
    assert chromium is not None
    assert driver is not None
    return chromium, driver


@dataclass
class LiveServer:
    url: str


@pytest.fixture
async def live_server(settings: Settings, database_server_url: str) -> AsyncIterator[LiveServer]:
    """The app under a real uvicorn on a free port, in a thread, on a database of its own with
    the report tests' hand-made quarter committed to it."""
    async with scratch_database(database_server_url, prefix="triage_dashboard") as url:
        await upgrade_async(url)
        app = create_app(settings.model_copy(update={"database_url": SecretStr(url)}))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, name="dashboard-uvicorn", daemon=True)
        thread.start()
        try:
            for _ in range(200):
                if server.started:
                    break
                await asyncio.sleep(0.05)
            assert server.started, "uvicorn did not start"
            # The app has synced the partnership's organisations; now the quarter can be written.
            engine = create_async_engine(async_database_url(url))
            try:
                async with engine.begin() as connection:
                    await make_quarter(connection)
            finally:
                await engine.dispose()
            yield LiveServer(f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 15)


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium, driver_path = browser_paths()
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1100,1900",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def values(driver: Any, selector: str) -> list[tuple[str, float]]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return [
        (element.get_attribute("data-period"), float(element.get_attribute("data-value")))
        for element in driver.find_elements(By.CSS_SELECTOR, selector)
    ]


async def test_the_dashboard_draws_the_report_in_chromium(
    live_server: LiveServer, browser: Any, idp: IdentityProvider
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    def show() -> str:
        browser.get(f"{live_server.url}/dashboard")
        # Date inputs take typing in the browser's locale; set their values as a picker would.
        browser.execute_script(
            "document.getElementById('from').value = '2025-01-01';"
            "document.getElementById('to').value = '2025-04-01';"
        )
        # The supervisor pastes the identity token from their own identity provider; the page
        # exchanges it for a supervision token.
        browser.find_element(By.ID, "token").send_keys(idp.token("supervisor", "NSP"))
        browser.find_element(By.ID, "load").click()
        WebDriverWait(browser, 20).until(
            lambda d: d.find_element(By.ID, "status").text.startswith(("Showing", "The "))
        )
        status: str = browser.find_element(By.ID, "status").text
        return status

    status = await asyncio.to_thread(show)
    assert status == ("Showing NSP, 2025-01-01 to 2025-04-01 (Europe/London), 7 incidents."), status

    periods = [
        element.get_attribute("data-period")
        for element in browser.find_elements(By.CSS_SELECTOR, "#outcomes-chart g.period")
    ]
    assert periods == ["2025-01", "2025-02", "2025-03"]
    bars = {
        (
            bar.find_element(By.XPATH, "..").get_attribute("data-period"),
            bar.get_attribute("data-series"),
        ): int(bar.get_attribute("data-value"))
        for bar in browser.find_elements(By.CSS_SELECTOR, "#outcomes-chart rect.bar")
    }
    assert bars == {
        ("2025-01", "s136_detentions"): 1,
        ("2025-01", "s136_considered_not_used"): 1,
        ("2025-01", "other_outcome"): 2,
        ("2025-02", "s136_detentions"): 1,
        ("2025-02", "not_recorded"): 1,
        ("2025-03", "s136_detentions"): 1,
    }
    heights = [
        float(bar.get_attribute("height"))
        for bar in browser.find_elements(By.CSS_SELECTOR, "#outcomes-chart rect.bar")
    ]
    assert all(height > 0 for height in heights)
    assert values(browser, "#s136-chart circle.rate") == [
        ("2025-01", 0.25),
        ("2025-02", 1.0),
        ("2025-03", 1.0),
    ]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#s136-chart polyline.rate")) == 1
    assert values(browser, "#scene-chart circle.median") == [
        ("2025-01", 60.0),
        ("2025-02", 90.0),
        ("2025-03", 40.0),
    ]
    assert values(browser, "#scene-chart circle.p90") == [
        ("2025-01", 108.0),
        ("2025-02", 90.0),
        ("2025-03", 40.0),
    ]
    rows = browser.find_elements(By.CSS_SELECTOR, "#figures tbody tr")
    assert [row.find_element(By.TAG_NAME, "td").text for row in rows] == [
        "2025-01",
        "2025-02",
        "2025-03",
        "total",
    ]
    tiles = {
        tile.find_element(By.CLASS_NAME, "name").text: tile.find_element(
            By.CLASS_NAME, "value"
        ).text
        for tile in browser.find_elements(By.CSS_SELECTOR, "#summary .tile")
    }
    assert tiles["Incidents"] == "7"
    assert tiles["s136 detention rate"] == "50.0%"
    assert tiles["Median time at scene"] == "60.0 min"
    assert browser.find_element(By.ID, "download").is_enabled()

    # The token is in no URL, storage or cookie, and the field is cleared once used.
    assert browser.current_url == f"{live_server.url}/dashboard"
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0
    assert browser.get_cookies() == []
    assert browser.find_element(By.ID, "token").get_attribute("value") == ""
    assert [word for word in (*FREE_TEXT, "SECRET") if word in browser.page_source] == []
    # The policy blocked nothing the page needs: no violation, no script error. (The browser's
    # own request for /favicon.ico is not the page's.)
    problems = [
        entry["message"]
        for entry in browser.get_log("browser")
        if (entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"])
        and "/favicon.ico" not in entry["message"]
    ]
    assert problems == []

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    assert browser.save_screenshot(str(screenshot))
    print(f"dashboard screenshot: {screenshot}")  # noqa: T201 - the artifact's path, for CI logs


async def test_a_refused_token_is_said_plainly(
    live_server: LiveServer, browser: Any, idp: IdentityProvider
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    def show() -> str:
        browser.get(f"{live_server.url}/dashboard")
        # An officer's identity may not take the supervision purpose.
        browser.find_element(By.ID, "token").send_keys(idp.token("officer", "NSP"))
        browser.find_element(By.ID, "load").click()
        WebDriverWait(browser, 20).until(
            lambda d: "error" in (d.find_element(By.ID, "status").get_attribute("class") or "")
        )
        text: str = browser.find_element(By.ID, "status").text
        return text

    assert await asyncio.to_thread(show) == ("The token was not accepted for supervision (400).")
    assert browser.find_elements(By.CSS_SELECTOR, "#outcomes-chart rect") == []
