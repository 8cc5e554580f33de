"""What a token exchange may grant, from the agreement in force. Pure rules: no I/O."""

import unicodedata
from dataclasses import dataclass

from auth.errors import ExchangeRefused
from models import (
    AccessRule,
    IncidentBinding,
    IncidentStatus,
    OrganisationKind,
    Partnership,
    Purpose,
    PurposeOfUse,
    Role,
    Scope,
    UserAccount,
)

# Break-glass tokens live two minutes whatever the agreement file says.
BREAK_GLASS_LIFETIME_SECONDS = 120
MAX_JUSTIFICATION_LENGTH = 2000
# A break-glass is always justified in words, whatever the agreement file says: at least this many
# visible characters, of which this many letters.
BREAK_GLASS_JUSTIFICATION_MIN_LENGTH = 20
JUSTIFICATION_MIN_LETTERS = 10
# Invisible yet not whitespace or format characters (fillers and blanks, some of them letters).
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")
# Scopes that only police forces' roles get from a purpose; anyone else only from an access rule
# that names them (`explicit_scopes`): incidents are police work.
POLICE_SCOPES = frozenset({Scope.incident_open})


# A closed incident is read-only except for amendments to signed assessments.
AFTER_CLOSE_SCOPES = frozenset({Scope.incident_read, Scope.incident_amend})


@dataclass(frozen=True)
class Grant:
    purpose: Purpose
    scopes: list[Scope]
    lifetime_seconds: int
    break_glass: bool


def may_hold_role(partnership: Partnership, organisation_code: str, role: Role) -> bool:
    """Whether the organisation exists and is of a kind the agreement lets hold this role."""
    organisation = next((o for o in partnership.organisations if o.code == organisation_code), None)
    if organisation is None:
        return False
    return any(
        rule.organisation_kind == organisation.kind and rule.role == role
        for rule in partnership.agreement.access
    )


def _organisation_kind(partnership: Partnership, code: str) -> OrganisationKind | None:
    organisation = next((o for o in partnership.organisations if o.code == code), None)
    return organisation.kind if organisation is not None else None


def _access_rule(partnership: Partnership, organisation_code: str, role: Role) -> AccessRule | None:
    kind = _organisation_kind(partnership, organisation_code)
    return next(
        (
            rule
            for rule in partnership.agreement.access
            if rule.organisation_kind == kind and rule.role == role
        ),
        None,
    )


def may_carry_scope(kind: OrganisationKind, explicit_scopes: list[Scope], scope: Scope) -> bool:
    """Whether a token of a role of this kind of organisation may carry a scope its purpose
    offers: police scopes only for a force's roles, or where the role's access rule names them."""
    return (
        scope not in POLICE_SCOPES
        or kind == OrganisationKind.police_force
        or (scope in explicit_scopes)
    )


def visible_justification(text: str) -> str:
    """The justification without whitespace, format (Cf: zero-width, bidirectional controls) and
    other invisible characters: what a reviewer can actually read."""
    return "".join(
        character
        for character in text
        if not character.isspace()
        # Cf: zero-width and bidirectional controls; Mn, Me: marks that only decorate the
        # character before them (variation selectors among them), never one of their own.
        and unicodedata.category(character) not in ("Cf", "Mn", "Me")
        and character not in _INVISIBLE
    )


def justification_sufficient(text: str, min_length: int) -> bool:
    """At least `min_length` visible characters, and at least 10 letters among them, when a
    justification is required (`min_length` above 0)."""
    if min_length <= 0:
        return True
    visible = visible_justification(text)
    letters = sum(1 for character in visible if unicodedata.category(character).startswith("L"))
    return len(visible) >= min_length and letters >= JUSTIFICATION_MIN_LETTERS


def may_break_glass_on(
    *,
    opener_kind: OrganisationKind | None,
    status: IncidentStatus,
    partner_trust_code: str | None,
    practitioner_organisation_code: str,
) -> bool:
    """Break-glass only at police work: an open incident, opened by a police force, that names
    the practitioner's own trust as the trust working it."""
    return (
        status == IncidentStatus.open
        and opener_kind == OrganisationKind.police_force
        and partner_trust_code == practitioner_organisation_code
    )


def check_break_glass_anchor(
    partnership: Partnership,
    *,
    incident_organisation_code: str,
    status: IncidentStatus,
    partner_trust_code: str | None,
    practitioner_organisation_code: str,
) -> None:
    """`ExchangeRefused` unless `may_break_glass_on` the incident."""
    if not may_break_glass_on(
        opener_kind=_organisation_kind(partnership, incident_organisation_code),
        status=status,
        partner_trust_code=partner_trust_code,
        practitioner_organisation_code=practitioner_organisation_code,
    ):
        raise ExchangeRefused(
            "invalid_target",
            "break_glass_not_anchored",
            "Break-glass needs an open police incident that names your organisation's trust.",
        )


def reviews_own_break_glass(practitioner: UserAccount, reviewer: UserAccount) -> bool:
    """Whether the reviewer is the person who broke glass: the same account, or the same identity
    provider's subject (under another role, say)."""
    return practitioner.id == reviewer.id or (
        practitioner.issuer,
        practitioner.subject,
    ) == (reviewer.issuer, reviewer.subject)


def may_use_purpose(
    partnership: Partnership, organisation_code: str, role: Role, purpose: str
) -> bool:
    organisation = next((o for o in partnership.organisations if o.code == organisation_code), None)
    if organisation is None:
        return False
    return any(
        rule.organisation_kind == organisation.kind
        and rule.role == role
        and purpose in rule.purposes
        for rule in partnership.agreement.access
    )


def decide_grant(
    partnership: Partnership,
    *,
    organisation_code: str,
    role: Role,
    purpose_name: str,
    bound: bool,
    requested_scope: str | None,
    justification: str | None,
) -> Grant:
    """The purpose, scopes and lifetime to grant, or `ExchangeRefused` naming the RFC error."""
    if not may_hold_role(partnership, organisation_code, role):
        raise ExchangeRefused(
            "invalid_grant",
            "role_not_held",
            "The identity's role or organisation is not in the agreement.",
        )
    purpose = next((p for p in partnership.agreement.purposes if p.name == purpose_name), None)
    if purpose is None:
        raise ExchangeRefused("invalid_request", "purpose_unknown", "Unknown purpose.")
    if role not in purpose.roles or not may_use_purpose(
        partnership, organisation_code, role, purpose_name
    ):
        raise ExchangeRefused(
            "invalid_target", "purpose_not_allowed", "This role may not use this purpose."
        )
    if purpose.incident_binding == IncidentBinding.required and not bound:
        raise ExchangeRefused(
            "invalid_request", "incident_required", "This purpose needs an incident_id."
        )
    if purpose.incident_binding == IncidentBinding.none and bound:
        raise ExchangeRefused(
            "invalid_request", "incident_not_allowed", "This purpose is not bound to an incident."
        )
    break_glass = purpose.purpose_of_use == PurposeOfUse.BTG
    _check_justification(purpose, justification, break_glass=break_glass)
    available = _offered_scopes(partnership, organisation_code, role, purpose, bound=bound)
    scopes = available
    if requested_scope is not None:
        try:
            requested = {Scope(item) for item in requested_scope.split()}
        except ValueError:
            raise ExchangeRefused(
                "invalid_scope", "scope_unknown", "Unknown scope requested."
            ) from None
        if not requested or not requested <= set(available):
            raise ExchangeRefused(
                "invalid_scope",
                "scope_not_allowed",
                "The requested scope is not available for this purpose.",
            )
        scopes = [scope for scope in available if scope in requested]
    if not scopes:
        raise ExchangeRefused(
            "invalid_scope", "scope_empty", "No scope is available for this request."
        )
    lifetime = purpose.token_lifetime_seconds
    if break_glass:
        lifetime = min(lifetime, BREAK_GLASS_LIFETIME_SECONDS)
    return Grant(purpose=purpose, scopes=scopes, lifetime_seconds=lifetime, break_glass=break_glass)


def _check_justification(purpose: Purpose, justification: str | None, *, break_glass: bool) -> None:
    text = (justification or "").strip()
    if len(text) > MAX_JUSTIFICATION_LENGTH:
        raise ExchangeRefused(
            "invalid_request", "justification_too_long", "The justification is too long."
        )
    min_length = purpose.justification_min_length
    if break_glass:
        min_length = max(min_length, BREAK_GLASS_JUSTIFICATION_MIN_LENGTH)
    if not justification_sufficient(text, min_length):
        raise ExchangeRefused(
            "invalid_request",
            "justification_too_short",
            f"This purpose needs a justification of at least {min_length} visible characters,"
            f" {JUSTIFICATION_MIN_LETTERS} of them letters.",
        )


def _offered_scopes(
    partnership: Partnership, organisation_code: str, role: Role, purpose: Purpose, *, bound: bool
) -> list[Scope]:
    """The purpose's scopes for a bound or unbound token, less police scopes not given to the
    role explicitly."""
    rule = _access_rule(partnership, organisation_code, role)
    kind = _organisation_kind(partnership, organisation_code)
    if rule is None or kind is None:
        return []
    return [
        scope
        for scope in purpose.scopes_for(bound=bound)
        if may_carry_scope(kind, rule.explicit_scopes, scope)
    ]


def after_close(grant: Grant) -> Grant:
    """The grant narrowed for a closed incident, or `ExchangeRefused` if nothing is left."""
    scopes = [scope for scope in grant.scopes if scope in AFTER_CLOSE_SCOPES]
    if not scopes:
        raise ExchangeRefused(
            "invalid_target",
            "incident_not_available",
            "The incident is not available for this purpose.",
        )
    return Grant(
        purpose=grant.purpose,
        scopes=scopes,
        lifetime_seconds=grant.lifetime_seconds,
        break_glass=grant.break_glass,
    )
