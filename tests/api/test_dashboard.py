"""The supervisors' dashboard: a public page with no data, a strict Content-Security-Policy, and
charts drawn in a real headless Chromium from the real report of a real server: every grouping,
an empty state that says why for every chart, axis ticks that never repeat, a table that fits a
1024 x 768 screen, and no serious or critical axe-core violation (WCAG 2.2 AA) on any screen.

The browser tests need `chromium`, `chromedriver` and `selenium`. Without them they are skipped,
unless TRIAGE_REQUIRE_BROWSER=1 (as in CI), when they fail. Screenshots go to tests/artifacts/
(ignored by git).
"""

import asyncio
import base64
import hashlib
import os
import re
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from api.app import create_app
from api.migration import upgrade_async
from api.settings import Settings, async_database_url
from sim.demo_incidents import seed_demo_incidents
from tests.api.test_reports import S136, make_quarter, utc
from tests.api.test_reports import settings as two_forces_settings
from tests.database import scratch_database
from tests.identity_provider import IdentityProvider
from tests.processes import free_port
from tests.report_data import FREE_TEXT, Outcome, Subject, make_incident

settings = two_forces_settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
REQUIRE_BROWSER = "TRIAGE_REQUIRE_BROWSER"
AXE_SOURCE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
CHARTS = ("outcomes", "s136", "scene", "arrival", "lookups", "lookups-outcome")


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
    markup = page.replace(inline("script", page), "").replace(inline("style", page), "")
    # Nothing is loaded from anywhere: no external script, style, font or image.
    assert re.search(r"<[^>]*\s(src|href)\s*=", markup) is None
    assert "<link" not in markup
    # No field has a name, so no submission could put the token in a URL.
    assert re.search(r"<(input|select)[^>]*\sname=", markup) is None
    # Tokens are kept in the script's memory only: no storage, no cookie the script could read,
    # and no storage by another name either.
    script = inline("script", page)
    for kept_elsewhere in (
        "localStorage",
        "sessionStorage",
        "indexedDB",
        "caches",
        "document.cookie",
        "cookieStore",
        "window.name",
        "postMessage",
        "BroadcastChannel",
    ):
        assert kept_elsewhere not in page, kept_elsewhere
    # Signing in is by links to the API's sign-in route, not a form: the policy can keep
    # `form-action 'none'`.
    assert "/auth/login?" in script


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


@asynccontextmanager
async def serving(
    settings: Settings,
    database_server_url: str,
    port: int | None = None,
    write: Callable[[AsyncConnection], Awaitable[object]] | None = None,
) -> AsyncIterator[LiveServer]:
    """The app under a real uvicorn on `port` (a free one unless given), in a thread, on a
    database of its own with `write`'s incidents committed to it: by default the report tests'
    hand-made quarter and the edge cases after it."""
    async with scratch_database(database_server_url, prefix="triage_dashboard") as url:
        await upgrade_async(url)
        app = create_app(settings.model_copy(update={"database_url": SecretStr(url)}))
        port = port or free_port()
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
                    await (write or make_dashboard_data)(connection)
            finally:
                await engine.dispose()
            yield LiveServer(f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 15)


async def make_dashboard_data(connection: AsyncConnection) -> None:
    await make_quarter(connection, lookups=True)
    await make_edge_cases(connection)


async def make_edge_cases(connection: AsyncConnection) -> None:
    """After the quarter, NSP's incidents that once drew a misleading chart. June 2025: three
    weeks whose times at scene are 0.4, 0.8 and 1.2 minutes (an axis of "1 min / 1 min / 0 min"
    before). July 2025: one arrival time and no leaving time. August 2025: nothing."""
    for day, minutes_at_scene in ((3, 0.4), (10, 0.8), (17, 1.2)):
        await make_incident(
            connection,
            called=utc(2025, 6, day, 12),
            arrival_minutes=1,
            outcome=Outcome(["advice_and_support"], minutes_at_scene=minutes_at_scene),
            subjects=[Subject(5)],
            lookups=1,
        )
    await make_incident(
        connection, called=utc(2025, 7, 8, 12), arrival_minutes=12, outcome=Outcome(S136)
    )


@pytest.fixture
async def live_server(settings: Settings, database_server_url: str) -> AsyncIterator[LiveServer]:
    async with serving(settings, database_server_url) as server:
        yield server


@contextmanager
def chromium(*arguments: str, window_size: str = "1100,1900") -> Iterator[Any]:
    """Headless Chromium under selenium with `arguments` added; its console and performance logs
    kept (the performance log lists every request the browser made, for tests that check URLs)."""
    chromium_path, driver_path = browser_paths()
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={window_size}",
        "--no-first-run",
        "--disable-extensions",
        *arguments,
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def open_developer_token(driver: Any) -> None:
    """Open the collapsed "Use an access token (developers)" section, as a developer would."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    driver.find_element(By.CSS_SELECTOR, "[data-testid=developer-token] summary").click()


# Chrome logs every 4xx answer to a script's request as an error. These are the page asking
# whether anyone is signed in and being told no: the API's answer, not a fault.
SIGNED_OUT_ANSWER = re.compile(r"/auth/session - Failed to load resource: .* status of 401\b")


def console_problems(driver: Any) -> list[str]:
    """Script errors and Content-Security-Policy violations in the browser's console. (The
    browser's own request for /favicon.ico is not the page's.)"""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if (entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"])
        and "/favicon.ico" not in entry["message"]
        and not SIGNED_OUT_ANSWER.search(entry["message"])
    ]


def values(driver: Any, selector: str) -> list[tuple[str, float]]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return [
        (element.get_attribute("data-period"), float(element.get_attribute("data-value")))
        for element in driver.find_elements(By.CSS_SELECTOR, selector)
    ]


def assert_quarter_drawn(browser: Any) -> None:
    """Charts, table and tiles show NSP's figures of the report tests' quarter (Q1 2025)."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

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
    assert values(browser, "#arrival-chart circle.median") == [
        ("2025-01", 25.0),
        ("2025-02", 10.0),
        ("2025-03", 20.0),
    ]
    # Lookups recorded per incident: January 4 over 4, February 1 over 2, March none.
    assert values(browser, "#lookups-chart rect.lookups") == [
        ("2025-01", 1.0),
        ("2025-02", 0.5),
        ("2025-03", 0.0),
    ]
    assert values(browser, "#lookups-outcome-chart rect.lookups") == [
        ("s136_detention", 1.0),
        ("s136_considered_not_used", 0.0),
        ("referral_crisis_team", 0.0),
        ("advice_and_support", 1.0),
        ("arrested", 1.0),
        ("not_recorded", 0.0),
    ]
    assert group_labels(browser, "lookups-outcome")[:2] == [
        "s136 detention",
        "s136 considered, not used",
    ]
    assert table_groups(browser) == ["2025-01", "2025-02", "2025-03", "Total"]
    assert browser.find_element(By.CSS_SELECTOR, "#figures thead th").text == "Month"
    tiles = {
        tile.find_element(By.CLASS_NAME, "name").text: tile.find_element(
            By.CLASS_NAME, "value"
        ).text
        for tile in browser.find_elements(By.CSS_SELECTOR, "#summary .tile")
    }
    assert tiles["Incidents"] == "7"
    assert tiles["s136 detention rate"] == "50.0%"
    assert tiles["Median time at scene"] == "60.0 min"
    # Looked up for A1, D1, A3 and B1 of the seven: what was recorded, not what was written.
    assert tiles["Crisis flag consulted"] == "57.1%"
    assert tiles["Lookups per incident"] == "0.71"
    assert empty_states(browser) == {}
    assert_ticks_never_repeat(browser)
    assert browser.find_element(By.ID, "download").is_enabled()


def table_groups(browser: Any) -> list[str]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, "#figures tbody th")]


def group_labels(browser: Any, chart: str) -> list[str]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    selector = f"#{chart}-chart text.group-label"
    return [
        element.get_attribute("textContent")
        for element in browser.find_elements(By.CSS_SELECTOR, selector)
    ]


def tick_labels(browser: Any, chart: str) -> list[str]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    selector = f"#{chart}-chart text.tick"
    return [
        element.get_attribute("textContent")
        for element in browser.find_elements(By.CSS_SELECTOR, selector)
    ]


def assert_ticks_never_repeat(browser: Any) -> None:
    for chart in CHARTS:
        labels = tick_labels(browser, chart)
        assert len(labels) == len(set(labels)), (chart, labels)


def empty_states(browser: Any) -> dict[str, str]:
    """The charts that say why they are empty, with what they say; the chart itself is hidden."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    said = {}
    for chart in CHARTS:
        section = browser.find_element(By.XPATH, f"//*[@id='{chart}-chart']/ancestor::section")
        if not section.is_displayed():
            continue
        message = browser.find_element(By.CSS_SELECTOR, f"[data-testid={chart}-empty]")
        svg = browser.find_element(By.ID, f"{chart}-chart")
        if message.is_displayed():
            assert not svg.is_displayed(), chart
            said[chart] = message.text
        else:
            assert svg.is_displayed(), chart
    return said


def load_report(
    browser: Any, start: str, end: str, group_by: str = "month", token: str | None = None
) -> str:
    """Ask for a report as a supervisor would (pasting a token first, if given); the status."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    # Date inputs take typing in the browser's locale; set their values as a picker would.
    browser.execute_script(
        "document.getElementById('from').value = arguments[0];"
        "document.getElementById('to').value = arguments[1];"
        "document.getElementById('group-by').value = arguments[2];"
        "document.getElementById('status').textContent = '';",
        start,
        end,
        group_by,
    )
    if token is not None:
        open_developer_token(browser)
        browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "load").click()
    WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.ID, "status").text.startswith(("Showing", "The "))
    )
    status: str = browser.find_element(By.ID, "status").text
    return status


def save_whole_page(browser: Any, name: str) -> Path:
    """A screenshot of the whole page at the window's width, below the fold too, in ARTIFACTS."""
    size = browser.execute_script(
        "return {width: document.documentElement.clientWidth,"
        " height: document.documentElement.scrollHeight};"
    )
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "scale": 1, **size}},
    )
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def serious_accessibility_violations(browser: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of WCAG 2.0-2.2 A and AA on the page as it is.

    The page's policy refuses any script it did not bring, so axe is not added as a <script>:
    its source runs through the driver, as the page's own script is never changed."""
    browser.set_script_timeout(60)
    loaded = browser.execute_script("return typeof window.axe !== 'undefined'")
    source = "" if loaded else AXE_SOURCE.read_text(encoding="utf-8")
    result: dict[str, Any] = browser.execute_async_script(
        source
        + """
        ;const done = arguments[arguments.length - 1];
        window.axe.run(document, {
          runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
        }).then((results) => done({violations: results.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.map((n) => n.target.join(" "))}))}))
          .catch((error) => done({error: String(error)}));
        """
    )
    assert "error" not in result, result
    violations: list[dict[str, Any]] = result["violations"]
    return violations


async def test_the_dashboard_draws_the_report_in_chromium(
    live_server: LiveServer, browser: Any, idp: IdentityProvider
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    def show() -> tuple[list[dict[str, Any]], str]:
        browser.get(f"{live_server.url}/dashboard")
        # The first screen, before anyone signs in or asks for anything.
        first_screen = serious_accessibility_violations(browser)
        # A developer pastes an identity token from the identity provider; the page exchanges
        # it for a supervision token.
        token = idp.token("supervisor", "NSP")
        return first_screen, load_report(browser, "2025-01-01", "2025-04-01", token=token)

    first_screen, status = await asyncio.to_thread(show)
    assert first_screen == []
    assert status == ("Showing NSP, 2025-01-01 to 2025-04-01 (Europe/London), 7 incidents."), status

    assert_quarter_drawn(browser)
    assert await asyncio.to_thread(serious_accessibility_violations, browser) == []

    # The token is in no URL, storage or cookie, and the field is cleared once used.
    assert browser.current_url == f"{live_server.url}/dashboard"
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0
    assert browser.get_cookies() == []
    assert browser.find_element(By.ID, "token").get_attribute("value") == ""
    assert [word for word in (*FREE_TEXT, "SECRET") if word in browser.page_source] == []
    # The policy blocked nothing the page needs: no violation, no script error.
    assert console_problems(browser) == []

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    assert browser.save_screenshot(str(screenshot))
    print(f"dashboard screenshot: {screenshot}")  # noqa: T201 - the artifact's path, for CI logs


# What each grouping shows for the quarter: its column's title and its groups, in order.
GROUPINGS = {
    "week": ("Week from", ["2024-12-30", "2025-01-06", "2025-01-13"]),
    "outcome": (
        "Outcome",
        [
            "s136 detention",
            "s136 considered, not used",
            "Referral: crisis team",
            "Advice and support",
            "Arrested",
            "No outcome yet",
        ],
    ),
    "triage_mode": ("Triage mode", ["Face to face", "Phone", "Control room"]),
    "area": ("Area", ["E01000001", "E01000002", "E01000003", "No area code"]),
}


async def test_every_grouping_fits_a_1024_screen_and_passes_axe(
    live_server: LiveServer, browser: Any, idp: IdentityProvider
) -> None:
    """Month, week, outcome, triage mode and area, each on a 1024 x 768 screen: drawn, its table
    without a scroll bar and the page no wider than the screen, every axis with distinct ticks,
    and no serious or critical accessibility violation."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    def show(group_by: str, token: str | None = None) -> str:
        return load_report(browser, "2025-01-01", "2025-04-01", group_by, token=token)

    def fits() -> dict[str, Any]:
        measured: dict[str, Any] = browser.execute_script(
            "const wrap = document.querySelector('.table-wrap');"
            "return {viewport: window.innerWidth, page: document.documentElement.scrollWidth,"
            " table: wrap.scrollWidth, room: wrap.clientWidth,"
            " columns: [...wrap.querySelectorAll('thead th')].map((th) => th.offsetWidth).join()};"
        )
        return measured

    browser.set_window_size(1024, 768)
    await asyncio.to_thread(browser.get, f"{live_server.url}/dashboard")
    token = idp.token("supervisor", "NSP")
    assert await asyncio.to_thread(show, "month", token) == (
        "Showing NSP, 2025-01-01 to 2025-04-01 (Europe/London), 7 incidents."
    )
    for group_by in ("month", *GROUPINGS):
        if group_by != "month":
            await asyncio.to_thread(show, group_by)
        title, groups = GROUPINGS.get(group_by, ("Month", ["2025-01", "2025-02", "2025-03"]))
        assert browser.find_element(By.CSS_SELECTOR, "#figures thead th").text == title
        shown = table_groups(browser)
        assert shown[: len(groups)] == groups, group_by
        assert shown[-1] == "Total"
        if group_by != "week":  # fourteen weeks: every other one is labelled
            assert group_labels(browser, "outcomes")[: len(groups)] == groups, group_by
        assert browser.find_element(By.ID, "outcomes-title").text.endswith(
            "by " + title.lower().removesuffix(" from")
        )
        measured = fits()
        assert measured["viewport"] <= 1024, measured
        assert measured["page"] <= measured["viewport"], (group_by, measured)
        assert measured["table"] <= measured["room"], (group_by, measured)
        assert empty_states(browser) == {}
        assert_ticks_never_repeat(browser)
        by_outcome = browser.find_element(By.ID, "lookups-outcome-title")
        assert by_outcome.is_displayed() == (group_by != "outcome")
        assert await asyncio.to_thread(serious_accessibility_violations, browser) == [], group_by
        save_whole_page(browser, f"dashboard-1024-{group_by}.png")
    assert console_problems(browser) == []


async def test_ticks_follow_the_data_and_never_repeat(
    live_server: LiveServer, browser: Any, idp: IdentityProvider
) -> None:
    """Medians of 0.4, 0.8 and 1.2 minutes: an axis that rounded every tick to whole minutes read
    "0 min, 1 min, 1 min"; nice steps of half a minute read each one once."""

    def show() -> str:
        browser.get(f"{live_server.url}/dashboard")
        token = idp.token("supervisor", "NSP")
        return load_report(browser, "2025-06-01", "2025-06-22", "week", token=token)

    assert (await asyncio.to_thread(show)).endswith(" 3 incidents.")
    assert values(browser, "#scene-chart circle.median") == [
        ("2025-06-02", 0.4),
        ("2025-06-09", 0.8),
        ("2025-06-16", 1.2),
    ]
    assert tick_labels(browser, "scene") == ["0.0 min", "0.5 min", "1.0 min", "1.5 min"]
    # Counts step by whole numbers: one incident a week is 0 and 1, not 0, 0.5 and 1.
    assert tick_labels(browser, "outcomes") == ["0", "1"]
    assert_ticks_never_repeat(browser)
    save_whole_page(browser, "dashboard-small-times.png")
    # The rule itself, over ranges small and large: the page's own function, in the page.
    ranges = [0.05, 0.4, 0.71, 1, 1.2, 4, 7, 26, 108, 100]
    steps = browser.execute_script(
        "return arguments[0].map((max) => [Chart.ticks(max).values,"
        " Chart.ticks(max, {integer: true}).values]);",
        ranges,
    )
    assert dict(zip(ranges, steps, strict=True)) == {
        0.05: [[0, 0.02, 0.04, 0.06], [0, 1]],
        0.4: [[0, 0.1, 0.2, 0.3, 0.4], [0, 1]],
        0.71: [[0, 0.2, 0.4, 0.6, 0.8], [0, 1]],
        1: [[0, 0.25, 0.5, 0.75, 1], [0, 1]],
        1.2: [[0, 0.5, 1, 1.5], [0, 1, 2]],
        4: [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]],
        7: [[0, 2, 4, 6, 8], [0, 2, 4, 6, 8]],
        26: [[0, 10, 20, 30], [0, 10, 20, 30]],
        108: [[0, 50, 100, 150], [0, 50, 100, 150]],
        100: [[0, 25, 50, 75, 100], [0, 25, 50, 75, 100]],
    }


# Periods, and what each chart that has nothing to draw says instead.
NO_INCIDENTS = "No incidents in this period."
EMPTY_STATES = [
    (("2025-08-01", "2025-09-01"), dict.fromkeys(CHARTS, NO_INCIDENTS)),
    (
        # A3 alone: by phone, so no arrival time, and looked up once.
        ("2025-01-25", "2025-01-26"),
        {
            "scene": "1 incident in this period, but no arrival time was recorded for any: time "
            "at scene runs from arrival to leaving.",
            "arrival": "1 incident in this period, but no arrival time was recorded for any "
            "(incidents handled by phone or from the control room have none).",
        },
    ),
    (
        # B2 alone: from the control room, no outcome yet, never looked up.
        ("2025-02-26", "2025-02-27"),
        {
            "s136": "1 incident in this period, but none has an outcome recorded yet: no rate "
            "to show.",
            "scene": "1 incident in this period, but no arrival time was recorded for any: time "
            "at scene runs from arrival to leaving.",
            "arrival": "1 incident in this period, but no arrival time was recorded for any "
            "(incidents handled by phone or from the control room have none).",
            "lookups": "1 incident in this period, but no crisis flag lookup was recorded for any.",
            "lookups-outcome": "1 incident in this period, but no crisis flag lookup was recorded "
            "for any.",
        },
    ),
    (
        # B1 and B2: one time at scene of two incidents.
        ("2025-02-25", "2025-02-27"),
        {
            "scene": "Only 1 of the 2 incidents in this period has both an arrival and a leaving "
            "time: too few for a median and 90th percentile.",
            "arrival": "Only 1 of the 2 incidents in this period has an arrival time: too few for "
            "a median and 90th percentile.",
        },
    ),
    (
        # July: an arrival time, and no leaving time.
        ("2025-07-01", "2025-08-01"),
        {
            "scene": "1 incident in this period, but none has both an arrival and a leaving time "
            "recorded.",
            "arrival": "Only 1 incident in this period: too few for a median and 90th percentile.",
            "lookups": "1 incident in this period, but no crisis flag lookup was recorded for any.",
            "lookups-outcome": "1 incident in this period, but no crisis flag lookup was recorded "
            "for any.",
        },
    ),
]


async def test_every_empty_chart_says_why(
    live_server: LiveServer, browser: Any, idp: IdentityProvider
) -> None:
    browser.set_window_size(1024, 768)
    token: str | None = idp.token("supervisor", "NSP")
    await asyncio.to_thread(browser.get, f"{live_server.url}/dashboard")
    for (start, end), expected in EMPTY_STATES:
        status = await asyncio.to_thread(load_report, browser, start, end, "month", token)
        token = None  # pasted once, kept in the page's memory
        assert status.startswith(f"Showing NSP, {start} to {end}"), status
        assert empty_states(browser) == expected, (start, end)
        assert_ticks_never_repeat(browser)
        assert await asyncio.to_thread(serious_accessibility_violations, browser) == [], start
        save_whole_page(browser, f"dashboard-empty-{start}.png")
    assert console_problems(browser) == []


async def test_a_refused_token_is_said_plainly(
    live_server: LiveServer, browser: Any, idp: IdentityProvider
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    def show() -> str:
        browser.get(f"{live_server.url}/dashboard")
        # An officer's identity may not take the supervision purpose.
        open_developer_token(browser)
        browser.find_element(By.ID, "token").send_keys(idp.token("officer", "NSP"))
        browser.find_element(By.ID, "load").click()
        WebDriverWait(browser, 20).until(
            lambda d: "error" in (d.find_element(By.ID, "status").get_attribute("class") or "")
        )
        text: str = browser.find_element(By.ID, "status").text
        return text

    assert await asyncio.to_thread(show) == ("The token was not accepted for supervision (400).")
    assert browser.find_elements(By.CSS_SELECTOR, "#outcomes-chart rect") == []


async def test_the_demo_shows_every_chart_on_first_start(
    settings: Settings, database_server_url: str, browser: Any, idp: IdentityProvider
) -> None:
    """With the demo's synthetic incidents, the page's own default period (the last twelve months)
    draws every chart, in every grouping."""

    async def seed(connection: AsyncConnection) -> None:
        await seed_demo_incidents(connection, today=datetime.now(UTC).date())

    async with serving(settings, database_server_url, write=seed) as server:
        browser.set_window_size(1024, 768)
        await asyncio.to_thread(browser.get, f"{server.url}/dashboard")
        start, end = browser.execute_script(
            "return [document.getElementById('from').value, document.getElementById('to').value]"
        )
        token: str | None = idp.token("supervisor", "NSP")
        for group_by in ("month", *GROUPINGS):
            status = await asyncio.to_thread(load_report, browser, start, end, group_by, token)
            token = None
            assert status.startswith("Showing NSP"), status
            assert empty_states(browser) == {}, group_by
            assert_ticks_never_repeat(browser)
            if group_by == "month":
                assert await asyncio.to_thread(serious_accessibility_violations, browser) == []
                save_whole_page(browser, "dashboard-demo.png")
        assert console_problems(browser) == []
