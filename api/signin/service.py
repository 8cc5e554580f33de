"""Browser sign-in: the API signs a person in with their organisation's provider and holds the
session; the page gets only our short, purpose-bound tokens, minted on request, in memory.

Why this shape (a token-mediating backend rather than tokens from the provider in the page): the
provider's tokens and the client's credentials (NHS CIS2 expects a confidential client) never reach
the browser; every data route keeps one kind of credential, our bearer token, which is never
ambient, so no data route can be driven by a forged cross-site request; and ending the session
revokes what it minted.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlencode

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import audit_event, record, record_refusal
from api.errors import ServiceError
from api.resources import Resources
from api.signin import repository
from api.token import repository as token_repository
from api.token.schemas import TokenResponse
from api.token.service import GrantRequest, issue_token
from auth.errors import ExchangeRefused, InvalidToken
from auth.identity import Identity, asserted_organisation, verify_identity_token
from auth.issuers import ProviderUnavailable, TrustedIssuer
from auth.oidc import SignInFailed, begin_authorization, redeem_code
from auth.policy import may_hold_role
from models import AuditAction, AuditOutcome, BrowserSession, Role, SignInAttempt, utcnow

# The pages a sign-in may return to: never a URL from the request, so never an open redirect.
RETURN_PAGES = frozenset({"/dashboard", "/app"})
ATTEMPT_LIFETIME = timedelta(minutes=10)
# Far more than every member of staff of a partnership signing in within ten minutes.
MAX_ATTEMPTS_UNDER_WAY = 10_000
CALLBACK_ROUTE = "/auth/callback"


class UnknownProvider(ServiceError):
    status = 404
    type_slug = "sign-in-provider-not-found"
    title = "No such sign-in provider"


class InvalidSignInRequest(ServiceError):
    status = 400
    type_slug = "sign-in-request"
    title = "Sign-in request not valid"


class ProviderNotAnswering(ServiceError):
    status = 503
    type_slug = "sign-in-provider-unavailable"
    title = "The sign-in provider is not answering"


class NotSignedIn(ServiceError):
    status = 401
    type_slug = "not-signed-in"
    title = "Not signed in"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Started:
    provider_url: str
    attempt_secret: str


async def start_sign_in(
    session: AsyncSession,
    resources: Resources,
    *,
    provider_id: str,
    return_to: str,
    role: str | None,
    own_callback: str,
) -> Started:
    """An authorization request to the provider, remembered for this browser for ten minutes."""
    config = resources.issuers.by_id(provider_id)
    if config is None or config.sign_in is None:
        raise UnknownProvider("No sign-in provider has this id.")
    if return_to not in RETURN_PAGES:
        raise InvalidSignInRequest("return_to must be one of this API's pages.")
    if role is not None and role not in Role.__members__:
        raise InvalidSignInRequest("role is not one of the roles.")
    try:
        metadata = await resources.issuers.metadata(config.issuer)
    except ProviderUnavailable:
        raise ProviderNotAnswering(
            "The provider's configuration could not be read; try again shortly.",
            headers={"Retry-After": "30"},
        ) from None
    if await repository.attempts_under_way(session) >= MAX_ATTEMPTS_UNDER_WAY:
        # A flood of abandoned sign-ins is held here, not in the table or at the provider.
        raise ProviderNotAnswering(
            "Too many sign-ins are under way; try again shortly.", headers={"Retry-After": "30"}
        )
    redirect_uri = str(config.sign_in.redirect_uri or own_callback)
    try:
        authorization = begin_authorization(metadata, config.sign_in, redirect_uri)
    except SignInFailed:
        raise ProviderNotAnswering("The provider offers no authorization endpoint.") from None
    attempt_secret = secrets.token_urlsafe(32)
    now = utcnow()
    await repository.add_attempt(
        session,
        SignInAttempt(
            secret_hash=secret_hash(attempt_secret),
            provider_id=provider_id,
            state=authorization.state,
            nonce=authorization.nonce,
            code_verifier=authorization.code_verifier,
            redirect_uri=redirect_uri,
            return_to=return_to,
            role=role,
            created_at=now,
            expires_at=now + ATTEMPT_LIFETIME,
        ),
    )
    return Started(provider_url=authorization.url, attempt_secret=attempt_secret)


@dataclass(frozen=True)
class Finished:
    """Where the browser goes next, and what to tell the page (`signed_in` or why not)."""

    return_to: str
    outcome: str
    session_secret: str | None = None
    # Why not, as a code for the operators' log: never a token, code or personal detail.
    reason: str | None = None


async def finish_sign_in(
    session: AsyncSession,
    resources: Resources,
    *,
    attempt_secret: str | None,
    code: str | None,
    state: str | None,
    error: str | None,
    previous_session_secret: str | None = None,
) -> Finished:
    """Complete the sign-in the provider sent the browser back from; a session on success,
    which ends the one this browser held before (one person signed in at a time)."""
    attempt = (
        await repository.take_attempt(session, secret_hash(attempt_secret))
        if attempt_secret
        else None
    )
    if attempt is None:
        return Finished("/dashboard", "expired", reason="no_attempt")
    problem = _callback_problem(attempt, code=code, state=state, error=error)
    if problem is not None:
        return Finished(attempt.return_to, problem, reason=f"callback_{problem}")
    assert code is not None
    finished = await _sign_in(session, resources, attempt, code)
    if finished.session_secret is not None and previous_session_secret:
        await sign_out(session, resources, previous_session_secret)
    return finished


def _callback_problem(
    attempt: SignInAttempt, *, code: str | None, state: str | None, error: str | None
) -> str | None:
    if attempt.expires_at <= utcnow():
        return "expired"
    # The state ties this answer to the request this browser made: another's code is refused.
    if state is None or not secrets.compare_digest(state.encode(), attempt.state.encode()):
        return "failed"
    if error is not None:
        return "cancelled" if error == "access_denied" else "failed"
    return "failed" if code is None else None


async def _sign_in(
    session: AsyncSession, resources: Resources, attempt: SignInAttempt, code: str
) -> Finished:
    config = resources.issuers.by_id(attempt.provider_id)
    client = resources.sign_in_clients.get(attempt.provider_id)
    if config is None or client is None:
        return Finished(attempt.return_to, "failed", reason="provider_not_configured")
    identity: Identity | None = None
    try:
        metadata = await resources.issuers.metadata(config.issuer)
        tokens = await redeem_code(
            resources.http,
            metadata,
            client,
            code=code,
            code_verifier=attempt.code_verifier,
            redirect_uri=attempt.redirect_uri,
        )
        identity = await verify_identity_token(
            tokens.id_token,
            resources.issuers,
            now=time.time(),
            role=attempt.role,
            provider_access_token=tokens.access_token,
            nonce=attempt.nonce,
        )
        if identity.issuer != config.issuer:
            raise ExchangeRefused("invalid_grant", "issuer_mismatch", "Another provider's token.")
        # Before the user is written: an organisation the provider may assert but the
        # partnership does not hold, or a role its kind may not hold, signs no one in.
        if not may_hold_role(resources.partnership, identity.organisation_code, identity.role):
            raise ExchangeRefused("invalid_grant", "role_not_held", "Not in the agreement.")
        user = await token_repository.upsert_user(session, identity)
        if not user.active:
            raise ExchangeRefused("invalid_grant", "principal_inactive", "Not active.")
    except ProviderUnavailable:
        return Finished(attempt.return_to, "failed", reason="provider_unavailable")
    except SignInFailed as failed:
        return Finished(attempt.return_to, "failed", reason=failed.reason)
    except ExchangeRefused as refused:
        if identity is None and not refused.verified:
            # Nobody the provider vouched for (a bad signature, a nonce, CIS2 not answering).
            return Finished(attempt.return_to, "failed", reason=refused.reason)
        if identity is not None or refused.organisation_code is not None:
            _record_refused_sign_in(session, config, refused, identity)
        return Finished(attempt.return_to, "refused", reason=refused.reason)
    session_secret = secrets.token_urlsafe(32)
    now = utcnow()
    browser_session = BrowserSession(
        secret_hash=secret_hash(session_secret),
        provider_id=attempt.provider_id,
        user_id=user.id,
        issuer=identity.issuer,
        subject=identity.subject,
        display_name=identity.display_name,
        role=identity.role.value,
        organisation_code=identity.organisation_code,
        assurance_level=identity.assurance_level,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=resources.settings.session_max_seconds),
    )
    await repository.add_session(session, browser_session)
    details: dict[str, object] = {"provider": attempt.provider_id, "page": attempt.return_to}
    if identity.assurance_level is not None:
        details["assurance_level"] = identity.assurance_level
    await record(
        session,
        audit_event(
            AuditAction.sign_in,
            AuditOutcome.success,
            actor_user_id=user.id,
            actor_name=user.display_name,
            actor_role=identity.role.value,
            actor_organisation_code=identity.organisation_code,
            route=CALLBACK_ROUTE,
            details=details,
        ),
    )
    return Finished(attempt.return_to, "signed_in", session_secret)


def _record_refused_sign_in(
    session: AsyncSession,
    config: TrustedIssuer,
    refused: ExchangeRefused,
    identity: Identity | None,
) -> None:
    """A provider's user we could not sign in, written for the organisation they act for (the
    organisation the provider named, when it may not assert it); otherwise the provider's own."""
    organisation = identity.organisation_code if identity is not None else refused.organisation_code
    record_refusal(
        session,
        audit_event(
            AuditAction.sign_in_refuse,
            AuditOutcome.denied,
            reason=refused.reason,
            actor_name=identity.display_name if identity else None,
            actor_role=identity.role.value if identity else None,
            actor_organisation_code=organisation,
            route=CALLBACK_ROUTE,
            details={"provider": config.id, "error": refused.error},
        ),
    )


async def signed_in(
    session: AsyncSession,
    resources: Resources,
    session_secret: str | None,
    *,
    lock: bool = False,
) -> BrowserSession:
    """The live session this browser holds, its user still active; `NotSignedIn` otherwise."""
    if not session_secret or len(session_secret) > 200:
        raise NotSignedIn("Sign in first.")
    idle_after = utcnow() - timedelta(seconds=resources.settings.session_idle_seconds)
    browser_session = await repository.live_session(
        session, secret_hash(session_secret), idle_after=idle_after, lock=lock
    )
    if browser_session is None:
        raise NotSignedIn("The sign-in has ended; sign in again.")
    return browser_session


async def mint_token(
    session: AsyncSession,
    resources: Resources,
    session_secret: str | None,
    request: GrantRequest,
) -> TokenResponse:
    """One of our tokens for the signed-in person, as the agreement allows, for the page."""
    browser_session = await signed_in(session, resources, session_secret, lock=True)
    # The trusted issuers may have changed since the sign-in: the provider must still be
    # trusted, and still vouch for the organisation, for the session to act.
    config = resources.issuers.by_id(browser_session.provider_id)
    if config is None or config.issuer != browser_session.issuer:
        raise NotSignedIn("The sign-in provider is no longer trusted here; sign in again.")
    try:
        asserted_organisation(config, browser_session.organisation_code)
    except (ExchangeRefused, InvalidToken):
        raise NotSignedIn("The provider no longer vouches for this organisation.") from None
    await repository.touch_session(session, browser_session.id)
    identity = Identity(
        issuer=browser_session.issuer,
        subject=browser_session.subject,
        display_name=browser_session.display_name,
        role=Role(browser_session.role),
        organisation_code=browser_session.organisation_code,
        assurance_level=browser_session.assurance_level,
    )
    return await issue_token(
        session,
        resources,
        identity,
        request,
        route="/auth/session/token",
        browser_session_id=browser_session.id,
    )


async def sign_out(
    session: AsyncSession, resources: Resources, session_secret: str | None
) -> str | None:
    """End the session and revoke what it minted; the provider's own sign-out page, if any."""
    try:
        browser_session = await signed_in(session, resources, session_secret, lock=True)
    except NotSignedIn:
        return None
    revoked = await repository.end_session(session, browser_session.id)
    await record(
        session,
        audit_event(
            AuditAction.sign_out,
            AuditOutcome.success,
            actor_user_id=browser_session.user_id,
            actor_name=browser_session.display_name,
            actor_role=browser_session.role,
            actor_organisation_code=browser_session.organisation_code,
            route="/auth/logout",
            details={"provider": browser_session.provider_id, "tokens_revoked": revoked},
        ),
    )
    config = resources.issuers.by_id(browser_session.provider_id)
    if config is None or config.sign_in is None:
        return None
    try:
        metadata = await resources.issuers.metadata(config.issuer)
    except ProviderUnavailable:
        return None
    if metadata.end_session_endpoint is None:
        return None
    separator = "&" if "?" in metadata.end_session_endpoint else "?"
    query = urlencode({"client_id": config.sign_in.client_id}, quote_via=quote)
    return f"{metadata.end_session_endpoint}{separator}{query}"


async def forget_ended(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Delete sign-ins never completed and sessions that have ended or expired."""
    async with sessionmaker() as session, session.begin():
        return await repository.delete_expired(session, before=utcnow())
