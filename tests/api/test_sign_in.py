"""Browser sign-in: the authorization code flow with PKCE through the development OpenID provider
over real HTTP, the session the API holds, the tokens it mints for the page, and sign-out."""

import logging
import uuid
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from api.settings import Settings
from models import AuditEvent, BrowserSession, UserAccount, utcnow
from tests.identity_provider import KeyMaterial
from tests.oidc_provider import choose_person
from tests.sign_in_providers import (
    API,
    CALLBACK,
    SignInProviders,
    settings_with_providers,
    sign_in_providers,  # noqa: F401 - the module's provider fixture
)

SESSION = "__Host-triage-session"
ATTEMPT = "__Host-triage-sign-in"
ON_SESSION = {"X-Triage-Session": "1"}


@pytest.fixture
def settings(
    settings: Settings,
    key_material: KeyMaterial,
    sign_in_providers: SignInProviders,  # noqa: F811
    tmp_path: Path,
) -> Settings:
    return settings_with_providers(settings, key_material, sign_in_providers, tmp_path)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The API as a browser at its https address reaches it: cookies kept, redirects not followed."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=API
        ) as client,
    ):
        try:
            yield client
        finally:
            app.state.anonymous_traffic.refusals.drain()


def set_cookies(response: httpx.Response) -> dict[str, Any]:
    """Each cookie the response sets, with its attributes."""
    cookies: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            cookies[name] = morsel
    return cookies


async def begin(browser: httpx.AsyncClient, provider: str, **query: str) -> httpx.Response:
    return await browser.get(
        "/auth/login", params={"provider": provider, "return_to": "/dashboard", **query}
    )


async def sign_in(
    browser: httpx.AsyncClient, providers: SignInProviders, provider: str, person: str, **query: str
) -> httpx.Response:
    """The whole flow: our login route, the provider's page (a person chosen), our callback."""
    started = await begin(browser, provider, **query)
    assert started.status_code == 303, started.text
    with httpx.Client() as to_provider:
        back = choose_person(to_provider, started.headers["location"], person)
    assert back.startswith(CALLBACK)
    return await browser.get(back.removeprefix(API))


def outcome(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    return query["sign_in"][0] if "sign_in" in query else location


async def test_the_providers_are_listed_for_the_sign_in_buttons(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/auth/providers")
    assert response.status_code == 200
    assert response.json()["providers"] == [
        {"id": "northshire-police", "title": "Northshire Police"},
        {"id": "nhs-cis2", "title": "NHS smartcard"},
    ]


async def test_sign_in_starts_an_authorization_request_with_pkce(
    browser: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
) -> None:
    response = await begin(browser, "northshire-police", role="supervisor")
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    query = {name: values[0] for name, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}".startswith(sign_in_providers.base_url)
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"] == "openid profile"
    assert len(query["state"]) >= 43
    assert len(query["nonce"]) >= 43
    assert "code_verifier" not in query
    cookie = set_cookies(response)[ATTEMPT]
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"provider": "northshire-police", "return_to": "https://evil.example/"}, 400),
        ({"provider": "northshire-police", "return_to": "//evil.example"}, 400),
        ({"provider": "northshire-police", "return_to": "/dashboard", "role": "chief"}, 400),
        ({"provider": "nowhere", "return_to": "/dashboard"}, 404),
        # The tests' usual provider has no sign_in block: it signs no browser in.
        ({"provider": "", "return_to": "/dashboard"}, 404),
    ],
)
async def test_sign_in_goes_only_to_configured_providers_and_back_to_our_pages(
    browser: httpx.AsyncClient, query: dict[str, str], status: int
) -> None:
    response = await browser.get("/auth/login", params=query)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert "location" not in response.headers


async def test_a_supervisor_signs_in_gets_a_token_for_the_page_and_signs_out(
    browser: httpx.AsyncClient,
    connection: AsyncConnection,
    sign_in_providers: SignInProviders,  # noqa: F811
) -> None:
    done = await sign_in(
        browser, sign_in_providers, "northshire-police", "nsp-supervisor", role="supervisor"
    )
    assert outcome(done) == "/dashboard"
    cookies = set_cookies(done)
    session_cookie = cookies[SESSION]
    assert session_cookie["httponly"] is True
    assert session_cookie["secure"] is True
    assert session_cookie["samesite"].lower() == "strict"
    assert session_cookie["path"] == "/"
    assert not session_cookie["domain"]
    # The attempt is over: its cookie is cleared.
    assert cookies[ATTEMPT]["max-age"] == "0"

    who = await browser.get("/auth/session")
    assert who.status_code == 200
    assert who.json() | {"expires_at": None} == {
        "name": "Sam Okafor",
        "role": "supervisor",
        "organisation_code": "NSP",
        "expires_at": None,
    }
    # The session cookie alone mints nothing: a cross-site form could send it.
    bare = await browser.post("/auth/session/token", json={"purpose": "supervision"})
    assert bare.status_code == 403
    foreign = await browser.post(
        "/auth/session/token",
        json={"purpose": "supervision"},
        headers=ON_SESSION | {"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    minted = await browser.post(
        "/auth/session/token",
        json={"purpose": "supervision"},
        headers=ON_SESSION | {"Origin": API},
    )
    assert minted.status_code == 200, minted.text
    assert minted.headers["cache-control"] == "no-store"
    token = minted.json()["access_token"]
    assert minted.json()["expires_in"] <= 900
    bearer = {"Authorization": f"Bearer {token}"}
    report = await browser.get(
        "/v1/reports/outcomes", params={"from": "2026-01-01", "to": "2026-02-01"}, headers=bearer
    )
    assert report.status_code == 200, report.text
    # The agreement still decides: a supervisor gets no street-triage token from a session.
    refused = await browser.post(
        "/auth/session/token", json={"purpose": "street-triage"}, headers=ON_SESSION
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_target"

    kept = browser.cookies.get(SESSION)
    assert kept
    out = await browser.post("/auth/logout", headers=ON_SESSION)
    assert out.status_code == 200
    sign_out_url = out.json()["provider_sign_out_url"]
    assert sign_out_url.startswith(sign_in_providers.base_url)
    assert set_cookies(out)[SESSION]["max-age"] == "0"
    # Ended at the API: the session is refused, and so is the token it minted.
    # Even a copy of the cookie kept from before sign-out.
    browser.cookies.set(SESSION, kept, domain="triage.test")
    again = await browser.get("/auth/session")
    assert again.status_code == 401
    revoked = await browser.get(
        "/v1/reports/outcomes", params={"from": "2026-01-01", "to": "2026-02-01"}, headers=bearer
    )
    assert revoked.status_code == 401

    await connection.execute(text("RESET ROLE"))
    actions = (
        await connection.execute(
            select(col(AuditEvent.action), col(AuditEvent.route)).where(
                col(AuditEvent.actor_organisation_code) == "NSP",
                col(AuditEvent.action).in_(["sign_in", "sign_out", "token.issue"]),
            )
        )
    ).all()
    assert ("sign_in", "/auth/callback") in actions
    assert ("token.issue", "/auth/session/token") in actions
    assert ("sign_out", "/auth/logout") in actions


async def test_a_cis2_practitioner_signs_in_with_the_selected_role(
    browser: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
) -> None:
    # private_key_jwt at the provider's token endpoint; the role from userinfo.
    done = await sign_in(browser, sign_in_providers, "nhs-cis2", "two-trust-practitioner")
    assert outcome(done) == "/dashboard"
    who = (await browser.get("/auth/session")).json()
    assert (who["role"], who["organisation_code"]) == ("mh_practitioner", "RQI")
    minted = await browser.post(
        "/auth/session/token", json={"purpose": "crisis-planning"}, headers=ON_SESSION
    )
    assert minted.status_code == 200, minted.text
    first = browser.cookies.get(SESSION)
    # Another person signing in on the same tablet ends the first one's session and tokens.
    done = await sign_in(browser, sign_in_providers, "northshire-police", "nsp-officer")
    assert outcome(done) == "/dashboard"
    assert (await browser.get("/auth/session")).json()["role"] == "officer"
    assert first
    browser.cookies.set(SESSION, first, domain="triage.test")
    assert (await browser.get("/auth/session")).status_code == 401
    bearer = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    assert (await browser.get("/v1/crisis-plans", headers=bearer)).status_code == 401


@pytest.mark.parametrize(
    ("provider", "person", "query", "expected"),
    [
        ("northshire-police", "nsp-finance", {}, "refused"),
        # Two roles and the page did not say which: refused, not guessed.
        ("northshire-police", "nsp-officer-supervisor", {}, "refused"),
        ("northshire-police", "nsp-officer", {"role": "supervisor"}, "refused"),
        ("nhs-cis2", "rqi-password-nurse", {}, "refused"),
        ("nhs-cis2", "rqi-level-two-nurse", {}, "refused"),
        ("nhs-cis2", "other-trust-nurse", {}, "refused"),
        ("nhs-cis2", "rqi-unselected", {}, "refused"),
        # The provider may assert the trust, the partnership does not hold it: no error, no user.
        ("nhs-cis2", "unlisted-partner-nurse", {}, "refused"),
    ],
)
async def test_people_who_may_not_act_here_are_not_signed_in(
    browser: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
    provider: str,
    person: str,
    query: dict[str, str],
    expected: str,
) -> None:
    done = await sign_in(browser, sign_in_providers, provider, person, **query)
    assert outcome(done) == expected
    assert SESSION not in set_cookies(done)
    assert (await browser.get("/auth/session")).status_code == 401


async def test_a_callback_is_used_once_and_only_by_the_browser_that_asked(
    browser: httpx.AsyncClient,
    app: FastAPI,
    sign_in_providers: SignInProviders,  # noqa: F811
) -> None:
    started = await begin(browser, "northshire-police")
    with httpx.Client() as to_provider:
        back = choose_person(to_provider, started.headers["location"], "nsp-officer")
    callback = back.removeprefix(API)
    # Another browser (no sign-in cookie) presenting this code gets nothing.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API) as stranger:
        assert outcome(await stranger.get(callback)) == "expired"
    attempt = browser.cookies.get(ATTEMPT)
    assert attempt
    assert outcome(await browser.get(callback)) == "/dashboard"
    # Replayed, even by the browser that asked, with its sign-in cookie: the attempt is gone.
    browser.cookies.clear()
    browser.cookies.set(ATTEMPT, attempt, domain="triage.test")
    assert outcome(await browser.get(callback)) == "expired"
    assert SESSION not in browser.cookies


async def test_a_wrong_state_or_a_cancelled_sign_in_starts_no_session(
    browser: httpx.AsyncClient,
    sign_in_providers: SignInProviders,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = await begin(browser, "northshire-police")
    with httpx.Client() as to_provider:
        back = choose_person(to_provider, started.headers["location"], "nsp-officer")
    query = parse_qs(urlsplit(back).query)
    with caplog.at_level(logging.INFO, logger="api.signin.router"):
        forged = await browser.get(
            "/auth/callback", params={"code": query["code"][0], "state": "someone-elses-state"}
        )
    assert outcome(forged) == "failed"
    # Said to whoever connects the provider, as a code, with nothing of the request in it.
    (line,) = [record for record in caplog.records if record.getMessage() == "sign_in.failed"]
    assert line.__dict__["fields"] == {"outcome": "failed", "reason": "callback_failed"}
    started = await begin(browser, "northshire-police")
    with httpx.Client() as to_provider:
        cancelled = choose_person(to_provider, started.headers["location"], None)
    assert outcome(await browser.get(cancelled.removeprefix(API))) == "cancelled"
    assert (await browser.get("/auth/session")).status_code == 401


async def test_an_idle_session_ends_and_an_inactive_user_gets_no_token(
    browser: httpx.AsyncClient,
    connection: AsyncConnection,
    sign_in_providers: SignInProviders,  # noqa: F811
) -> None:
    await sign_in(browser, sign_in_providers, "northshire-police", "nsp-officer")
    assert (await browser.get("/auth/session")).status_code == 200
    await connection.execute(text("RESET ROLE"))
    await connection.execute(
        update(UserAccount)
        .where(col(UserAccount.display_name) == "Alex Morgan")
        .values(active=False)
    )
    # A deactivated user's session is over: it mints nothing and says no one is signed in.
    refused = await browser.post(
        "/auth/session/token", json={"purpose": "street-triage"}, headers=ON_SESSION
    )
    assert refused.status_code == 401
    assert (await browser.get("/auth/session")).status_code == 401
    await connection.execute(
        update(UserAccount)
        .where(col(UserAccount.display_name) == "Alex Morgan")
        .values(active=True)
    )
    assert (await browser.get("/auth/session")).status_code == 200
    await connection.execute(
        update(BrowserSession).values(last_used_at=utcnow().replace(year=2025))
    )
    assert (await browser.get("/auth/session")).status_code == 401


async def test_a_session_cookie_of_another_shape_is_simply_not_signed_in(
    browser: httpx.AsyncClient,
) -> None:
    for value in ("", "x" * 300, str(uuid.uuid4()), "'; DROP TABLE browser_session; --"):
        browser.cookies.set(SESSION, value, domain="triage.test")
        response = await browser.get("/auth/session")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        browser.cookies.clear()


@pytest.mark.parametrize(
    ("fetch_site", "status"), [("cross-site", 403), ("same-origin", 303), ("none", 303)]
)
async def test_a_sign_in_cannot_be_started_from_another_sites_page(
    browser: httpx.AsyncClient, fetch_site: str, status: int
) -> None:
    response = await browser.get(
        "/auth/login",
        params={"provider": "northshire-police", "return_to": "/dashboard"},
        headers={"Sec-Fetch-Site": fetch_site},
    )
    assert response.status_code == status
    assert (ATTEMPT in set_cookies(response)) == (status == 303)
