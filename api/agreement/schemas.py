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
        )
