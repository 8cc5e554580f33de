"""What a token exchange may grant, from the agreement in force. Pure rules: no I/O."""

from dataclasses import dataclass

from auth.errors import ExchangeRefused
from models import IncidentBinding, Partnership, Purpose, PurposeOfUse, Role, Scope

# Break-glass tokens live two minutes whatever the agreement file says.
BREAK_GLASS_LIFETIME_SECONDS = 120
MAX_JUSTIFICATION_LENGTH = 2000


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
    text = (justification or "").strip()
    if len(text) > MAX_JUSTIFICATION_LENGTH:
        raise ExchangeRefused(
            "invalid_request", "justification_too_long", "The justification is too long."
        )
    if len(text) < purpose.justification_min_length:
        raise ExchangeRefused(
            "invalid_request",
            "justification_too_short",
            f"This purpose needs a justification of at least {purpose.justification_min_length} characters.",
        )
    available = purpose.scopes_for(bound=bound)
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
    break_glass = purpose.purpose_of_use == PurposeOfUse.BTG
    lifetime = purpose.token_lifetime_seconds
    if break_glass:
        lifetime = min(lifetime, BREAK_GLASS_LIFETIME_SECONDS)
    return Grant(purpose=purpose, scopes=scopes, lifetime_seconds=lifetime, break_glass=break_glass)


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
