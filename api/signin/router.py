"""Browser sign-in routes: public, since signing in is how a page gets credentials at all.

The session lives in an HttpOnly cookie the page's script cannot read; the routes that act on it
(`POST`) also need a header no cross-site form can send and, when the browser names one, our own
origin. Tokens go to the page in a response body, for its memory, never into a URL or storage.
"""

import logging
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.anonymous import count_anonymous_refusal
from api.dependencies import ResourcesDep, SessionDep
from api.errors import PROBLEM_CONTENT_TYPE, Problem, ServiceError
from api.resources import Resources
from api.settings import Environment
from api.signin import service
from api.signin.schemas import (
    ProviderRead,
    ProvidersRead,
    SessionRead,
    SessionTokenRequest,
    SignedOut,
)
from api.token.router import refused_exchange
from api.token.schemas import TokenResponse
from api.token.service import GrantRequest, TokenRefused
from models import AuditAction

router = APIRouter(tags=["sign-in"])
logger = logging.getLogger(__name__)

SESSION_HEADER = "X-Triage-Session"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}


class CrossSiteRequest(ServiceError):
    status = 403
    type_slug = "cross-site-request"
    title = "Request not from this site"


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {PROBLEM_CONTENT_TYPE: {}}}


class _Cookies:
    """Names and attributes: `__Host-` and Secure everywhere but plain-HTTP development, where
    a browser would drop a Secure cookie."""

    def __init__(self, request: Request, resources: Resources) -> None:
        self.secure = (
            resources.settings.environment != Environment.development
            or request.url.scheme == "https"
        )
        prefix = "__Host-" if self.secure else ""
        self.session = f"{prefix}triage-session"
        self.attempt = f"{prefix}triage-sign-in"

    def set(
        self, response: Response, name: str, value: str, *, max_age: int, same_site: str
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite=same_site,  # type: ignore[arg-type]
        )

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True)


async def same_site_only(
    request: Request,
    resources: ResourcesDep,
    marker: Annotated[str | None, Header(alias=SESSION_HEADER)] = None,
) -> None:
    """A cross-site page can neither send a custom header without our consent (CORS) nor hide
    its origin from a modern browser: both are required. Our origins: the address the request
    reached, and those the providers send browsers back to (the API behind a proxy)."""
    if marker != "1":
        raise CrossSiteRequest(f"Send the {SESSION_HEADER}: 1 header.")
    origin = request.headers.get("origin")
    if origin is None:
        return
    ours = {_origin(str(request.base_url))} | {
        _origin(str(item.sign_in.redirect_uri))
        for item in resources.issuers.sign_in_providers()
        if item.sign_in is not None and item.sign_in.redirect_uri is not None
    }
    if origin.rstrip("/") not in ours:
        raise CrossSiteRequest("The request came from another site.")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@router.get("/auth/providers", response_model=ProvidersRead)
async def list_sign_in_providers(resources: ResourcesDep) -> ProvidersRead:
    """The identity providers a person can sign in with here."""
    return ProvidersRead(
        providers=[
            ProviderRead(id=item.id or "", title=item.title or item.id or "")
            for item in resources.issuers.sign_in_providers()
        ]
    )


@router.get(
    "/auth/login",
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "To the provider's sign-in page"},
        400: _problem("return_to is not one of this API's pages"),
        403: _problem("Started from another site's page"),
        404: _problem("No sign-in provider has this id"),
        503: _problem("The provider's configuration could not be read"),
    },
)
async def begin_sign_in(
    request: Request,
    session: SessionDep,
    resources: ResourcesDep,
    provider: Annotated[str, Query(max_length=40)],
    return_to: Annotated[str, Query(max_length=40)] = "/dashboard",
    role: Annotated[str | None, Query(max_length=30)] = None,
) -> RedirectResponse:
    """Send the browser to its provider (authorization code flow with PKCE)."""
    # A sign-in started from another site's page (with single sign-on at the provider, it would
    # complete unseen and end this browser's session) is refused; typed or from our pages is fine.
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CrossSiteRequest("Sign in from this site's own pages.")
    started = await service.start_sign_in(
        session,
        resources,
        provider_id=provider,
        return_to=return_to,
        role=role,
        own_callback=str(request.url_for("complete_sign_in")),
    )
    response = RedirectResponse(started.provider_url, status_code=303, headers=NO_STORE)
    cookies = _Cookies(request, resources)
    # Lax: it must come back with the provider's top-level redirect to the callback.
    cookies.set(
        response,
        cookies.attempt,
        started.attempt_secret,
        max_age=int(service.ATTEMPT_LIFETIME.total_seconds()),
        same_site="lax",
    )
    return response


@router.get(
    "/auth/callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "To the page that asked, signed in or saying why not"}},
)
async def complete_sign_in(
    request: Request,
    session: SessionDep,
    resources: ResourcesDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=100)] = None,
) -> RedirectResponse:
    """Where the provider sends the browser back; starts the session."""
    cookies = _Cookies(request, resources)
    finished = await service.finish_sign_in(
        session,
        resources,
        attempt_secret=request.cookies.get(cookies.attempt),
        code=code,
        state=state,
        error=error,
        previous_session_secret=request.cookies.get(cookies.session),
    )
    target = finished.return_to
    if finished.outcome != "signed_in":
        target = f"{target}?sign_in={finished.outcome}"
    if finished.outcome != "signed_in":
        # For whoever connects a provider: why, as a code; never a code, token or name.
        logger.info(
            "sign_in.failed",
            extra={"fields": {"outcome": finished.outcome, "reason": finished.reason}},
        )
    if finished.outcome in {"failed", "expired"}:
        # Nobody we could name: counted for information governance, as other refusals are.
        count_anonymous_refusal(
            request,
            AuditAction.sign_in_refuse,
            service.CALLBACK_ROUTE,
            f"callback_{finished.outcome}",
            limit=False,
        )
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    cookies.clear(response, cookies.attempt)
    if finished.session_secret is not None:
        # Strict: no other site's page or link ever sends it.
        cookies.set(
            response,
            cookies.session,
            finished.session_secret,
            max_age=resources.settings.session_max_seconds,
            same_site="strict",
        )
    return response


@router.get(
    "/auth/session",
    response_model=SessionRead,
    responses={401: _problem("Not signed in, or the sign-in has ended")},
)
async def show_sign_in(
    request: Request, response: Response, session: SessionDep, resources: ResourcesDep
) -> SessionRead:
    """Who is signed in to this browser."""
    cookies = _Cookies(request, resources)
    signed_in = await service.signed_in(session, resources, request.cookies.get(cookies.session))
    response.headers.update(NO_STORE)
    return SessionRead(
        name=signed_in.display_name,
        role=signed_in.role,  # type: ignore[arg-type]
        organisation_code=signed_in.organisation_code,
        expires_at=signed_in.expires_at,
    )


# Checked before the body is read: a forged request learns nothing, not even what a body needs.
SameSiteOnly = Depends(same_site_only)


@router.post(
    "/auth/session/token",
    response_model=TokenResponse,
    dependencies=[SameSiteOnly],
    responses={
        400: _problem("RFC 6749 error: the agreement does not give this purpose or scope"),
        401: _problem("Not signed in, or the sign-in has ended"),
        403: _problem(f"No {SESSION_HEADER} header, or another site's request"),
    },
)
async def mint_session_token(
    body: SessionTokenRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    resources: ResourcesDep,
) -> TokenResponse:
    """A purpose-bound access token for the signed-in person, for the page's memory."""
    cookies = _Cookies(request, resources)
    try:
        issued = await service.mint_token(
            session,
            resources,
            request.cookies.get(cookies.session),
            GrantRequest(
                purpose=body.purpose,
                incident_id=body.incident_id,
                scope=body.scope,
                justification=body.justification,
            ),
        )
    except TokenRefused as exc:
        raise refused_exchange(session, request, exc.refusal, "/auth/session/token") from None
    response.headers.update(NO_STORE)
    return issued


@router.post(
    "/auth/logout",
    response_model=SignedOut,
    dependencies=[SameSiteOnly],
    responses={403: _problem(f"No {SESSION_HEADER} header, or another site's request")},
)
async def sign_out(
    request: Request,
    response: Response,
    session: SessionDep,
    resources: ResourcesDep,
) -> SignedOut:
    """End the sign-in here and revoke every token it minted."""
    cookies = _Cookies(request, resources)
    url = await service.sign_out(session, resources, request.cookies.get(cookies.session))
    cookies.clear(response, cookies.session)
    response.headers.update(NO_STORE)
    return SignedOut(provider_sign_out_url=url)


@router.get("/auth/jwks.json")
async def publish_client_keys(
    resources: ResourcesDep, response: Response
) -> dict[str, list[dict[str, Any]]]:
    """The public keys this API signs its client assertions with (`private_key_jwt`)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return {
        "keys": [
            client.public_jwk
            for client in resources.sign_in_clients.values()
            if client.public_jwk is not None
        ]
    }
