"""The whole scene on the tablet app, in a real headless Chromium at a tablet's viewport: the
officer signs in with the force's provider, opens an incident, looks up every person the partner
simulator knows and reads the card; fills the assessment; loses the signal and records the outcome
on the tablet; gets the signal back and the write lands exactly once; hands the tablet to the
trust's practitioner, who reads the clinical section, co-signs and closes; and nothing personal is
left in the browser. Every screen passes axe-core's WCAG 2.2 AA rules.

Real processes and servers throughout: the partner simulator (`triage partner-sim`), the
development OpenID provider (`devidp`) and the API under uvicorn. Needs `chromium`,
`chromedriver` and `selenium`, as tests/api/test_dashboard.py does.
"""

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.settings import Settings
from api.tablet.router import SHELL_FILES
from devidp import ProviderConfig
from tests.api.test_dashboard import (
    ARTIFACTS,
    browser,  # noqa: F401 - a fixture
    serving,
)
from tests.api.test_dashboard_sign_in import cookies_of, issuers_file
from tests.api.test_lookup_simulated_people import BY_NUMBER, TRACES
from tests.oidc_provider import ClientKeys, TestClient, running_provider
from tests.processes import free_port, simulated_partnership, simulator_process

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
WAIT_SECONDS = 30
TABLET_LANDSCAPE = (1024, 768)
TABLET_PORTRAIT = (768, 1024)
PHONE = (390, 844)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Each person is looked up on one incident: the quota of people per incident is raised for that.
QUOTAS = {
    "per_user_per_hour": 100_000,
    "per_organisation_per_day": 1_000_000,
    "people_per_incident": 50,
}
NOTES = "Crisis team to call him tomorrow morning."
MINE = "Referral to the crisis team; he goes home with his sister."
THEIRS = "Man on the railway bridge; his sister arrived and is with him now."
LEVELS_IN_WORDS = {
    "high": "HIGH",
    "medium": "MEDIUM",
    "low": "LOW",
    "not_recorded": "No alert recorded",
    "unknown": "COULD NOT CHECK",
}
# Chrome logs, as errors, answers the app expects: signed out (401 from /auth/session), nothing
# recorded yet (404 from an assessment or outcome not started), the conflict the scene makes (412)
# and requests made with no signal.
EXPECTED_CONSOLE = re.compile(
    r"/auth/session - Failed to load resource: .* status of 401\b"
    r"|/(assessment|outcome) - Failed to load resource: .* status of 404\b"
    r"|/(assessment|outcome) - Failed to load resource: .* status of 412\b"
    r"|ERR_INTERNET_DISCONNECTED"
)


@dataclass(frozen=True)
class Scene:
    api: str
    provider: str
    simulator: str


@pytest.fixture
async def scene(
    settings: Settings, database_server_url: str, tmp_path: Path
) -> AsyncIterator[Scene]:
    """Partner simulator, both identity providers (on `localhost`, another site) and the API."""
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    callback = f"{api}/auth/callback"
    force = TestClient("triage-tablet-nsp", callback, secret=secrets.token_urlsafe(32))
    trust = TestClient("triage-tablet-cis2", callback, keys=ClientKeys.generate(algorithm="RS512"))
    config = ProviderConfig(
        base_url=f"http://localhost:{free_port()}",
        clients=[force.registration(), trust.registration()],
    )
    with simulator_process(tmp_path) as simulator, running_provider(config) as provider:
        partnership = simulated_partnership(tmp_path, simulator, quotas=QUOTAS)
        # `serving` writes the report tests' quarter, which names a second force.
        document = yaml.safe_load(partnership.read_text())
        document["organisations"].append(
            {"code": "SWP", "name": "Southmoor Police", "kind": "police_force"}
        )
        partnership.write_text(yaml.safe_dump(document))
        trusted = issuers_file(tmp_path, provider, callback, force, trust)
        tablet_settings = settings.model_copy(
            update={"partnership_file": partnership, "trusted_issuers": trusted}
        )
        async with serving(tablet_settings, database_server_url, api_port) as server:
            assert server.url == api
            yield Scene(api=api, provider=provider, simulator=simulator)


# Driving the page


def wait(driver: Any, until: Callable[[Any], Any], seconds: float = WAIT_SECONDS) -> Any:
    from selenium.common.exceptions import TimeoutException  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    try:
        return WebDriverWait(driver, seconds).until(until)
    except TimeoutException:
        page = driver.find_element(By.TAG_NAME, "body").text
        console = [entry["message"][:300] for entry in driver.get_log("browser")]
        pytest.fail(
            f"waited in vain at {driver.current_url}; the page says: {page[-600:]!r};"
            f" the console: {console[-5:]!r}"
        )


def find(driver: Any, testid: str) -> Any:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return driver.find_element(By.CSS_SELECTOR, f"[data-testid='{testid}']")


def find_all(root: Any, testid: str) -> list[Any]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    found: list[Any] = root.find_elements(By.CSS_SELECTOR, f"[data-testid='{testid}']")
    return found


def shown(driver: Any, testid: str) -> bool:
    return any(element.is_displayed() for element in find_all(driver, testid))


def tap(driver: Any, testid: str) -> None:
    element = find(driver, testid)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def status(driver: Any) -> str:
    text: str = find(driver, "status").text
    return text


def viewport(driver: Any, size: tuple[int, int]) -> None:
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def signal(driver: Any, online: bool) -> None:
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": not online, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def sign_in(driver: Any, scene: Scene, provider_id: str, person: str) -> None:
    driver.get(f"{scene.api}/app")
    wait(driver, lambda d: shown(d, f"sign-in-{provider_id}"))
    tap(driver, f"sign-in-{provider_id}")
    wait(driver, lambda d: find_all(d, f"person-{person}"))
    find(driver, f"person-{person}").click()
    wait(driver, lambda d: d.current_url.startswith(scene.api) and shown(d, "signed-in"))


def outbox_statuses(driver: Any) -> list[str]:
    """The status of each write kept on the tablet, read in one go (the list is redrawn often)."""
    statuses: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=outbox-item]')]"
        ".map((item) => item.dataset.status);"
    )
    return statuses


def outbox_settled(driver: Any) -> bool:
    statuses = outbox_statuses(driver)
    return bool(statuses) and set(statuses) == {"sent"}


def axe_violations(driver: Any, context: str = "document") -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now. Injected by the driver (which
    the page's policy does not govern): the product never serves it."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"axe.run({context}, {{runOnly: {{type: 'tag', values: {json.dumps(AXE_TAGS)}}}}})"
        ".then((r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}))))"
        ".catch((e) => done([{id: 'axe-error', impact: String(e), nodes: []}]));"
    )
    violations: list[dict[str, Any]] = result
    return violations


def small_targets(driver: Any) -> list[str]:
    """Controls smaller than 44 x 44 CSS pixels (gloves), among those on screen."""
    found: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('button, a, select, input, summary, textarea')]"
        ".filter((e) => e.offsetParent !== null && !e.closest('.skip'))"
        ".map((e) => [e, e.closest('label') || e]).map(([e, hit]) => {"
        "  const r = hit.getBoundingClientRect();"
        "  return (r.height < 44 || r.width < 44) ? (e.dataset.testid || e.id || e.tagName) +"
        "    ' ' + Math.round(r.width) + 'x' + Math.round(r.height) : null; })"
        ".filter(Boolean);"
    )
    return found


def smallest_card_text(driver: Any) -> float:
    size: float = driver.execute_script(
        "const walker = document.createTreeWalker(document.querySelector('.flag-card'),"
        " NodeFilter.SHOW_TEXT); let smallest = Infinity;"
        "while (walker.nextNode()) { const node = walker.currentNode;"
        "  if (!node.textContent.trim() || !node.parentElement.offsetParent) continue;"
        "  smallest = Math.min(smallest,"
        "    parseFloat(getComputedStyle(node.parentElement).fontSize)); }"
        "return smallest;"
    )
    return size


# When a sign-in ends under the app, the token it held and the next mint are refused: expected.
SIGN_IN_ENDED = re.compile(
    r"/(v1/incidents/[^ ]*|auth/session/token) - Failed to load resource: .* status of 401\b"
)


def keep_screenshot(driver: Any, element: Any, name: str) -> None:
    """The whole element, however tall (Chrome's element screenshot stops at the viewport), in
    tests/artifacts/."""
    box = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height,"
        " scale: 1};",
        element,
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": box}
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(base64.b64decode(shot["data"]))


def console_problems(driver: Any, also: re.Pattern[str] | None = None) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if (entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"])
        and "/favicon.ico" not in entry["message"]
        and not EXPECTED_CONSOLE.search(entry["message"])
        and not (also and also.search(entry["message"]))
    ]


# The card


def type_number(driver: Any, number: str) -> None:
    tap(driver, "key-clear")
    for digit in number:
        find(driver, f"key-{digit}").click()


def answer_card(driver: Any, submit: str, previous: str | None) -> Any:
    tap(driver, submit)
    wait(
        driver,
        lambda d: (
            shown(d, "flag-card") and find(d, "flag-card").get_attribute("data-lookup") != previous
        ),
    )
    return find(driver, "flag-card")


def read_card(card: Any) -> dict[str, Any]:
    alerts = {
        element.get_attribute("data-testid").removeprefix("alert-"): (
            element.get_attribute("data-level"),
            element.text,
        )
        for element in find_all(card, "card-alerts")[0].find_elements("css selector", "li")
    }
    return {
        "identification": find_all(card, "card-identification")[0].get_attribute("data-value"),
        "known": find_all(card, "card-known")[0].get_attribute("data-value"),
        "known_text": find_all(card, "card-known")[0].text,
        "plan": find_all(card, "card-plan")[0].get_attribute("data-value"),
        "plan_text": find_all(card, "card-plan")[0].text,
        "alerts": alerts,
        "plans": [plan.get_attribute("data-custodian") for plan in find_all(card, "plan")],
        "unread": len(find_all(card, "unread-alert")),
        "calls": [call.get_attribute("href") for call in find_all(card, "call-now")],
        "sources_missing": find_all(card, "card-sources-missing")[0].text,
        "agreement": find_all(card, "agreement-link")[0].get_attribute("href"),
        "clinical": len(find_all(card, "clinical")),
        "restricted": bool(find_all(card, "card-restricted")),
        "check": [e.text for e in find_all(card, "card-check")],
    }


def assert_card(
    read: dict[str, Any],
    scene: Scene,
    identification: str,
    known: str,
    plan: str,
    alerts: tuple[str, str, str],
) -> None:
    assert read["identification"] == identification
    assert (read["known"], read["plan"]) == (known, plan)
    # In words, never blank, and "could not check" said as such.
    assert read["known_text"].startswith(
        {"yes": "Known", "no": "Not known", "unknown": "Could not check"}[known]
    )
    if plan == "unknown":
        assert "Could not check" in read["plan_text"]
    levels = tuple(
        read["alerts"][c][0] for c in ("risk_to_self", "risk_to_others", "risk_from_others")
    )
    assert levels == alerts
    for level, text in read["alerts"].values():
        assert LEVELS_IN_WORDS[level] in text, text
    assert read["agreement"] == f"{scene.api}/agreement"
    if identification != "verified":
        assert read["check"], "what to check is said"


def look_up_everyone(driver: Any, scene: Scene) -> None:
    previous = None
    tap(driver, "tab-lookup")
    # The check digit is checked before anything is sent.
    type_number(driver, "9000000000")
    assert find(driver, "nhs-number").text == "900 000 0000"
    assert find(driver, "nhs-check").get_attribute("data-state") == "invalid"
    assert not find(driver, "lookup-number").is_enabled()
    for number, (identification, known, plan, alerts, plans, unread) in BY_NUMBER.items():
        type_number(driver, number)
        assert find(driver, "nhs-check").get_attribute("data-state") == "valid"
        card = answer_card(driver, "lookup-number", previous)
        previous = card.get_attribute("data-lookup")
        read = read_card(card)
        assert_card(read, scene, identification, known, plan, alerts)
        assert read["plans"] == plans, number
        assert read["unread"] == len(unread), number
        assert read["clinical"] == 0, "an officer never sees the clinical section"
        assert read["sources_missing"] == "Every source answered."
        for call in read["calls"]:
            assert re.fullmatch(r"tel:\+?[0-9]{6,15}", call), call
        if plans:
            assert len(find_all(card, "call-box")) == len(plans)
        if number == "9000000025":
            assert read["restricted"]
        if number == "9000000068":
            assert find_all(card, "plan-review")[0].get_attribute("data-state") == "stale"
        ARTIFACTS.mkdir(exist_ok=True)
        keep_screenshot(driver, find(driver, "flag-card"), f"tablet-card-{number}.png")
    # A trust down: what depended on it is "could not check", and the card says who did not answer.
    fault = f"{scene.simulator}/_sim/faults/trust-rqi"
    httpx.put(fault, json={"status": 503}).raise_for_status()
    try:
        type_number(driver, "9000000033")
        card = answer_card(driver, "lookup-number", previous)
        previous = card.get_attribute("data-lookup")
        read = read_card(card)
        assert_card(read, scene, "verified", "unknown", "unknown", ("unknown",) * 3)
        assert read["known_text"].startswith("Could not check")
        assert read["sources_missing"].startswith("Did not answer: Trust records")
        assert "could not be checked" in read["sources_missing"]
        keep_screenshot(driver, card, "tablet-card-9000000033-trust-down.png")
    finally:
        httpx.put(fault, json={}).raise_for_status()
    tap(driver, "by-details")
    for name, (demographics, identification, _, known, plan, alerts) in TRACES.items():
        driver.execute_script(
            "const [family, given, born, postcode] = arguments;"
            "document.getElementById('family').value = family;"
            "document.getElementById('given').value = given;"
            "document.getElementById('birth-date').value = born;"
            "document.getElementById('postcode').value = postcode;",
            demographics["family"],
            demographics["given"],
            demographics["birth_date"],
            demographics.get("postcode", ""),
        )
        card = answer_card(driver, "lookup-details", previous)
        previous = card.get_attribute("data-lookup")
        assert_card(read_card(card), scene, identification, known, plan, alerts)
        keep_screenshot(driver, find(driver, "flag-card"), f"tablet-card-{name}.png")
    tap(driver, "by-number")


# The scene


def api_as_signed_in(scene: Scene, driver: Any, incident_id: str) -> httpx.Client:
    """The API as the person signed in on the tablet, from another device: a token minted
    from their session (the browser's cookie), bound to the incident."""
    (cookie,) = cookies_of(driver, scene.api)
    headers = {"Cookie": f"{cookie['name']}={cookie['value']}", "X-Triage-Session": "1"}
    minted = httpx.post(
        f"{scene.api}/auth/session/token",
        json={"purpose": "street-triage", "incident_id": incident_id},
        headers=headers,
    )
    assert minted.status_code == 200, minted.text
    return httpx.Client(
        base_url=f"{scene.api}/v1/incidents/{incident_id}",
        headers={"Authorization": f"Bearer {minted.json()['access_token']}"},
    )


def assessment_ready(driver: Any) -> bool:
    """The assessment screen has read the record and is open to typing."""
    ready: bool = driver.execute_script(
        "const form = document.getElementById('assessment-form');"
        "return !form.hidden && form.dataset.ready === 'true';"
    )
    return ready


def fill_assessment(driver: Any) -> None:
    tap(driver, "tab-assessment")
    wait(driver, assessment_ready)
    find(driver, "a-situation").send_keys(
        "Man on the railway bridge after an argument, distressed."
    )
    for testid, value in (
        ("a-risk_to_self", "high"),
        ("a-risk_to_others", "low"),
        ("a-intoxication", "alcohol"),
        ("a-consent", "given"),
        ("a-capacity", "has_capacity"),
        ("a-flag-changed", "yes"),
    ):
        driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'));",
            find(driver, testid),
            value,
        )
    find(driver, "a-risk_to_self-why").send_keys("Said he wanted to jump.")
    find(driver, "a-risk_to_others-why").send_keys("Shouted at passers-by; no weapon seen.")
    tap(driver, "a-s136")
    find(driver, "a-decision").send_keys("Support at the scene and referral to the crisis team.")
    find(driver, "a-rationale").send_keys("Accepted help; the crisis plan names what helps.")
    tap(driver, "save-assessment")
    wait(
        driver,
        lambda d: outbox_settled(d) and find(d, "assessment-state").text.startswith("Version 1"),
    )
    tap(driver, "sign-assessment")
    wait(driver, lambda d: outbox_settled(d) and len(find_all(d, "signature")) == 1)


def record_outcome_offline(driver: Any) -> None:
    tap(driver, "tab-outcome")
    wait(driver, lambda d: find(d, "outcome-state").text.startswith("Not recorded"))
    signal(driver, online=False)
    wait(driver, lambda d: find(d, "network").get_attribute("data-online") == "false")
    tap(driver, "o-code-advice_and_support")
    tap(driver, "o-code-referral_crisis_team")
    find(driver, "o-notes").send_keys(NOTES)
    tap(driver, "save-outcome")
    wait(driver, lambda d: "pending" in outbox_statuses(d))
    assert "No signal" in status(driver)
    assert "waiting to be sent" in find(driver, "outbox-summary").text
    # Reopened with no signal, the app comes from the worker's copy and still holds the write.
    driver.refresh()
    wait(driver, lambda d: shown(d, "signed-in") and outbox_statuses(d)[-1:] == ["pending"])
    assert find(driver, "network").get_attribute("data-online") == "false"
    assert "working offline" in status(driver)
    # Lookups need the network, and say so.
    tap(driver, "tab-lookup")
    type_number(driver, "9000000009")
    tap(driver, "lookup-number")
    wait(driver, lambda d: "needs the network" in status(d))


def resolve_a_conflict(driver: Any, api: httpx.Client, assessment: str) -> None:
    """A change made with no signal meets one made meanwhile on another device: the tablet shows
    what differs, the user chooses, and nothing is overwritten unseen."""
    tap(driver, "tab-assessment")
    wait(
        driver,
        lambda d: assessment_ready(d) and find(d, "assessment-state").text.startswith("Version 1"),
    )
    signal(driver, online=False)
    wait(driver, lambda d: find(d, "network").get_attribute("data-online") == "false")
    decision = find(driver, "a-decision")
    decision.clear()
    decision.send_keys(MINE)
    tap(driver, "save-assessment")
    wait(driver, lambda d: "pending" in outbox_statuses(d))

    read = api.get(assessment)
    content = read.json()["content"] | {"presenting_situation": THEIRS}
    changed = api.put(
        assessment, json={"content": content}, headers={"If-Match": read.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text

    signal(driver, online=True)
    wait(driver, lambda d: shown(d, "conflict") and find_all(d, "diff-row"))
    rows = {row.get_attribute("data-field"): row for row in find_all(driver, "diff-row")}
    assert set(rows) == {"presenting_situation", "decision"}
    assert THEIRS in rows["presenting_situation"].text
    assert MINE in rows["decision"].text
    assert outbox_statuses(driver)[-1] == "conflict"
    assert find_all(driver, "outbox-item")[-1].text.startswith("Assessment changed")
    assert axe_violations(driver) == []
    keep_screenshot(driver, find(driver, "conflict"), "tablet-conflict.png")
    find_all(rows["decision"], "use-mine")[0].click()
    tap(driver, "resolve-conflict")
    wait(driver, outbox_settled)
    merged = api.get(assessment).json()
    assert merged["revision"] == 3
    assert merged["content"]["presenting_situation"] == THEIRS
    assert merged["content"]["decision"] == MINE
    # The officer signs the version now on record.
    wait(driver, lambda d: find(d, "assessment-state").text.startswith("Version 3"))
    tap(driver, "sign-assessment")
    wait(
        driver,
        lambda d: (
            outbox_settled(d)
            and any(
                s.get_attribute("data-role") == "officer" and "version 3" in s.text
                for s in find_all(d, "signature")
            )
        ),
    )


def leftovers(driver: Any) -> dict[str, Any]:
    """What the browser keeps for the app's origin: storage of every kind."""
    kept: dict[str, Any] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "(async () => {"
        "  const databases = (await indexedDB.databases()).map((d) => d.name);"
        "  const cached = [];"
        "  for (const name of await caches.keys()) {"
        "    for (const request of await (await caches.open(name)).keys()) {"
        "      cached.push(new URL(request.url).pathname); } }"
        "  return {databases, cached, local: localStorage.length,"
        "          session: sessionStorage.length, cookie: document.cookie};"
        "})().then(done);"
    )
    return kept


def zone_at(hour: int) -> str:
    """A time zone in which it is now `hour` o'clock (near enough: whole hours)."""
    offset = (hour - datetime.now(UTC).hour) % 24
    if offset > 12:
        offset -= 24
    # POSIX signs: Etc/GMT-3 is three hours ahead of UTC.
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"


def open_incident(driver: Any, check_accessibility: bool = False) -> str:
    """The officer opens an incident naming RQI; its id, as the tablet shows it."""
    wait(driver, lambda d: shown(d, "open-new"))
    find(driver, "open-new").find_element("css selector", "summary").click()
    find(driver, "cad").send_keys("LP-20261129-0412")
    find(driver, "area").send_keys("E01012345")
    wait(driver, lambda d: len(find(d, "trust").find_elements("css selector", "option")) > 1)
    driver.execute_script("arguments[0].value = 'RQI';", find(driver, "trust"))
    if check_accessibility:
        assert axe_violations(driver) == []
    tap(driver, "open-incident")
    wait(driver, lambda d: shown(d, "screen-lookup"))
    incident_id: str = driver.execute_script(
        "return document.querySelector('[data-testid=bound-id]').textContent"
    )
    assert re.fullmatch(r"[0-9a-f-]{36}", incident_id)
    assert find(driver, "bound-cad").get_attribute("textContent") == "LP-20261129-0412"
    return incident_id


def play(driver: Any, scene: Scene) -> None:
    viewport(driver, TABLET_LANDSCAPE)
    # Dark by default at night, light by day, by the tablet's own clock.
    for hour, dark in ((2, True), (12, False)):
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone_at(hour)})
        driver.get(f"{scene.api}/app")
        wait(driver, lambda d: shown(d, "signed-out"))
        assert (
            driver.execute_script("return document.documentElement.classList.contains('dark')")
            is dark
        )
        assert axe_violations(driver) == []
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Europe/London"})

    sign_in(driver, scene, "entra-nsp", "nsp-officer")
    assert find(driver, "who-role").text == "police officer"
    incident_id = open_incident(driver, check_accessibility=True)

    look_up_everyone(driver, scene)

    # The card passes axe and holds no text below 16 px, in the dark and by day, on a tablet
    # both ways round and on a phone.
    type_number(driver, "9000000173")
    card = answer_card(driver, "lookup-number", None)
    for dark in (True, False):
        driver.execute_script(
            "document.documentElement.classList.toggle('dark', arguments[0]);", dark
        )
        assert axe_violations(driver) == [], "dark" if dark else "light"
    driver.execute_script("document.documentElement.classList.add('dark');")
    assert smallest_card_text(driver) >= 18
    for name, size in (
        ("portrait", TABLET_PORTRAIT),
        ("phone", PHONE),
        ("landscape", TABLET_LANDSCAPE),
    ):
        viewport(driver, size)
        driver.execute_script("document.getElementById('card').scrollIntoView();")
        assert small_targets(driver) == [], name
        assert axe_violations(driver) == [], name
        driver.save_screenshot(str(ARTIFACTS / f"tablet-{name}.png"))
    assert card.get_attribute("data-lookup")

    # The person is 9000000009: added to the incident, then assessed together.
    type_number(driver, "9000000009")
    answer_card(driver, "lookup-number", card.get_attribute("data-lookup"))
    tap(driver, "add-subject")
    wait(driver, outbox_settled)
    fill_assessment(driver)
    assert axe_violations(driver) == []
    assert small_targets(driver) == []

    # No signal: the outcome is kept on the tablet, then sent once when the signal returns.
    record_outcome_offline(driver)
    signal(driver, online=True)
    wait(driver, lambda d: find(d, "network").get_attribute("data-online") == "true")
    wait(driver, outbox_settled)
    assert find(driver, "outbox-summary").get_attribute("data-waiting") == "0"
    api = api_as_signed_in(scene, driver, incident_id)
    outcome = api.get("/outcome")
    assert outcome.status_code == 200
    assert outcome.json()["revision"] == 1
    assert sorted(outcome.json()["codes"]) == ["advice_and_support", "referral_crisis_team"]
    subjects = api.get("/subjects").json()
    assert [subject["nhs_number"] for subject in subjects] == ["9000000009"]
    assessment = f"/subjects/{subjects[0]['id']}/assessment"
    revisions = api.get(f"{assessment}/revisions").json()
    assert [revision["revision"] for revision in revisions] == [1]
    tap(driver, "tab-outcome")
    wait(driver, lambda d: find(d, "outcome-state").get_attribute("data-recorded") == "true")
    assert axe_violations(driver) == []

    resolve_a_conflict(driver, api, assessment)

    # The officer hands the tablet to the trust's practitioner: the incident stays.
    tap(driver, "hand-over")
    wait(driver, lambda d: shown(d, "signed-out"))
    assert leftovers(driver)["databases"] == ["street-triage"]
    sign_in(driver, scene, "cis2-trusts", "rqi-practitioner")
    assert find(driver, "who-role").text == "mental health practitioner"
    wait(driver, lambda d: shown(d, "screen-lookup"))
    type_number(driver, "9000000009")
    card = answer_card(driver, "lookup-number", None)
    assert read_card(card)["clinical"] == 1
    keep_screenshot(driver, card, "tablet-card-practitioner-9000000009.png")
    tap(driver, "tab-assessment")
    wait(
        driver,
        lambda d: assessment_ready(d) and find(d, "assessment-state").text.startswith("Version 3"),
    )
    tap(driver, "sign-assessment")
    wait(driver, lambda d: find(d, "assessment-state").get_attribute("data-status") == "locked")
    assert {s.get_attribute("data-role") for s in find_all(driver, "signature")} == {
        "mh_practitioner",
        "officer",
    }

    # Closing ends the incident and wipes it from the tablet.
    tap(driver, "tab-outcome")
    wait(driver, lambda d: find(d, "outcome-state").get_attribute("data-recorded") == "true")
    tap(driver, "close-incident")
    wait(driver, lambda d: "is closed" in status(d))
    closed = api_as_signed_in(scene, driver, incident_id).get(
        f"{scene.api}/v1/incidents/{incident_id}"
    )
    assert closed.json()["status"] == "closed"
    kept = leftovers(driver)
    assert kept["databases"] == []
    assert (kept["local"], kept["session"], kept["cookie"]) == (0, 0, "")
    shell = {"/app"} | {f"/app/{name}" for name in SHELL_FILES if name != "sw.js"}
    assert set(kept["cached"]) <= shell, "the worker caches the app's shell and nothing else"
    assert "/app/main.js" in kept["cached"]
    assert incident_id not in driver.page_source
    assert "900 000 0009" not in driver.find_element("css selector", "main").text
    assert "railway bridge" not in driver.page_source
    typed = driver.execute_script(
        "return [...document.querySelectorAll('input[type=text], textarea')]"
        ".map((field) => field.value).filter(Boolean);"
    )
    assert typed == [], "nothing typed about the incident stays in a field"

    # The agreement, as the card links to it.
    driver.get(f"{scene.api}/agreement")
    wait(driver, lambda d: shown(d, "agreement"))
    assert "Police officers of a police force" in find(driver, "agreement-access").text
    assert "told" in find(driver, "agreement-told").text
    assert axe_violations(driver) == []
    problems = console_problems(driver)
    assert problems == [], "\n".join(problems)


async def test_the_whole_scene_on_the_tablet(
    browser: Any,  # noqa: F811 - the imported fixture; first, so no Chromium skips at once
    scene: Scene,
) -> None:
    started = time.monotonic()
    await asyncio.to_thread(play, browser, scene)
    assert time.monotonic() - started < 600


def keep_writes_when_the_sign_in_ends(driver: Any, scene: Scene) -> None:
    viewport(driver, TABLET_PORTRAIT)
    sign_in(driver, scene, "entra-nsp", "nsp-officer")
    incident_id = open_incident(driver)
    type_number(driver, "9000000009")
    answer_card(driver, "lookup-number", None)
    tab_outcome = "tab-outcome"
    tap(driver, tab_outcome)
    wait(driver, lambda d: find(d, "outcome-state").text.startswith("Not recorded"))
    signal(driver, online=False)
    tap(driver, "o-code-advice_and_support")
    tap(driver, "save-outcome")
    wait(driver, lambda d: outbox_statuses(d) == ["pending"])

    # The sign-in ends elsewhere (a sign-out on another device, or its time is up).
    (cookie,) = cookies_of(driver, scene.api)
    ended = httpx.post(
        f"{scene.api}/auth/logout",
        headers={"Cookie": f"{cookie['name']}={cookie['value']}", "X-Triage-Session": "1"},
    )
    assert ended.status_code == 200, ended.text
    signal(driver, online=True)
    wait(driver, lambda d: shown(d, "signed-out") and "Your sign-in has ended" in status(d))
    assert "1 change(s) wait on this tablet: sign in again" in status(driver)
    # The write waits; what was looked up is gone.
    assert outbox_statuses(driver) == ["pending"]
    assert "sign in again" in find(driver, "outbox-summary").text
    assert not shown(driver, "flag-card")
    kept = leftovers(driver)
    assert kept["databases"] == ["street-triage"]
    answers = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const open = indexedDB.open('street-triage');"
        "open.onsuccess = () => { const db = open.result;"
        "  const all = db.transaction('answers').objectStore('answers').getAll();"
        "  all.onsuccess = () => { db.close(); done(all.result.length); }; };"
    )
    assert answers == 0

    # Signed in again, the same person's write is sent, once.
    sign_in(driver, scene, "entra-nsp", "nsp-officer")
    wait(driver, outbox_settled)
    api = api_as_signed_in(scene, driver, incident_id)
    assert api.get("/outcome").json()["revision"] == 1

    # A write whose answer was lost is not made twice: the record already holds it (as after a
    # lost answer), so the retry is refused by its If-Match, reads the record, finds it, and stops.
    tap(driver, tab_outcome)
    wait(driver, lambda d: find(d, "outcome-state").get_attribute("data-recorded") == "true")
    signal(driver, online=False)
    find(driver, "o-notes").send_keys(NOTES)
    tap(driver, "save-outcome")
    wait(driver, lambda d: "pending" in outbox_statuses(d))
    read = api.get("/outcome")
    landed = api.put(
        "/outcome",
        json={"codes": read.json()["codes"], "referral_notes": NOTES},
        headers={"If-Match": read.headers["etag"]},
    )
    assert landed.status_code == 200, landed.text
    signal(driver, online=True)
    wait(driver, outbox_settled)
    assert api.get("/outcome").json()["revision"] == 2

    # The outcome changed here with no signal, and meanwhile on another device.
    wait(driver, lambda d: find(d, "outcome-state").text.startswith("Recorded"))
    signal(driver, online=False)
    tap(driver, "o-code-referral_crisis_team")
    tap(driver, "save-outcome")
    wait(driver, lambda d: "pending" in outbox_statuses(d))
    read = api.get("/outcome")
    theirs = read.json()["codes"] + ["handed_to_carer"]
    changed = api.put(
        "/outcome",
        json={"codes": theirs, "referral_notes": "Sister will stay tonight."},
        headers={"If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    signal(driver, online=True)
    wait(driver, lambda d: shown(d, "outcome-conflict") and find_all(d, "diff-row"))
    rows = {row.get_attribute("data-field"): row for row in find_all(driver, "diff-row")}
    assert set(rows) == {"codes", "referral_notes"}
    find_all(rows["codes"], "use-mine")[0].click()
    tap(driver, "resolve-conflict")
    wait(driver, outbox_settled)
    merged = api.get("/outcome").json()
    assert merged["revision"] == 4
    assert sorted(merged["codes"]) == ["advice_and_support", "referral_crisis_team"]
    assert merged["referral_notes"] == "Sister will stay tonight."

    # A deliberate sign-out with a write not sent says what would be lost, and asks.
    wait(driver, lambda d: find(d, "outcome-state").text.startswith("Recorded"))
    signal(driver, online=False)
    tap(driver, "o-code-referral_gp")
    tap(driver, "save-outcome")
    wait(driver, lambda d: "pending" in outbox_statuses(d))
    tap(driver, "sign-out")
    wait(driver, lambda d: shown(d, "confirm-wipe"))
    assert find(driver, "confirm-wipe-text").text.startswith("One change has not been sent yet")
    assert axe_violations(driver) == []
    tap(driver, "confirm-wipe-no")
    assert shown(driver, "signed-in")
    assert "pending" in outbox_statuses(driver)
    tap(driver, "sign-out")
    wait(driver, lambda d: shown(d, "confirm-wipe"))
    tap(driver, "confirm-wipe-yes")
    wait(driver, lambda d: shown(d, "signed-out"))
    kept = leftovers(driver)
    assert kept["databases"] == []
    assert (kept["local"], kept["session"]) == (0, 0)
    signal(driver, online=True)
    # Nothing was sent: the record keeps the last outcome.
    assert api.get("/outcome").json()["revision"] == 4

    # With no signal the service was not told: the sign-in still stands until signed out online,
    # which goes on to the provider's own sign-out.
    driver.get(f"{scene.api}/app")
    wait(driver, lambda d: shown(d, "signed-in"))
    tap(driver, "sign-out")
    wait(driver, lambda d: d.current_url.startswith(scene.provider) and shown(d, "signed-out"))
    assert cookies_of(driver, scene.api) == []

    # The practitioner, on a device of their own, joins the incident by its reference.
    sign_in(driver, scene, "cis2-trusts", "rqi-practitioner")
    wait(driver, lambda d: shown(d, "join-form"))
    assert not shown(driver, "open-new"), "incidents are police work"
    find(driver, "join-id").send_keys(incident_id)
    tap(driver, "join")
    wait(driver, lambda d: shown(d, "screen-lookup"))
    assert find(driver, "bound-cad").get_attribute("textContent") == "LP-20261129-0412"
    problems = console_problems(driver, also=SIGN_IN_ENDED)
    assert problems == [], "\n".join(problems)


async def test_writes_wait_for_their_author_when_the_sign_in_ends(
    browser: Any,  # noqa: F811 - the imported fixture; first, so no Chromium skips at once
    scene: Scene,
) -> None:
    await asyncio.to_thread(keep_writes_when_the_sign_in_ends, browser, scene)
