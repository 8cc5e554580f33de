"""The agreement as shown to anyone using the system."""

from datetime import date

from pydantic import BaseModel

from models import (
    AccessRule,
    DataClass,
    LegalBasis,
    LookupQuotas,
    OrganisationBase,
    Partnership,
    Purpose,
    Retention,
)
from models.partnership import CrisisPlanRelationshipReason, IncidentQuotas


class DataClassRead(BaseModel):
    name: DataClass
    description: str


class AgreementRead(BaseModel):
    title: str
    version: str
    effective_from: date
    review_by: date
    organisations: list[OrganisationBase]
    legal_basis: list[LegalBasis]
    purposes: list[Purpose]
    data_classes: list[DataClassRead]
    access: list[AccessRule]
    retention: Retention
    lookup_quotas: LookupQuotas
    incident_quotas: IncidentQuotas
    incident_time_of_call_max_age_days: int
    crisis_plan_relationships: list[CrisisPlanRelationshipReason]

    @classmethod
    def from_partnership(cls, partnership: Partnership) -> "AgreementRead":
        agreement = partnership.agreement
        return cls(
            title=agreement.title,
            version=agreement.version,
            effective_from=agreement.effective_from,
            review_by=agreement.review_by,
            organisations=partnership.organisations,
            legal_basis=agreement.legal_basis,
            purposes=agreement.purposes,
            data_classes=[DataClassRead(name=dc, description=dc.description) for dc in DataClass],
            access=agreement.access,
            retention=agreement.retention,
            lookup_quotas=agreement.lookup_quotas,
            incident_quotas=agreement.incident_quotas,
            incident_time_of_call_max_age_days=agreement.incident_time_of_call_max_age_days,
            crisis_plan_relationships=agreement.crisis_plan_relationships,
        )
