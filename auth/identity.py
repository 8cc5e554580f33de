"""Verifying identity tokens from the organisations' identity providers (only at token exchange)."""

import unicodedata
from dataclasses import dataclass

from auth.errors import ExchangeRefused, InvalidToken
from auth.issuers import IssuerRegistry, TrustedIssuer
from auth.jwt import check_claims, decode, read_header, read_unverified_claims
from models import Role

MAX_DISPLAY_NAME_LENGTH = 200
# Control, format (bidirectional overrides and isolates, zero-width characters), surrogates, and
# line or paragraph separators: none belongs in a name, and some make a name read as another.
_UNSHOWN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Shown for a user whose identity token names no one (or only invisible characters).
ROLE_TITLES: dict[Role, str] = {
    Role.officer: "Police officer",
    Role.mh_practitioner: "Mental health practitioner",
    Role.supervisor: "Supervisor",
    Role.ig_officer: "Information governance officer",
}


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    display_name: str
    role: Role
    organisation_code: str


class OrganisationNotAllowed(ExchangeRefused):
    """A trusted identity provider asserted an organisation it does not speak for.

    Carries the organisation claimed, so that organisation's information governance sees the
    attempt to act as one of its staff.
    """

    def __init__(self, organisation_code: str) -> None:
        super().__init__(
            "invalid_grant",
            "organisation_not_allowed_for_issuer",
            "The identity provider may not assert this organisation.",
        )
        self.organisation_code = organisation_code


def display_name(name: str, role: Role) -> str:
    """The name as shown and stored: whitespace of any kind folded to single spaces, no control or
    format characters, trimmed; the role's title when nothing visible is left."""
    visible = "".join(
        " " if character.isspace() else character
        for character in name
        if character.isspace() or unicodedata.category(character) not in _UNSHOWN_CATEGORIES
    )
    folded = " ".join(visible.split())
    return folded or ROLE_TITLES[role]


def asserted_organisation(config: TrustedIssuer, claimed: object) -> str:
    """The organisation the identity acts for: the issuer's fixed one, or a claimed one it lists.

    `InvalidToken("org_invalid")` for a malformed claim, `OrganisationNotAllowed` for one the
    issuer may not assert. An issuer with no organisations (development only) asserts any.
    """
    if claimed is not None and (not isinstance(claimed, str) or not 1 <= len(claimed) <= 10):
        raise InvalidToken("org_invalid")
    if config.organisation is not None:
        if claimed is not None and claimed != config.organisation:
            raise OrganisationNotAllowed(claimed)
        return config.organisation
    if claimed is None:
        raise InvalidToken("org_invalid")
    if config.organisations and claimed not in config.organisations:
        raise OrganisationNotAllowed(claimed)
    return claimed


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
    name = claims.get(config.name_claim, "")
    if not isinstance(role, str) or role not in Role.__members__:
        raise InvalidToken("role_invalid")
    organisation = asserted_organisation(config, claims.get(config.org_claim))
    if not isinstance(name, str) or len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise InvalidToken("name_invalid")
    return Identity(
        issuer=config.issuer,
        subject=claims["sub"],
        display_name=display_name(name, Role(role)),
        role=Role(role),
        organisation_code=organisation,
    )
