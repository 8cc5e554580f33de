"""Verifying identity tokens from the organisations' identity providers (only at token exchange)."""

from dataclasses import dataclass

from auth.errors import ExchangeRefused, InvalidToken
from auth.issuers import IssuerRegistry
from auth.jwt import check_claims, decode, read_header, read_unverified_claims
from models import Role


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    display_name: str
    role: Role
    organisation_code: str


async def verify_identity_token(token: str, issuers: IssuerRegistry, *, now: float) -> Identity:
    """A verified identity, or `ExchangeRefused("invalid_grant", reason)`."""
    try:
        return await _verify(token, issuers, now=now)
    except InvalidToken as exc:
        raise ExchangeRefused(
            "invalid_grant", exc.reason, "The subject token is not valid."
        ) from None


async def _verify(token: str, issuers: IssuerRegistry, *, now: float) -> Identity:
    unverified_issuer = read_unverified_claims(token).get("iss")
    config = issuers.get(unverified_issuer) if isinstance(unverified_issuer, str) else None
    if config is None:
        raise InvalidToken("issuer_untrusted")
    header = read_header(
        token,
        algorithm=config.algorithm,
        token_types=frozenset(t.lower() for t in config.token_types),
    )
    key = await issuers.key(config.issuer, header["kid"])
    if key is None:
        raise InvalidToken("kid_unknown")
    claims = decode(
        token, key, algorithm=config.algorithm, audience=config.audience, issuer=config.issuer
    )
    check_claims(
        claims,
        audience=config.audience,
        now=now,
        max_lifetime_seconds=config.max_lifetime_seconds,
        require_nbf=False,
    )
    role = claims.get(config.role_claim)
    organisation = claims.get(config.org_claim)
    name = claims.get(config.name_claim, "")
    if not isinstance(role, str) or role not in Role.__members__:
        raise InvalidToken("role_invalid")
    if not isinstance(organisation, str) or not 1 <= len(organisation) <= 10:
        raise InvalidToken("org_invalid")
    if not isinstance(name, str) or len(name) > 200:
        raise InvalidToken("name_invalid")
    return Identity(
        issuer=config.issuer,
        subject=claims["sub"],
        display_name=name.strip() or claims["sub"],
        role=Role(role),
        organisation_code=organisation,
    )
