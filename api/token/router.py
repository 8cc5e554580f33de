"""Token exchange (RFC 8693), revocation (RFC 7009) and our public keys. Public routes: they check
their own credentials in the body rather than a bearer token."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from api.anonymous import count_anonymous_refusal
from api.audit.repository import audit_event, record, record_refusal
from api.dependencies import ResourcesDep, SessionDep
from api.errors import PROBLEM_CONTENT_TYPE, Problem, ServiceError
from api.token import repository
from api.token.schemas import TokenExchangeRequest, TokenResponse
from api.token.service import Refusal, TokenRefused, exchange_token, revocation_target
from models import AuditAction, AuditOutcome

router = APIRouter(tags=["tokens"])


class TokenRequestError(ServiceError):
    """RFC 6749 section 5.2 error, as problem details carrying `error` and `error_description`."""

    status = 400
    type_slug = "token-request"
    title = "Token request refused"


class ProviderUnavailableError(ServiceError):
    """The identity provider could not be asked (a `cis2` provider's userinfo): try again."""

    status = 503
    type_slug = "identity-provider-unavailable"
    title = "Identity provider unavailable"

    def __init__(self, detail: str, *, extra: dict[str, Any]) -> None:
        super().__init__(detail, headers={"Retry-After": "30"}, extra=extra)


_OAUTH_ERROR: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "RFC 6749 error: `error` is invalid_request, invalid_grant, invalid_scope, "
        "invalid_target or unsupported_grant_type",
        "content": {PROBLEM_CONTENT_TYPE: {}},
    },
    503: {
        "model": Problem,
        "description": "The identity provider could not be asked for the role in use "
        "(`error` is temporarily_unavailable); try again after `Retry-After` seconds",
        "content": {PROBLEM_CONTENT_TYPE: {}},
    },
}


@router.post("/v1/token", response_model=TokenResponse, responses=_OAUTH_ERROR)
async def exchange_identity_token(
    form: Annotated[TokenExchangeRequest, Form()],
    session: SessionDep,
    resources: ResourcesDep,
    request: Request,
    response: Response,
) -> TokenResponse:
    """Exchange an identity token for a purpose-bound access token (RFC 8693)."""
    try:
        issued = await exchange_token(session, resources, form)
    except TokenRefused as exc:
        raise refused_exchange(session, request, exc.refusal, "/v1/token") from None
    response.headers["Pragma"] = "no-cache"
    return issued


def refused_exchange(
    session: AsyncSession, request: Request, refusal: Refusal, route: str
) -> ServiceError:
    """Audit a refused exchange and give the RFC 6749 error to raise.

    A refusal naming an organisation is chained for that organisation's information governance;
    one with no identity we could verify is counted (api/anonymous.py), held by the token routes'
    own rate limit.
    """
    identity = refusal.identity
    if refusal.organisation_code is None:
        count_anonymous_refusal(
            request, AuditAction.token_refuse, route, refusal.error.reason, limit=False
        )
    else:
        record_refusal(
            session,
            audit_event(
                AuditAction.token_refuse,
                AuditOutcome.denied,
                reason=refusal.error.reason,
                actor_name=identity.display_name if identity else None,
                actor_role=identity.role.value if identity else None,
                actor_organisation_code=refusal.organisation_code,
                purpose=refusal.purpose if refusal.purpose and len(refusal.purpose) <= 40 else None,
                route=route,
                details={"error": refusal.error.error},
            ),
        )
    error_class = (
        ProviderUnavailableError
        if refusal.error.error == "temporarily_unavailable"
        else TokenRequestError
    )
    return error_class(
        refusal.error.description,
        extra={"error": refusal.error.error, "error_description": refusal.error.description},
    )


@router.post("/v1/token/revoke", status_code=200, response_class=Response)
async def revoke_token(
    token: Annotated[str, Form(max_length=8192)],
    session: SessionDep,
    resources: ResourcesDep,
    token_type_hint: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """Revoke one of our tokens (RFC 7009). Answers 200 whether or not the token was valid."""
    claims = revocation_target(resources, token)
    if claims is not None:
        await repository.revoke(
            session, jti=claims.jti, expires_at=claims.expires_at_datetime, reason="holder_revoked"
        )
        # Carries the token's organisation, so its information governance sees the revocation.
        await record(
            session,
            audit_event(
                AuditAction.token_revoke,
                AuditOutcome.success,
                actor_user_id=claims.user_id,
                actor_role=claims.role.value,
                actor_organisation_code=claims.organisation_code,
                purpose=claims.purpose,
                incident_id=claims.incident_id,
                token_jti=claims.jti,
                route="/v1/token/revoke",
            ),
        )
    return Response(status_code=200)


@router.get("/.well-known/jwks.json")
async def publish_signing_keys(
    resources: ResourcesDep, response: Response
) -> dict[str, list[dict[str, str]]]:
    """The public keys that verify this API's tokens (several during a rotation)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return resources.tokens.keys.public_jwks()
