"""Every protected route's gate: our token, its revocation and user, the scope, the incident.

A refused request gets 401 or 403 problem+json with `WWW-Authenticate` (RFC 6750), says nothing
about whether the data asked for exists, and leaves an audit event written on its own; a refusal
without a verifiable token is counted instead (`api.anonymous`), and past a rate is 429.
"""

import time
import uuid
from typing import Annotated, NoReturn

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from api.anonymous import count_anonymous_refusal
from api.audit.repository import audit_event, record_refusal
from api.dependencies import ResourcesDep, SessionDep
from api.errors import ServiceError
from api.token.repository import TokenState, token_state
from auth.access_token import AccessClaims
from auth.errors import AuthError, InsufficientAccess, InvalidToken
from auth.policy import may_use_purpose
from auth.principal import Principal
from models import AuditAction, AuditOutcome, Scope

REALM = "street-triage"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="PurposeBoundToken",
    description="A purpose-bound access token from `POST /v1/token`.",
)


class Unauthenticated(ServiceError):
    status = 401
    type_slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(ServiceError):
    status = 403
    type_slug = "forbidden"
    title = "Not allowed"


class Authorizer:
    """Requires a valid token carrying one of `scopes`; returns the principal."""

    def __init__(self, *scopes: Scope) -> None:
        if not scopes:
            raise ValueError("a protected route names at least one scope")
        self.scopes = scopes

    async def __call__(
        self,
        request: Request,
        resources: ResourcesDep,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        claims: AccessClaims | None = None
        state: TokenState | None = None
        try:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise InvalidToken("token_missing")
            claims = resources.tokens.verify(credentials.credentials, now=time.time())
            state = await token_state(
                session,
                user_id=claims.user_id,
                jti=claims.jti,
                organisation_code=claims.organisation_code,
            )
            if state is None or not state.active:
                raise InvalidToken("principal_inactive")
            if state.revoked:
                raise InvalidToken("revoked")
            if not may_use_purpose(
                resources.partnership, claims.organisation_code, claims.role, claims.purpose
            ):
                raise InsufficientAccess("purpose_not_allowed")
            granted = self._granted_scope(claims)
            self._check_incident(request, claims, granted)
        except AuthError as exc:
            self._refuse(request, session, exc, claims, state)
        return Principal(
            user_id=claims.user_id,
            display_name=state.display_name,
            role=claims.role,
            organisation_code=claims.organisation_code,
            purpose=claims.purpose,
            scopes=claims.scopes,
            incident_id=claims.incident_id,
            token_jti=claims.jti,
            expires_at=claims.expires_at_datetime,
        )

    def _granted_scope(self, claims: AccessClaims) -> Scope:
        for scope in self.scopes:
            if scope in claims.scopes:
                return scope
        raise InsufficientAccess("scope_insufficient")

    @staticmethod
    def _check_incident(request: Request, claims: AccessClaims, granted: Scope) -> None:
        if not granted.incident_bound:
            return
        if claims.incident_id is None:
            raise InsufficientAccess("incident_unbound")
        in_path = request.path_params.get("incident_id")
        if in_path is not None:
            try:
                matches = uuid.UUID(str(in_path)) == claims.incident_id
            except ValueError:
                matches = False
            if not matches:
                raise InsufficientAccess("incident_mismatch")

    def _refuse(
        self,
        request: Request,
        session: AsyncSession,
        exc: AuthError,
        claims: AccessClaims | None,
        state: TokenState | None,
    ) -> NoReturn:
        route = getattr(request.scope.get("route"), "path", None)
        if claims is None:
            # No token we could verify: counted, not chained one by one, and held to a rate per
            # client address (429 past it). Anyone can send these, so they must cost nothing.
            count_anonymous_refusal(request, AuditAction.access_refuse, route, exc.reason)
        else:
            record_refusal(
                session,
                audit_event(
                    AuditAction.access_refuse,
                    AuditOutcome.denied,
                    reason=exc.reason,
                    actor_user_id=claims.user_id,
                    actor_name=state.display_name if state else None,
                    actor_role=claims.role.value,
                    actor_organisation_code=claims.organisation_code,
                    purpose=claims.purpose,
                    incident_id=claims.incident_id,
                    token_jti=claims.jti,
                    route=route,
                ),
            )
        if isinstance(exc, InsufficientAccess):
            scopes = " ".join(self.scopes)
            raise Forbidden(
                "The token does not allow this request.",
                headers={
                    "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scopes}"'
                },
            )
        challenge = f'Bearer realm="{REALM}"'
        if exc.reason != "token_missing":
            challenge += ', error="invalid_token"'
        raise Unauthenticated(
            "A valid access token is required.", headers={"WWW-Authenticate": challenge}
        )
