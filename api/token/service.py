"""Token exchange: an identity token and a purpose in, a narrow short-lived token out."""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import audit_event, record
from api.incident.repository import find_accessible_incident
from api.resources import Resources
from api.token import repository
from api.token.schemas import (
    JWT_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
    TokenExchangeRequest,
    TokenResponse,
)
from auth.access_token import AccessClaims
from auth.errors import ExchangeRefused, InvalidToken
from auth.identity import Identity, verify_identity_token
from auth.policy import after_close, check_break_glass_anchor, decide_grant
from models import (
    AuditAction,
    AuditEvent,
    AuditOutcome,
    BreakGlassReview,
    IncidentStatus,
    IssuedToken,
)

MAX_FIELD_LENGTH = 8192


@dataclass(frozen=True)
class Refusal:
    """What is known about a refused exchange, for its audit event."""

    error: ExchangeRefused
    identity: Identity | None
    purpose: str | None

    @property
    def organisation_code(self) -> str | None:
        """The organisation the refused token named, so its information governance sees it."""
        if self.identity is not None:
            return self.identity.organisation_code
        return self.error.organisation_code


@dataclass(frozen=True)
class GrantRequest:
    """What a token is asked for, whoever vouches for the person."""

    purpose: str
    incident_id: str | None = None
    scope: str | None = None
    justification: str | None = None


async def exchange_token(
    session: AsyncSession, resources: Resources, form: TokenExchangeRequest
) -> TokenResponse:
    """RFC 8693: an identity token from a trusted provider and a purpose in, our token out."""
    identity: Identity | None = None
    try:
        _check_form(form)
        assert form.subject_token is not None
        assert form.purpose is not None
        identity = await verify_identity_token(
            form.subject_token,
            resources.issuers,
            now=time.time(),
            role=form.role or None,
            provider_access_token=form.provider_access_token or None,
        )
    except ExchangeRefused as refused:
        raise TokenRefused(Refusal(refused, identity, form.purpose)) from None
    return await issue_token(
        session,
        resources,
        identity,
        GrantRequest(
            purpose=form.purpose,
            incident_id=form.incident_id,
            scope=form.scope,
            justification=form.justification,
        ),
        route="/v1/token",
    )


async def issue_token(
    session: AsyncSession,
    resources: Resources,
    identity: Identity,
    request: GrantRequest,
    *,
    route: str,
    browser_session_id: uuid.UUID | None = None,
) -> TokenResponse:
    """A purpose-bound token for a verified identity, as the agreement allows, recorded and
    audited; `TokenRefused` otherwise. `browser_session_id`: minted for a signed-in page."""
    try:
        incident_id = _incident_id(request.incident_id)
        grant = decide_grant(
            resources.partnership,
            organisation_code=identity.organisation_code,
            role=identity.role,
            purpose_name=request.purpose,
            bound=incident_id is not None,
            requested_scope=request.scope,
            justification=request.justification,
        )
        if incident_id is not None:
            await repository.enter_tenant(session, identity.organisation_code)
            incident = await find_accessible_incident(
                session, incident_id, identity.organisation_code
            )
            if incident is None:
                raise ExchangeRefused(
                    "invalid_target",
                    "incident_not_available",
                    "The incident is not available for this purpose.",
                )
            if grant.break_glass:
                check_break_glass_anchor(
                    resources.partnership,
                    incident_organisation_code=incident.organisation_code,
                    status=incident.status,
                    partner_trust_code=incident.partner_trust_code,
                    practitioner_organisation_code=identity.organisation_code,
                )
            if incident.status == IncidentStatus.closed:
                grant = after_close(grant)
        user = await repository.upsert_user(session, identity)
        if not user.active:
            raise ExchangeRefused(
                "invalid_grant", "principal_inactive", "The subject token is not valid."
            )
    except ExchangeRefused as refused:
        raise TokenRefused(Refusal(refused, identity, request.purpose)) from None

    token, claims = resources.tokens.issue(
        user_id=user.id,
        role=identity.role,
        organisation_code=identity.organisation_code,
        purpose=grant.purpose.name,
        scopes=grant.scopes,
        incident_id=incident_id,
        lifetime_seconds=grant.lifetime_seconds,
        actor={"iss": identity.issuer, "sub": identity.subject},
        now=int(time.time()),
    )
    justification = (request.justification or "").strip() or None
    scope = " ".join(sorted(grant.scopes))
    await repository.record_issued(
        session,
        IssuedToken(
            jti=claims.jti,
            user_id=user.id,
            role=identity.role.value,
            organisation_code=identity.organisation_code,
            purpose=grant.purpose.name,
            scope=scope,
            incident_id=incident_id,
            justification=justification,
            issued_at=datetime.fromtimestamp(claims.issued_at, UTC),
            expires_at=claims.expires_at_datetime,
            browser_session_id=browser_session_id,
        ),
    )

    def audited(action: AuditAction, details: dict[str, object]) -> AuditEvent:
        return audit_event(
            action,
            AuditOutcome.success,
            actor_user_id=user.id,
            actor_name=user.display_name,
            actor_role=identity.role.value,
            actor_organisation_code=identity.organisation_code,
            purpose=grant.purpose.name,
            incident_id=incident_id,
            token_jti=claims.jti,
            route=route,
            details=details,
        )

    details: dict[str, object] = {"scope": scope, "expires_in": grant.lifetime_seconds}
    if identity.assurance_level is not None:
        details["assurance_level"] = identity.assurance_level
    await record(session, audited(AuditAction.token_issue, details))
    if grant.break_glass:
        assert incident_id is not None
        assert justification is not None
        session.add(
            BreakGlassReview(
                token_jti=claims.jti,
                user_id=user.id,
                organisation_code=identity.organisation_code,
                incident_id=incident_id,
                justification=justification,
            )
        )
        await record(
            session, audited(AuditAction.break_glass, {"justification_length": len(justification)})
        )
    return TokenResponse(access_token=token, expires_in=grant.lifetime_seconds, scope=scope)


class TokenRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.error.reason)
        self.refusal = refusal


def _check_form(form: TokenExchangeRequest) -> None:
    for value in form.model_dump().values():
        if isinstance(value, str) and len(value) > MAX_FIELD_LENGTH:
            raise ExchangeRefused("invalid_request", "field_too_long", "A field is too long.")
    if form.grant_type != TOKEN_EXCHANGE_GRANT:
        raise ExchangeRefused(
            "unsupported_grant_type", "grant_type_unsupported", "Only token exchange is supported."
        )
    if form.subject_token_type != JWT_TOKEN_TYPE:
        raise ExchangeRefused(
            "invalid_request",
            "subject_token_type_invalid",
            f"subject_token_type must be {JWT_TOKEN_TYPE}.",
        )
    if not form.subject_token:
        raise ExchangeRefused(
            "invalid_request", "subject_token_missing", "subject_token is required."
        )
    if not form.purpose:
        raise ExchangeRefused("invalid_request", "purpose_missing", "purpose is required.")


def _incident_id(value: str | None) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ExchangeRefused(
            "invalid_request", "incident_id_invalid", "incident_id must be a UUID."
        ) from None


def revocation_target(resources: Resources, token: str) -> AccessClaims | None:
    """The claims of one of our valid tokens, or None (RFC 7009: nothing to do)."""
    try:
        return resources.tokens.verify(token, now=time.time())
    except InvalidToken:
        return None
