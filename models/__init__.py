"""Domain tables, enums and value types. Imports nothing of ours."""

from models.base import NAMING_CONVENTION, metadata, utcnow
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
)

__all__ = [
    "NAMING_CONVENTION",
    "AccessRule",
    "Agreement",
    "DataClass",
    "IncidentBinding",
    "LegalBasis",
    "LookupQuotas",
    "Organisation",
    "OrganisationBase",
    "OrganisationKind",
    "Partnership",
    "Purpose",
    "PurposeOfUse",
    "Retention",
    "Role",
    "metadata",
    "utcnow",
]
