"""Everything the provider must refuse, over real HTTP: bad authorization requests (never
redirected to an unregistered address), and bad token, userinfo and sign-out requests."""

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devidp import IssuerKind, create_app, issue_tokens, issuer_urls
from tests.devidp.conftest import REDIRECT_URI, SIGNED_OUT_URI, RunningIdp
from tests.oidc_provider import (
    ClientKeys,
    TestClient,
    authorize_url,
    choose_person,
    code_from,
    pkce_pair,
    provider_config,
    running_provider,
    secret_client,
    token_request,
)

CIS2 = IssuerKind.cis2
ENTRA = IssuerKind.entra


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def fresh_code(idp: RunningIdp, kind: IssuerKind, client: TestClient) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    location = choose_person(
        idp.http,
        authorize_url(idp.base_url, kind, client, code_challenge=challenge),
        "nsp-officer" if kind is ENTRA else "rqi-practitioner",
    )
    return code_from(location), verifier


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


# Authorization endpoint


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": "not-registered"}, "not registered here"),
        (
            {"redirect_uri": "https://attacker.example/callback"},
            "not registered for this application",
        ),
        ({"redirect_uri": REDIRECT_URI + "/extra"}, "not registered for this application"),
    ],
)
def test_an_unknown_client_or_unregistered_redirect_uri_gets_a_page_not_a_redirect(
    idp: RunningIdp, change: dict[str, str], message: str
) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(idp.base_url, ENTRA, idp.secret_client, code_challenge=challenge)
    params = query_of(url) | change
    answer = idp.http.get(url.split("?")[0], params=params)
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert message in answer.text
    assert "attacker" not in answer.text


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
    ],
)
def test_a_bad_authorization_request_is_sent_back_with_an_error(
    idp: RunningIdp, change: dict[str, str | None], error: str
) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(idp.base_url, CIS2, idp.key_client, code_challenge=challenge)
    params = {k: v for k, v in (query_of(url) | change).items() if v is not None}
    answer = idp.http.get(url.split("?")[0], params=params)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    assert query_of(location)["error"] == error
    assert query_of(location)["state"] == "state-1"
    assert "code" not in query_of(location)


def test_cancelling_returns_access_denied(idp: RunningIdp) -> None:
    _, challenge = pkce_pair()
    location = choose_person(
        idp.http,
        authorize_url(idp.base_url, ENTRA, idp.secret_client, code_challenge=challenge),
        None,
    )
    assert query_of(location) | {"error_description": ""} == {
        "error": "access_denied",
        "error_description": "",
        "state": "state-1",
    }


def test_a_sign_in_page_can_be_used_once(idp: RunningIdp) -> None:
    _, challenge = pkce_pair()
    page = idp.http.get(
        authorize_url(idp.base_url, ENTRA, idp.secret_client, code_challenge=challenge)
    )
    request_id = page.text.split('name="request" value="')[1].split('"')[0]
    action = issuer_urls(ENTRA, idp.base_url).authorize
    first = idp.http.post(action, data={"request": request_id, "person": "nsp-officer"})
    second = idp.http.post(action, data={"request": request_id, "person": "nsp-officer"})
    assert first.status_code == 303
    assert second.status_code == 400
    assert "location" not in second.headers


def test_a_person_of_the_other_issuer_cannot_be_chosen(idp: RunningIdp) -> None:
    _, challenge = pkce_pair()
    page = idp.http.get(
        authorize_url(idp.base_url, ENTRA, idp.secret_client, code_challenge=challenge)
    )
    assert 'data-testid="person-nsp-officer"' in page.text
    assert "rqi-practitioner" not in page.text
    request_id = page.text.split('name="request" value="')[1].split('"')[0]
    answer = idp.http.post(
        issuer_urls(ENTRA, idp.base_url).authorize,
        data={"request": request_id, "person": "rqi-practitioner"},
    )
    assert answer.status_code == 400
    assert "location" not in answer.headers


def test_the_sign_in_page_is_locked_down_and_names_client_and_organisation(idp: RunningIdp) -> None:
    _, challenge = pkce_pair()
    page = idp.http.get(authorize_url(idp.base_url, CIS2, idp.key_client, code_challenge=challenge))
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    assert "form-action 'self' http://127.0.0.1:8000;" in csp
    assert "<script" not in page.text
    assert "http" not in page.text.split("<body>")[1].replace(
        issuer_urls(CIS2, idp.base_url).authorize, ""
    )
    assert 'data-testid="client">triage-dashboard-cis2<' in page.text
    for key in (
        "rqi-practitioner",
        "rqi-supervisor",
        "rqi-ig-officer",
        "y05868-practitioner",
        "two-trust-practitioner",
    ):
        assert f'data-testid="person-{key}"' in page.text
    assert "Avonmere Mental Health Partnership NHS Trust" in page.text


# Token endpoint


def test_a_code_can_be_used_once_and_its_reuse_revokes_the_tokens(idp: RunningIdp) -> None:
    code, verifier = fresh_code(idp, CIS2, idp.key_client)
    first = token_request(
        idp.http,
        idp.base_url,
        CIS2,
        idp.key_client,
        code=code,
        code_verifier=verifier,
        auth="private_key_jwt",
    )
    assert first.status_code == 200
    userinfo = issuer_urls(CIS2, idp.base_url).userinfo or ""
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert idp.http.get(userinfo, headers=bearer).status_code == 200

    again = token_request(
        idp.http,
        idp.base_url,
        CIS2,
        idp.key_client,
        code=code,
        code_verifier=verifier,
        auth="private_key_jwt",
    )
    assert_oauth_error(again, "invalid_grant")
    assert idp.http.get(userinfo, headers=bearer).status_code == 401


def test_a_wrong_verifier_is_refused_and_spends_the_code(idp: RunningIdp) -> None:
    code, verifier = fresh_code(idp, ENTRA, idp.secret_client)
    wrong, _ = pkce_pair()
    refused = token_request(
        idp.http,
        idp.base_url,
        ENTRA,
        idp.secret_client,
        code=code,
        code_verifier=wrong,
        auth="client_secret_post",
    )
    assert_oauth_error(refused, "invalid_grant")
    right = token_request(
        idp.http,
        idp.base_url,
        ENTRA,
        idp.secret_client,
        code=code,
        code_verifier=verifier,
        auth="client_secret_post",
    )
    assert_oauth_error(right, "invalid_grant")


def test_a_missing_verifier_is_refused(idp: RunningIdp) -> None:
    code, _ = fresh_code(idp, ENTRA, idp.secret_client)
    refused = token_request(
        idp.http,
        idp.base_url,
        ENTRA,
        idp.secret_client,
        code=code,
        code_verifier=None,
        auth="client_secret_basic",
    )
    assert_oauth_error(refused, "invalid_grant")


def test_the_redirect_uri_must_match_the_authorization_request(idp: RunningIdp) -> None:
    code, verifier = fresh_code(idp, ENTRA, idp.secret_client)
    refused = token_request(
        idp.http,
        idp.base_url,
        ENTRA,
        idp.secret_client,
        code=code,
        code_verifier=verifier,
        auth="client_secret_post",
        redirect_uri="http://localhost:8000/auth/callback",
    )
    assert_oauth_error(refused, "invalid_grant")


def test_a_code_is_bound_to_its_client_and_issuer(idp: RunningIdp) -> None:
    code, verifier = fresh_code(idp, ENTRA, idp.secret_client)
    other_client = token_request(
        idp.http,
        idp.base_url,
        ENTRA,
        idp.key_client,
        code=code,
        code_verifier=verifier,
        auth="private_key_jwt",
    )
    assert_oauth_error(other_client, "invalid_grant")
    code, verifier = fresh_code(idp, ENTRA, idp.secret_client)
    other_issuer = token_request(
        idp.http,
        idp.base_url,
        CIS2,
        idp.secret_client,
        code=code,
        code_verifier=verifier,
        auth="client_secret_post",
    )
    assert_oauth_error(other_issuer, "invalid_grant")


def test_an_expired_code_is_refused() -> None:
    class Clock:
        offset = 0.0

        def __call__(self) -> float:
            return time.time() + self.offset

    clock = Clock()
    client = secret_client("client", REDIRECT_URI)
    app = create_app(provider_config([client], clock=clock))
    with running_provider(app) as base_url, httpx.Client() as http:
        verifier, challenge = pkce_pair()
        location = choose_person(
            http, authorize_url(base_url, ENTRA, client, code_challenge=challenge), "nsp-officer"
        )
        clock.offset = 61
        refused = token_request(
            http,
            base_url,
            ENTRA,
            client,
            code=code_from(location),
            code_verifier=verifier,
            auth="client_secret_post",
        )
    assert_oauth_error(refused, "invalid_grant")


def test_an_unknown_client_or_wrong_secret_is_refused(idp: RunningIdp) -> None:
    code, verifier = fresh_code(idp, ENTRA, idp.secret_client)
    token_url = issuer_urls(ENTRA, idp.base_url).token
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    unknown = idp.http.post(token_url, data=form | {"client_id": "nobody", "client_secret": "x"})
    assert_oauth_error(unknown, "invalid_client", 401)
    wrong_post = idp.http.post(
        token_url, data=form | {"client_id": idp.secret_client.client_id, "client_secret": "wrong"}
    )
    assert_oauth_error(wrong_post, "invalid_client", 401)
    wrong_basic = idp.http.post(token_url, data=form, auth=(idp.secret_client.client_id, "wrong"))
    assert_oauth_error(wrong_basic, "invalid_client", 401)
    assert wrong_basic.headers["www-authenticate"].startswith("Basic")
    nothing = idp.http.post(token_url, data=form | {"client_id": idp.secret_client.client_id})
    assert_oauth_error(nothing, "invalid_client", 401)
    # None of those spent the code: client authentication comes first.
    good = token_request(
        idp.http,
        idp.base_url,
        ENTRA,
        idp.secret_client,
        code=code,
        code_verifier=verifier,
        auth="client_secret_basic",
    )
    assert good.status_code == 200


def test_two_authentication_methods_at_once_are_refused(idp: RunningIdp) -> None:
    code, verifier = fresh_code(idp, ENTRA, idp.secret_client)
    token_url = issuer_urls(ENTRA, idp.base_url).token
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": idp.secret_client.client_id,
        "client_secret": idp.secret_client.secret or "",
    }
    refused = idp.http.post(
        token_url, data=form, auth=(idp.secret_client.client_id, idp.secret_client.secret or "")
    )
    assert_oauth_error(refused, "invalid_request")


def test_only_the_authorization_code_grant_is_served(idp: RunningIdp) -> None:
    refused = idp.http.post(
        issuer_urls(ENTRA, idp.base_url).token,
        data={
            "grant_type": "client_credentials",
            "client_id": idp.secret_client.client_id,
            "client_secret": idp.secret_client.secret or "",
        },
    )
    assert_oauth_error(refused, "unsupported_grant_type")


def assertion_for(
    idp: RunningIdp, kind: IssuerKind, keys: ClientKeys | None = None, **claims: Any
) -> str:
    signer = keys or idp.key_client.keys
    assert signer is not None
    return signer.assertion(
        idp.key_client.client_id, issuer_urls(kind, idp.base_url).token, **claims
    )


# Times are taken when the test runs, not when the module is collected: a suite that reaches this
# test more than ten minutes after collecting it would otherwise send a `nbf` already past.
@pytest.mark.parametrize(
    "bad_claims",
    [
        lambda now: {"aud": "https://elsewhere.example/token"},
        lambda now: {"iss": "someone-else"},
        lambda now: {"sub": "someone-else"},
        lambda now: {"exp": now + 3600},
        lambda now: {"exp": now - 60},
        lambda now: {"exp": None},
        lambda now: {"jti": None},
        lambda now: {"nbf": now + 600},
    ],
)
def test_a_bad_client_assertion_is_refused(
    idp: RunningIdp, bad_claims: Callable[[int], dict[str, Any]]
) -> None:
    claims = bad_claims(int(time.time()))
    code, verifier = fresh_code(idp, CIS2, idp.key_client)
    refused = token_request(
        idp.http,
        idp.base_url,
        CIS2,
        idp.key_client,
        code=code,
        code_verifier=verifier,
        auth="private_key_jwt",
        assertion=assertion_for(idp, CIS2, **claims),
    )
    assert_oauth_error(refused, "invalid_client", 401)


def test_an_assertion_signed_by_another_key_is_refused(idp: RunningIdp) -> None:
    code, verifier = fresh_code(idp, CIS2, idp.key_client)
    assert idp.key_client.keys is not None
    impostor = ClientKeys.generate(kid=idp.key_client.keys.kid)
    refused = token_request(
        idp.http,
        idp.base_url,
        CIS2,
        idp.key_client,
        code=code,
        code_verifier=verifier,
        auth="private_key_jwt",
        assertion=assertion_for(idp, CIS2, keys=impostor),
    )
    assert_oauth_error(refused, "invalid_client", 401)


def test_an_assertion_may_name_the_issuer_as_audience_but_only_once(idp: RunningIdp) -> None:
    assertion = assertion_for(idp, CIS2, aud=issuer_urls(CIS2, idp.base_url).issuer)
    code, verifier = fresh_code(idp, CIS2, idp.key_client)
    accepted = token_request(
        idp.http,
        idp.base_url,
        CIS2,
        idp.key_client,
        code=code,
        code_verifier=verifier,
        auth="private_key_jwt",
        assertion=assertion,
    )
    assert accepted.status_code == 200
    code, verifier = fresh_code(idp, CIS2, idp.key_client)
    replayed = token_request(
        idp.http,
        idp.base_url,
        CIS2,
        idp.key_client,
        code=code,
        code_verifier=verifier,
        auth="private_key_jwt",
        assertion=assertion,
    )
    assert_oauth_error(replayed, "invalid_client", 401)


def test_a_client_authenticates_only_as_registered(idp: RunningIdp) -> None:
    code, verifier = fresh_code(idp, CIS2, idp.key_client)
    token_url = issuer_urls(CIS2, idp.base_url).token
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    key_client_with_a_secret = idp.http.post(
        token_url, data=form | {"client_id": idp.key_client.client_id, "client_secret": ""}
    )
    assert_oauth_error(key_client_with_a_secret, "invalid_client", 401)
    assert idp.key_client.keys is not None
    assertion = idp.key_client.keys.assertion(idp.secret_client.client_id, token_url)
    secret_client_with_a_key = idp.http.post(
        token_url,
        data=form
        | {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    assert_oauth_error(secret_client_with_a_key, "invalid_client", 401)


# Userinfo and sign-out


def test_userinfo_wants_a_valid_bearer_token(idp: RunningIdp) -> None:
    userinfo = issuer_urls(CIS2, idp.base_url).userinfo or ""
    missing = idp.http.get(userinfo)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    made_up = idp.http.get(userinfo, headers={"Authorization": "Bearer not-a-token"})
    assert made_up.status_code == 401
    assert made_up.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_an_entra_access_token_does_not_open_cis2_userinfo(idp: RunningIdp) -> None:
    tokens = issue_tokens(idp.app, "nsp-officer", idp.secret_client.client_id)
    answer = idp.http.get(
        issuer_urls(CIS2, idp.base_url).userinfo or "",
        headers={"Authorization": f"Bearer {tokens.access_token}"},
    )
    assert answer.status_code == 401


def test_sign_out_shows_a_page_or_returns_to_a_registered_address(idp: RunningIdp) -> None:
    end_session = issuer_urls(ENTRA, idp.base_url).end_session
    page = idp.http.get(end_session)
    assert page.status_code == 200
    assert 'data-testid="signed-out"' in page.text

    back = idp.http.get(
        end_session,
        params={
            "client_id": idp.secret_client.client_id,
            "post_logout_redirect_uri": SIGNED_OUT_URI,
            "state": "s",
        },
    )
    assert back.status_code == 303
    assert back.headers["location"] == f"{SIGNED_OUT_URI}?state=s"

    hint = issue_tokens(idp.app, "nsp-officer", idp.secret_client.client_id).id_token
    by_hint = idp.http.get(
        end_session, params={"id_token_hint": hint, "post_logout_redirect_uri": SIGNED_OUT_URI}
    )
    assert by_hint.headers["location"] == SIGNED_OUT_URI

    elsewhere = idp.http.get(
        end_session,
        params={
            "client_id": idp.secret_client.client_id,
            "post_logout_redirect_uri": "https://attacker.example/",
        },
    )
    assert elsewhere.status_code == 400
    assert "location" not in elsewhere.headers
