"""Supervisors sign in to the dashboard through their organisation's identity provider, in a real
headless Chromium: the development OpenID provider and the API each serve real HTTP, on two sites
(`localhost` and `127.0.0.1`) as a provider and a service would be.

What it proves: the authorization code flow with PKCE ends in a session cookie the page's script
cannot read; no token, verifier or session secret ever appears in a URL or in the browser's
storage; a callback cannot be replayed; signing out ends the session and revokes every token the
page minted from it.

Needs `chromium`, `chromedriver` and `selenium`, as tests/api/test_dashboard.py does.
"""

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from api.settings import Settings
from devidp import CIS2_ROLE_MAP, DEMO_ROLE_MAP, IssuerKind, ProviderConfig, issuer_urls
from tests.api.test_dashboard import (
    ARTIFACTS,
    assert_quarter_drawn,
    browser,  # noqa: F401 - a fixture
    console_problems,
    serious_accessibility_violations,
    serving,
    settings,  # noqa: F401 - a fixture: the demo partnership with a second force
)
from tests.oidc_provider import ClientKeys, TestClient, running_provider
from tests.processes import free_port

QUARTER = {"from": "2025-01-01", "to": "2025-04-01"}
WAIT_SECONDS = 20
# Query parameters that would carry a credential; the authorization `code` is the flow's own,
# single use and bound to the PKCE verifier the browser never sees.
CREDENTIAL_PARAMETERS = frozenset(
    {
        "access_token",
        "id_token",
        "refresh_token",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "id_token_hint",
        "subject_token",
    }
)
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")


@dataclass(frozen=True)
class Supervisor:
    """Who signs in, with which provider, and what the dashboard then says."""

    provider_id: str
    person_key: str
    name: str
    role: str
    organisation: str
    incidents: int


FORCE_SUPERVISOR = Supervisor("entra-nsp", "nsp-supervisor", "Sam Okafor", "supervisor", "NSP", 7)
# The report tests' quarter names RQI as the trust in six of its incidents. CIS2's `name` ends
# with the person's title ("USERQ RANDOM Mr"); the API shows given and family names instead.
TRUST_SUPERVISOR = Supervisor(
    "cis2-trusts", "rqi-supervisor", "Priya Raman", "supervisor", "RQI", 6
)


@dataclass(frozen=True)
class World:
    api: str
    provider: str
    client_secret: str


def issuers_file(
    directory: Path, provider: str, callback: str, force: TestClient, trust: TestClient
) -> Path:
    """The force's Entra-shaped tenant (client_secret_post) and the trusts' CIS2-shaped issuer
    (private_key_jwt), both with browser sign-in."""
    assert force.secret is not None
    assert trust.keys is not None
    (directory / "entra-client-secret.txt").write_text(force.secret)
    (directory / "cis2-client-key.json").write_text(json.dumps(trust.keys.private_jwks))
    entra = issuer_urls(IssuerKind.entra, provider)
    cis2 = issuer_urls(IssuerKind.cis2, provider)
    document = {
        "issuers": [
            {
                "id": "entra-nsp",
                "title": "Northshire Police",
                "issuer": entra.issuer,
                "audience": force.client_id,
                "discovery_url": entra.discovery,
                "algorithms": ["RS256"],
                "role_claim": "roles",
                "role_map": DEMO_ROLE_MAP,
                "organisation": "NSP",
                # Entra's ID tokens live 60 to 90 minutes.
                "max_lifetime_seconds": 5400,
                "sign_in": {
                    "client_id": force.client_id,
                    "client_auth": "client_secret_post",
                    "client_secret_file": "entra-client-secret.txt",
                    "scopes": ["openid", "profile"],
                    "redirect_uri": callback,
                },
            },
            {
                "id": "cis2-trusts",
                "title": "NHS Care Identity Service",
                "issuer": cis2.issuer,
                "audience": trust.client_id,
                "discovery_url": cis2.discovery,
                "algorithms": ["RS256"],
                "profile": "cis2",
                "role_map": CIS2_ROLE_MAP,
                "organisations": ["RQI", "Y05868"],
                "sign_in": {
                    "client_id": trust.client_id,
                    "client_auth": "private_key_jwt",
                    "client_key_file": "cis2-client-key.json",
                    "client_key_algorithm": trust.keys.algorithm,
                    "scopes": [
                        "openid",
                        "profile",
                        "nhsperson",
                        "nationalrbacaccess",
                        "selectedrole",
                    ],
                    "redirect_uri": callback,
                },
            },
        ]
    }
    path = directory / "trusted-issuers.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
async def world(
    settings: Settings,  # noqa: F811 - the imported fixture
    database_server_url: str,
    tmp_path: Path,
) -> AsyncIterator[World]:
    """The provider on `localhost`, the API on `127.0.0.1`: another site, as in the field."""
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    callback = f"{api}/auth/callback"
    force = TestClient("triage-dashboard-nsp", callback, secret=secrets.token_urlsafe(32))
    trust = TestClient(
        "triage-dashboard-cis2", callback, keys=ClientKeys.generate(algorithm="RS512")
    )
    config = ProviderConfig(
        base_url=f"http://localhost:{free_port()}",
        clients=[force.registration(), trust.registration()],
    )
    with running_provider(config) as provider:
        trusted = issuers_file(tmp_path, provider, callback, force, trust)
        async with serving(
            settings.model_copy(update={"trusted_issuers": trusted}), database_server_url, api_port
        ) as server:
            assert server.url == api
            assert force.secret is not None
            yield World(api=api, provider=provider, client_secret=force.secret)


class NetworkLog:
    """Every request the browser made, from Chrome's performance log (read as it fills: reading
    empties it)."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.events: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        for entry in self.driver.get_log("performance"):
            self.events.append(json.loads(entry["message"])["message"])
        return self.events

    def requests(self) -> list[dict[str, Any]]:
        """Each request as sent: method, url (with any fragment) and the headers the page set."""
        return [
            event["params"]["request"]
            for event in self.read()
            if event["method"] == "Network.requestWillBeSent"
        ]

    def urls(self) -> list[str]:
        """Every URL the browser asked for, was redirected to, or showed in its address bar."""
        found: list[str] = []
        for event in self.read():
            params = event.get("params", {})
            if event["method"] == "Network.requestWillBeSent":
                found.append(params["request"]["url"] + params["request"].get("urlFragment", ""))
                redirect = params.get("redirectResponse")
                if redirect is not None:
                    found.append(redirect["url"])
                    found.extend(
                        value
                        for name, value in redirect["headers"].items()
                        if name.lower() == "location"
                    )
            elif event["method"] == "Network.responseReceived":
                found.append(params["response"]["url"])
            elif event["method"] == "Page.frameNavigated":
                found.append(params["frame"]["url"] + params["frame"].get("urlFragment", ""))
        return found

    def bearer_tokens(self) -> set[str]:
        """The access tokens the page sent, from its requests' Authorization headers."""
        return {
            value.removeprefix("Bearer ")
            for request in self.requests()
            for name, value in request.get("headers", {}).items()
            if name.lower() == "authorization"
        }

    def count(self, method: str, url: str) -> int:
        return sum(
            1
            for request in self.requests()
            if request["method"] == method and request["url"] == url
        )


def cookies_of(driver: Any, origin: str) -> list[dict[str, Any]]:
    """All of the browser's cookies for an origin's host, HttpOnly ones included (which script
    cannot read)."""
    found: list[dict[str, Any]] = driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    return [cookie for cookie in found if cookie["domain"] == urlsplit(origin).hostname]


def wait(driver: Any, until: Any) -> None:
    """Wait for a condition; if it never comes, fail saying where the browser is and what the
    page says."""
    from selenium.common.exceptions import TimeoutException  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    try:
        WebDriverWait(driver, WAIT_SECONDS).until(until)
    except TimeoutException:
        page = driver.find_element(By.TAG_NAME, "body").text
        pytest.fail(f"waited in vain at {driver.current_url}; the page says: {page[:300]!r}")


def by_testid(driver: Any, testid: str) -> Any:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return driver.find_element(By.CSS_SELECTOR, f"[data-testid='{testid}']")


def shown(driver: Any, testid: str) -> bool:
    from selenium.common.exceptions import NoSuchElementException  # noqa: PLC0415

    try:
        return bool(by_testid(driver, testid).is_displayed())
    except NoSuchElementException:
        return False


def show_quarter(driver: Any) -> str:
    """Ask for the report tests' quarter and wait for the page to say how it went."""
    driver.execute_script(
        f"document.getElementById('from').value = '{QUARTER['from']}';"
        f"document.getElementById('to').value = '{QUARTER['to']}';"
    )
    driver.execute_script("document.getElementById('status').textContent = '';")
    by_testid(driver, "load").click()
    wait(driver, lambda d: by_testid(d, "status").text not in ("", "Loading…"))
    text: str = by_testid(driver, "status").text
    return text


def assert_no_credential_in(urls: list[str], secrets_: set[str]) -> None:
    """Each URL carries no fragment, no credential parameter, nothing shaped like a JWT and none
    of the given secrets. Failures name the URL's path only: the rest may be a credential."""
    for url in urls:
        parts = urlsplit(url)
        where = f"{parts.scheme}://{parts.netloc}{parts.path}"
        assert parts.fragment == "", f"a fragment in {where}"
        named = CREDENTIAL_PARAMETERS & set(parse_qs(parts.query))
        assert not named, f"{sorted(named)} in {where}"
        assert JWT.search(url) is None, f"a JWT in {where}"
        assert not any(secret in url for secret in secrets_), f"a secret in {where}"


def refreshes(response: httpx.Response, name: str) -> bool:
    """Whether a response sets the cookie `name` to a value (rather than clearing it)."""
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if name in cookie and cookie[name].value:
            return True
    return False


@pytest.mark.parametrize(
    "supervisor", [FORCE_SUPERVISOR, TRUST_SUPERVISOR], ids=lambda s: s.provider_id
)
async def test_a_supervisor_signs_in_reads_the_report_and_signs_out(
    world: World,
    browser: Any,  # noqa: F811 - the imported fixture
    supervisor: Supervisor,
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    network = NetworkLog(browser)

    signed_out_screen: list[dict[str, Any]] = []

    def sign_in() -> list[dict[str, Any]]:
        browser.get(f"{world.api}/dashboard")
        wait(browser, lambda d: shown(d, "signed-out"))
        signed_out_screen.extend(serious_accessibility_violations(browser))
        button = by_testid(browser, f"sign-in-{supervisor.provider_id}")
        assert button.tag_name == "a"
        button.click()
        # The provider's own page, on its own site: the person chooses who they are.
        wait(
            browser,
            lambda d: d.find_elements(
                By.CSS_SELECTOR, f"[data-testid='person-{supervisor.person_key}']"
            ),
        )
        assert browser.current_url.startswith(world.provider)
        attempt = cookies_of(browser, world.api)
        by_testid(browser, f"person-{supervisor.person_key}").click()
        wait(browser, lambda d: d.current_url.startswith(world.api) and shown(d, "signed-in"))
        return attempt

    attempt_cookies = await asyncio.to_thread(sign_in)
    assert signed_out_screen == []
    # While the person is at the provider, the API holds one thing in the browser: an HttpOnly
    # cookie naming the sign-in under way, sent back with the provider's top-level redirect.
    assert [(c["httpOnly"], c["sameSite"]) for c in attempt_cookies] == [(True, "Lax")]

    assert browser.current_url == f"{world.api}/dashboard"
    assert by_testid(browser, "who-name").text == supervisor.name
    assert by_testid(browser, "who-role").text == supervisor.role
    assert by_testid(browser, "who-organisation").text == supervisor.organisation

    status = await asyncio.to_thread(show_quarter, browser)
    assert status == (
        f"Showing {supervisor.organisation}, 2025-01-01 to 2025-04-01 (Europe/London),"
        f" {supervisor.incidents} incidents."
    )
    if supervisor.organisation == "NSP":
        assert_quarter_drawn(browser)
    assert await asyncio.to_thread(serious_accessibility_violations, browser) == []
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / f"dashboard-{supervisor.provider_id}.png"))

    # The session is one cookie script cannot read; the page keeps nothing anywhere.
    session_cookies = cookies_of(browser, world.api)
    assert len(session_cookies) == 1, session_cookies
    session_cookie = session_cookies[0]
    assert session_cookie["httpOnly"] is True
    assert session_cookie["secure"] is True
    assert session_cookie["sameSite"] == "Strict"
    assert session_cookie["path"] == "/"
    assert session_cookie["name"].startswith("__Host-")
    assert browser.execute_script("return document.cookie") == ""
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0
    databases = browser.execute_async_script(
        "const done = arguments[0]; indexedDB.databases().then((all) => done(all.length));"
    )
    assert databases == 0

    # The page minted one supervision token and sends it as a header, nowhere else.
    mint = f"{world.api}/auth/session/token"
    assert network.count("POST", mint) == 1
    page_tokens = network.bearer_tokens()
    assert len(page_tokens) == 1
    (page_token,) = page_tokens

    callbacks = [url for url in network.urls() if url.startswith(f"{world.api}/auth/callback?")]
    assert len(set(callbacks)) == 1, callbacks
    callback = callbacks[0]
    assert set(parse_qs(urlsplit(callback).query)) == {"code", "state"}
    authorizations = {url for url in network.urls() if "code_challenge=" in url}
    assert len(authorizations) == 1
    assert parse_qs(urlsplit(authorizations.pop()).query)["code_challenge_method"] == ["S256"]

    cookie_header = {"Cookie": f"{session_cookie['name']}={session_cookie['value']}"}
    quarter_url = f"{world.api}/v1/reports/outcomes"
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
        # What the browser holds works, so the refusals below are the sign-out's doing.
        assert (
            await http.get(f"{world.api}/auth/session", headers=cookie_header)
        ).status_code == 200
        page_read = await http.get(
            quarter_url, params=QUARTER, headers={"Authorization": f"Bearer {page_token}"}
        )
        assert page_read.status_code == 200
        minted = await http.post(
            mint,
            json={"purpose": "supervision", "scope": "report:read"},
            headers=cookie_header | {"X-Triage-Session": "1"},
        )
        assert minted.status_code == 200, minted.text
        lifetime = minted.json()["expires_in"]
        other_token = minted.json()["access_token"]

        # The callback is single use: the same URL again, even with the sign-in cookie the
        # browser had, signs nobody in.
        attempt_header = {"Cookie": "; ".join(f"{c['name']}={c['value']}" for c in attempt_cookies)}
        for headers in (attempt_header, {}):
            replay = await http.get(callback, headers=headers)
            assert replay.status_code == 303
            target = urlsplit(replay.headers["location"])
            assert target.path == "/dashboard"
            assert parse_qs(target.query)["sign_in"][0] in {"failed", "expired"}
            assert not refreshes(replay, session_cookie["name"])

    # The page reuses its token until 30 s before it expires, then mints another. Its clock is
    # moved on, not waited for; the steps add up, and allow the test 10 s of its own.
    def show_later(seconds: int) -> str:
        browser.execute_script(
            "const now = Date.now.bind(Date); const shift = arguments[0] * 1000;"
            "Date.now = () => now() + shift;",
            seconds,
        )
        return show_quarter(browser)

    assert (await asyncio.to_thread(show_later, 0)).startswith("Showing")
    assert network.count("POST", mint) == 1
    assert (await asyncio.to_thread(show_later, lifetime - 40)).startswith("Showing")
    assert network.count("POST", mint) == 1
    assert (await asyncio.to_thread(show_later, 12)).startswith("Showing")
    assert network.count("POST", mint) == 2
    page_tokens = network.bearer_tokens()
    assert len(page_tokens) == 2

    def sign_out() -> None:
        by_testid(browser, "sign-out").click()
        # On to the provider's own sign-out page: its sign-in ends too.
        wait(browser, lambda d: d.current_url.startswith(world.provider) and shown(d, "signed-out"))

    await asyncio.to_thread(sign_out)
    assert cookies_of(browser, world.api) == []

    async with httpx.AsyncClient(timeout=10) as http:
        ended = await http.get(f"{world.api}/auth/session", headers=cookie_header)
        assert ended.status_code == 401
        again = await http.post(
            mint, json={"purpose": "supervision"}, headers=cookie_header | {"X-Triage-Session": "1"}
        )
        assert again.status_code == 401
        for token in (*page_tokens, other_token):
            refused = await http.get(
                quarter_url, params=QUARTER, headers={"Authorization": f"Bearer {token}"}
            )
            assert refused.status_code == 401

    def come_back() -> None:
        browser.get(f"{world.api}/dashboard")
        wait(browser, lambda d: shown(d, "signed-out"))

    await asyncio.to_thread(come_back)

    secrets_ = {
        world.client_secret,
        page_token,
        *page_tokens,
        other_token,
        session_cookie["value"],
        *(cookie["value"] for cookie in attempt_cookies),
    }
    urls = network.urls()
    assert urls, "the performance log recorded no request"
    assert_no_credential_in(urls, secrets_)
    assert console_problems(browser) == []


@pytest.mark.parametrize(
    ("choice", "said"),
    [
        ("cancel", "Sign-in was cancelled."),
        # An officer is who the provider says, but the dashboard is the supervisors'.
        (
            "person-nsp-officer",
            "Your account was recognised, but its role or organisation may not use this service."
            " Ask your administrator.",
        ),
    ],
)
async def test_a_sign_in_that_ends_without_a_session_is_said_plainly_and_leaves_no_trace(
    world: World,
    browser: Any,  # noqa: F811 - the imported fixture
    choice: str,
    said: str,
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    def try_to_sign_in() -> None:
        browser.get(f"{world.api}/dashboard")
        wait(browser, lambda d: shown(d, "signed-out"))
        by_testid(browser, "sign-in-entra-nsp").click()
        wait(browser, lambda d: shown(d, choice))
        by_testid(browser, choice).click()
        wait(browser, lambda d: d.current_url.startswith(world.api) and shown(d, "signed-out"))
        wait(browser, lambda d: by_testid(d, "status").text != "")

    await asyncio.to_thread(try_to_sign_in)
    assert by_testid(browser, "status").text == said
    # Said once: the outcome is gone from the address bar, so a reload does not repeat it.
    assert browser.current_url == f"{world.api}/dashboard"
    assert cookies_of(browser, world.api) == []
    links = [
        (link.text, link.get_attribute("href"))
        for link in by_testid(browser, "providers").find_elements(By.TAG_NAME, "a")
    ]
    login = f"{world.api}/auth/login?provider="
    assert links == [
        (
            "Sign in with Northshire Police",
            f"{login}entra-nsp&return_to=%2Fdashboard&role=supervisor",
        ),
        (
            "Sign in with NHS Care Identity Service",
            f"{login}cis2-trusts&return_to=%2Fdashboard&role=supervisor",
        ),
    ]
    assert console_problems(browser) == []
