"""Domain tables, enums and value types. Imports nothing of ours."""

from models.audit import AuditAction, AuditEvent, AuditOutcome
from models.base import NAMING_CONVENTION, metadata, utcnow
from models.break_glass import BreakGlassReview, ReviewStatus
from models.identity import UserAccount
from models.incident import Incident, IncidentCreate, IncidentRead, IncidentStatus
from models.organisation import Organisation, OrganisationBase, OrganisationKind
from models.partnership import (
    AccessRule,
    Agreement,
    DataClass,
    IncidentBinding,
    LegalBasis,
    LookupQuotas,
    Partnership,
    Purpose,
    PurposeOfUse,
    Retention,
    Role,
    Scope,
)
from models.token import IssuedToken, RevokedToken

__all__ = [
    "NAMING_CONVENTION",
    "AccessRule",
    "Agreement",
    "AuditAction",
    "AuditEvent",
    "AuditOutcome",
    "BreakGlassReview",
    "DataClass",
    "Incident",
    "IncidentBinding",
    "IncidentCreate",
    "IncidentRead",
    "IncidentStatus",
    "IssuedToken",
    "LegalBasis",
    "LookupQuotas",
    "Organisation",
    "OrganisationBase",
    "OrganisationKind",
    "Partnership",
    "Purpose",
    "PurposeOfUse",
    "Retention",
    "ReviewStatus",
    "RevokedToken",
    "Role",
    "Scope",
    "UserAccount",
    "metadata",
    "utcnow",
]
