"""The provider over HTTP: both issuers' routes on one FastAPI app, and `issue_tokens` for tests."""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from devidp.config import ProviderConfig
from devidp.pages import choose_person_page, content_security_policy, error_page, signed_out_page
from devidp.people import ENTRA_ORGANISATION_NAME, IssuerKind
from devidp.provider import (
    PROVIDER_NAMES,
    BearerError,
    OAuthError,
    PageError,
    Provider,
    RedirectError,
    Tokens,
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(config: ProviderConfig) -> FastAPI:
    app = FastAPI(
        title="Development OpenID Connect provider",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    provider = Provider(config)
    app.state.provider = provider

    @app.get("/_idp/health")
    async def report_health() -> dict[str, str]:
        """Whether the provider is serving."""
        return {"status": "ok"}

    for kind in IssuerKind:
        _IssuerEndpoints(provider, kind).mount(app)
    return app


def _page(html: str, status: int = 200, csp: str | None = None) -> HTMLResponse:
    headers = PAGE_HEADERS | {"Content-Security-Policy": csp or content_security_policy()}
    return HTMLResponse(html, status_code=status, headers=headers)


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


class _IssuerEndpoints:
    """One issuer's routes; each method is an endpoint."""

    def __init__(self, provider: Provider, kind: IssuerKind):
        self.provider = provider
        self.kind = kind
        self.urls = provider.urls[kind]
        self.name = PROVIDER_NAMES[kind]

    async def describe_provider(self) -> JSONResponse:
        """The OpenID Provider configuration document."""
        return JSONResponse(self.provider.discovery(self.kind))

    async def publish_keys(self) -> JSONResponse:
        """The provider's public signing keys."""
        return JSONResponse(self.provider.jwks(self.kind))

    async def show_people(self, request: Request) -> Response:
        """Check an authorization request and list the people who may sign in."""
        params = {key: request.query_params.getlist(key) for key in request.query_params}
        try:
            request_id, client = self.provider.begin(self.kind, params)
        except PageError as exc:
            return _page(error_page(str(exc)), 400)
        except RedirectError as exc:
            return _redirect(exc.location)
        organisation = ENTRA_ORGANISATION_NAME if self.kind is IssuerKind.entra else "NHS staff"
        html = choose_person_page(
            provider_name=self.name,
            client_id=client.client_id,
            organisation=organisation,
            action=self.urls.authorize,
            request_id=request_id,
            people=self.provider.people_for(self.kind),
        )
        return _page(html, csp=content_security_policy(params["redirect_uri"][-1]))

    async def choose_person(self, request: Request) -> Response:
        """Sign in as the chosen person and return to the application with a code."""
        form = await request.form()
        request_id = form.get("request")
        person = form.get("person")
        cancelled = form.get("cancel") is not None
        if not isinstance(request_id, str) or (not cancelled and not isinstance(person, str)):
            return _page(error_page("The sign-in form was incomplete."), 400)
        try:
            location = self.provider.choose(
                self.kind, request_id, None if cancelled else str(person)
            )
        except PageError as exc:
            return _page(error_page(str(exc)), 400)
        except RedirectError as exc:
            return _redirect(exc.location)
        return _redirect(location)

    async def exchange_code(self, request: Request) -> JSONResponse:
        """Exchange an authorization code for an ID token and an access token."""
        form = await request.form()
        fields = {key: [str(v) for v in form.getlist(key)] for key in form}
        try:
            tokens = self.provider.exchange(self.kind, fields, request.headers.get("authorization"))
        except OAuthError as exc:
            headers = dict(NO_STORE)
            if exc.basic_challenge:
                headers["WWW-Authenticate"] = 'Basic realm="token"'
            return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
        return JSONResponse(tokens.response(), headers=NO_STORE)

    async def describe_user(self, request: Request) -> JSONResponse:
        """The signed-in person's claims, for a bearer access token."""
        try:
            claims = self.provider.userinfo(self.kind, request.headers.get("authorization"))
        except BearerError as exc:
            challenge = f'Bearer error="{exc.error}"' if exc.error else 'Bearer realm="userinfo"'
            return JSONResponse(
                {"error": exc.error or "invalid_request"},
                status_code=401,
                headers=NO_STORE | {"WWW-Authenticate": challenge},
            )
        return JSONResponse(claims, headers=NO_STORE)

    async def sign_out(self, request: Request) -> Response:
        """End the session: back to a registered address, or a signed-out page."""
        params = dict(request.query_params)
        if request.method == "POST":
            params |= {key: str(value) for key, value in (await request.form()).items()}
        try:
            location = self.provider.end_session(self.kind, params)
        except PageError as exc:
            return _page(error_page(str(exc)), 400)
        if location is None:
            return _page(signed_out_page(self.name))
        return _redirect(location)

    def mount(self, app: FastAPI) -> None:
        routes: list[tuple[str | None, Callable[..., Awaitable[Any]], list[str]]] = [
            (self.urls.discovery, self.describe_provider, ["GET"]),
            (self.urls.jwks, self.publish_keys, ["GET"]),
            (self.urls.authorize, self.show_people, ["GET"]),
            (self.urls.authorize, self.choose_person, ["POST"]),
            (self.urls.token, self.exchange_code, ["POST"]),
            (self.urls.end_session, self.sign_out, ["GET", "POST"]),
            (self.urls.userinfo, self.describe_user, ["GET", "POST"]),
        ]
        for url, endpoint, methods in routes:
            if url is not None:
                app.add_api_route(
                    urlsplit(url).path,
                    endpoint,
                    methods=methods,
                    name=f"{self.kind.value}.{endpoint.__name__}",
                )


def issue_tokens(
    app_or_provider: FastAPI | Provider,
    person_key: str,
    client_id: str,
    nonce: str | None = None,
    scopes: frozenset[str] | None = None,
) -> Tokens:
    """Tokens for a person as the provider would give them after sign-in, without a browser; the
    access token works at the CIS2 userinfo endpoint."""
    provider = (
        app_or_provider if isinstance(app_or_provider, Provider) else app_or_provider.state.provider
    )
    assert isinstance(provider, Provider)
    return provider.issue(person_key, client_id, nonce, scopes)
