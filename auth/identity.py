"""Verifying identity tokens from the organisations' identity providers (only at token exchange)."""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from auth.errors import ExchangeRefused, InvalidToken
from auth.issuers import IssuerRegistry, ProviderUnavailable, TrustedIssuer, UserinfoRefused
from auth.jwt import check_claims, decode, read_header, read_unverified_claims
from models import Role

MAX_DISPLAY_NAME_LENGTH = 200
MAX_PROVIDER_TOKEN_LENGTH = 8192
# Claims only access tokens carry (delegated scopes; how the calling application authenticated).
ACCESS_TOKEN_CLAIMS = frozenset({"scp", "appid", "appidacr", "azpacr"})
# NHS CIS2's authentication context: `AAL3_ANY`, `AAL2_...`: the level is the digit.
AAL_ACR = re.compile(r"^AAL([0-3])_")
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
    # NHS CIS2's `idassurancelevel` (3: smartcard or equivalent); None where the provider gives none.
    assurance_level: int | None = None


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
            organisation_code,
        )


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


async def verify_identity_token(
    token: str,
    issuers: IssuerRegistry,
    *,
    now: float,
    role: str | None = None,
    provider_access_token: str | None = None,
    nonce: str | None = None,
) -> Identity:
    """A verified identity, or `ExchangeRefused` saying why.

    `role` names one of our roles when the provider's values map to several; `provider_access_token`
    is the user's access token at a `cis2` provider, used once to read its userinfo; `nonce` (the
    browser sign-in) must match the token's.
    """
    try:
        return await _verify(
            token,
            issuers,
            now=now,
            requested_role=role,
            provider_access_token=provider_access_token,
            nonce=nonce,
        )
    except InvalidToken as exc:
        raise ExchangeRefused(
            "invalid_grant", exc.reason, "The subject token is not valid."
        ) from None


async def _verify(
    token: str,
    issuers: IssuerRegistry,
    *,
    now: float,
    requested_role: str | None,
    provider_access_token: str | None,
    nonce: str | None,
) -> Identity:
    if requested_role is not None and requested_role not in Role.__members__:
        raise ExchangeRefused("invalid_request", "role_invalid", "role is not one of the roles.")
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
        token,
        key,
        algorithm=config.algorithm,
        audience=config.audience,
        issuer=config.issuer,
        require_jti=False,
        # Ties the access token used for userinfo to this identity token, where it says so.
        access_token=provider_access_token if config.profile == "cis2" else None,
    )
    # Identity tokens as providers issue them: Entra ID's carry `uti`, not `jti`, and live an
    # hour or more; the issuer's own cap bounds them. Our own tokens keep both rules.
    check_claims(
        claims,
        audience=config.audience,
        now=now,
        max_lifetime_seconds=config.max_lifetime_seconds,
        require_nbf=False,
        require_jti=False,
    )
    if nonce is not None and claims.get("nonce") != nonce:
        raise InvalidToken("nonce_invalid")
    # An access token from the same provider for the same application (Entra ID's carry our
    # client id as `aud`, and an app's roles) is not a person signing in.
    if ACCESS_TOKEN_CLAIMS & claims.keys() or claims.get("idtyp") == "app":
        raise InvalidToken("not_an_identity_token")
    if "azp" in claims and claims["azp"] != config.audience:
        raise InvalidToken("azp_invalid")
    wanted = Role(requested_role) if requested_role is not None else None
    try:
        return await _mapped_identity(config, claims, issuers, provider_access_token, wanted)
    except InvalidToken as exc:
        raise ExchangeRefused(
            "invalid_grant", exc.reason, "The subject token is not valid.", verified=True
        ) from None
    except ExchangeRefused as exc:
        exc.verified = True
        raise


async def _mapped_identity(
    config: TrustedIssuer,
    claims: dict[str, Any],
    issuers: IssuerRegistry,
    provider_access_token: str | None,
    wanted: Role | None,
) -> Identity:
    """Role and organisation, as the issuer's profile and maps say, of a verified token."""
    if config.profile == "cis2":
        return await _cis2_identity(config, claims, issuers, provider_access_token, wanted)
    organisation = asserted_organisation(config, claims.get(config.org_claim))
    try:
        role = choose_role(mapped_roles(config, claims.get(config.role_claim)), wanted)
    except InvalidToken as exc:
        raise _refused_for(exc, organisation) from None
    except ExchangeRefused as exc:
        exc.organisation_code = organisation
        raise
    return Identity(
        issuer=config.issuer,
        subject=claims["sub"],
        display_name=_shown_name(claims.get(config.name_claim, ""), role),
        role=role,
        organisation_code=organisation,
    )


def _refused_for(exc: InvalidToken, organisation: str) -> ExchangeRefused:
    """A verified person refused for what the provider says of them, audited for their
    organisation."""
    return ExchangeRefused(
        "invalid_grant", exc.reason, "The subject token is not valid.", organisation
    )


def mapped_roles(config: TrustedIssuer, value: object) -> frozenset[Role]:
    """Our roles for the provider's value(s): a string or a list of strings (Entra's `roles`)."""
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, list) and len(value) <= 200 and all(isinstance(v, str) for v in value):
        values = value
    else:
        raise InvalidToken("role_invalid")
    if config.role_map:
        return frozenset(config.role_map[v] for v in values if v in config.role_map)
    return frozenset(Role(v) for v in values if v in Role.__members__)


def choose_role(roles: frozenset[Role], wanted: Role | None) -> Role:
    """The one role the identity acts in.

    | roles mapped | `role` asked     | result                          |
    |--------------|------------------|---------------------------------|
    | none         | any              | invalid_grant `role_not_mapped` |
    | one          | none or that one | that role                       |
    | one          | another          | invalid_grant `role_not_held`   |
    | several      | none             | invalid_request `role_required` |
    | several      | one of them      | that role                       |
    | several      | another          | invalid_grant `role_not_held`   |
    """
    if not roles:
        raise InvalidToken("role_not_mapped")
    if wanted is not None:
        if wanted not in roles:
            raise InvalidToken("role_not_held")
        return wanted
    if len(roles) > 1:
        raise ExchangeRefused(
            "invalid_request",
            "role_required",
            "The identity holds several roles here: name one with the role parameter.",
        )
    return next(iter(roles))


async def _cis2_identity(
    config: TrustedIssuer,
    claims: dict[str, Any],
    issuers: IssuerRegistry,
    access_token: str | None,
    wanted: Role | None,
) -> Identity:
    if not access_token or len(access_token) > MAX_PROVIDER_TOKEN_LENGTH:
        raise ExchangeRefused(
            "invalid_request",
            "provider_access_token_missing",
            "provider_access_token is required for this identity provider.",
        )
    try:
        userinfo = await issuers.userinfo(config.issuer, access_token)
    except UserinfoRefused:
        raise InvalidToken("userinfo_refused") from None
    except ProviderUnavailable:
        raise ExchangeRefused(
            "temporarily_unavailable",
            "userinfo_unavailable",
            "The identity provider could not be asked for the role in use; try again.",
        ) from None
    selected = cis2_selection(config, claims, userinfo)
    organisation = asserted_organisation(config, selected.organisation_code)
    try:
        role = choose_role(selected.roles, wanted)
    except ExchangeRefused as exc:
        exc.organisation_code = organisation
        raise
    except InvalidToken as exc:
        raise _refused_for(exc, organisation) from None
    if selected.assurance_level < config.least_assurance(role):
        raise _refused_for(InvalidToken("assurance_too_low"), organisation)
    # CIS2 writes `name` title last ("Priya Raman Ms"): given and family names read better.
    given, family = userinfo.get("given_name"), userinfo.get("family_name")
    if isinstance(given, str) and isinstance(family, str) and (given or family):
        name: object = f"{given} {family}"
    else:
        name = userinfo.get("name", claims.get(config.name_claim, ""))
    return Identity(
        issuer=config.issuer,
        subject=claims["sub"],
        display_name=_shown_name(name, role),
        role=role,
        organisation_code=organisation,
        assurance_level=selected.assurance_level,
    )


@dataclass(frozen=True)
class Cis2Selection:
    roles: frozenset[Role]
    organisation_code: str
    assurance_level: int


def cis2_selection(
    config: TrustedIssuer, claims: dict[str, Any], userinfo: dict[str, Any]
) -> Cis2Selection:
    """The role in use, read from userinfo as NHS CIS2 gives it.

    | condition                                                   | refusal                         |
    |-------------------------------------------------------------|---------------------------------|
    | userinfo `sub` is not the identity token's                  | `userinfo_subject_mismatch`     |
    | no `selected_roleid`, or the identity token names another   | `selected_role_missing`         |
    | no `nhsid_nrbac_roles` entry with that `person_roleid`      | `selected_role_missing`         |
    | the entry's `role_code` or `org_code` unusable              | `role_invalid` / `org_invalid`  |
    | `idassurancelevel` missing or not 0-3                       | `assurance_invalid`             |
    | the token's `authentication_assurance_level` (or `acr`      | `assurance_invalid`             |
    |   `AAL<n>_...`) missing or not 0-3                          |                                 |

    The level the session holds is the lower of identity and authentication assurance.
    """
    # OpenID Connect Core 5.3.2: a userinfo answer about someone else is never used.
    if userinfo.get("sub") != claims["sub"]:
        raise InvalidToken("userinfo_subject_mismatch")
    selected = userinfo.get("selected_roleid")
    in_token = claims.get("selected_roleid")
    if (
        not isinstance(selected, str)
        or not selected
        or (in_token is not None and in_token != selected)
    ):
        raise InvalidToken("selected_role_missing")
    entries = userinfo.get("nhsid_nrbac_roles")
    entry = next(
        (
            item
            for item in (entries if isinstance(entries, list) else [])
            if isinstance(item, dict) and item.get("person_roleid") == selected
        ),
        None,
    )
    if entry is None:
        raise InvalidToken("selected_role_missing")
    role_code = entry.get("role_code")
    if not isinstance(role_code, str) or not 1 <= len(role_code) <= 100:
        raise InvalidToken("role_invalid")
    # `S8000:G8000:R8000`: activity set, job category, job role; the job role is what we map.
    job_role = role_code.rsplit(":", 1)[-1]
    organisation = entry.get("org_code")
    if not isinstance(organisation, str):
        raise InvalidToken("org_invalid")
    # How well the person was identified when registered (userinfo) and how strongly they
    # signed in this time (the identity token): a smartcard holder who signed in with a password
    # today is at the lower of the two.
    identified = _level(userinfo.get("idassurancelevel"))
    if "authentication_assurance_level" in claims:
        authenticated = _level(claims["authentication_assurance_level"])
    else:
        match = AAL_ACR.match(claims["acr"]) if isinstance(claims.get("acr"), str) else None
        authenticated = int(match.group(1)) if match else None
    if identified is None or authenticated is None:
        raise InvalidToken("assurance_invalid")
    return Cis2Selection(
        roles=mapped_roles(config, job_role),
        organisation_code=organisation,
        assurance_level=min(identified, authenticated),
    )


def _level(value: object) -> int | None:
    """An assurance level 0-3, as a number or a numeric string; None for anything else."""
    if isinstance(value, str) and value in {"0", "1", "2", "3"}:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
        return value
    return None


def _shown_name(name: object, role: Role) -> str:
    if not isinstance(name, str) or len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise InvalidToken("name_invalid")
    return display_name(name, role)
