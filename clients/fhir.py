"""The parts of FHIR R4 payloads the adapters rely on, validated strictly enough to trust.

A payload is checked for its resource type and the fields we read; anything else in it is ignored.
A payload that names an NHS number failing Modulus 11 is bad data, not a person.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clients.errors import PartnerBadResponse
from models.nhs_number import NHS_NUMBER_SYSTEM, is_valid_nhs_number

RESTRICTED_CODES = frozenset({"R", "V"})


class Lenient(BaseModel):
    # Partners add fields freely; we read only what we declare.
    model_config = ConfigDict(extra="ignore", frozen=True)


ResourceT = TypeVar("ResourceT", bound=Lenient)


class Coding(Lenient):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(Lenient):
    coding: list[Coding] = Field(default_factory=list)
    text: str | None = None


class Identifier(Lenient):
    system: str | None = None
    value: str | None = None


class Meta(Lenient):
    security: list[Coding] = Field(default_factory=list)


class Patient(Lenient):
    resourceType: str  # noqa: N815 - FHIR's own name
    id: str
    meta: Meta = Field(default_factory=Meta)
    identifier: list[Identifier] = Field(default_factory=list)

    @property
    def restricted(self) -> bool:
        return any(coding.code in RESTRICTED_CODES for coding in self.meta.security)


class SearchInfo(Lenient):
    mode: str | None = None
    score: float | None = None


class BundleEntry(Lenient):
    resource: dict[str, Any]
    search: SearchInfo | None = None


class BundleLink(Lenient):
    relation: str | None = None


class Bundle(Lenient):
    resourceType: str  # noqa: N815
    type: str | None = None
    total: int | None = None
    link: list[BundleLink] = Field(default_factory=list)
    entry: list[BundleEntry] = Field(default_factory=list)

    def incomplete(self) -> bool:
        """More matches than this page holds: `total` (which counts matches, not included
        resources) says so, or a next page is linked. Read as the whole answer, it would drop what
        the other pages hold."""
        matches = sum(
            1
            for entry in self.entry
            if entry.search is None or entry.search.mode in (None, "match")
        )
        return (self.total is not None and self.total > matches) or any(
            link.relation == "next" for link in self.link
        )


class OperationOutcomeIssue(Lenient):
    code: str | None = None
    details: CodeableConcept | None = None


class OperationOutcome(Lenient):
    resourceType: str  # noqa: N815
    issue: list[OperationOutcomeIssue] = Field(default_factory=list)

    def codes(self) -> set[str]:
        return {
            coding.code
            for issue in self.issue
            if issue.details is not None
            for coding in issue.details.coding
            if coding.code
        }


def parse(partner: str, model: type[ResourceT], body: Any, resource_type: str) -> ResourceT:
    """`body` as `model`, or PartnerBadResponse if it is not that resource or not well formed."""
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        raise PartnerBadResponse(partner, "wrong_resource_type")
    try:
        return model.model_validate(body)
    except ValidationError:
        raise PartnerBadResponse(partner, "malformed_resource") from None


def nhs_number_of(partner: str, identifiers: list[Identifier]) -> str:
    """The NHS number among the identifiers; bad data if missing or failing Modulus 11."""
    for identifier in identifiers:
        if identifier.system == NHS_NUMBER_SYSTEM and identifier.value is not None:
            if not is_valid_nhs_number(identifier.value):
                raise PartnerBadResponse(partner, "invalid_nhs_number")
            return identifier.value
    raise PartnerBadResponse(partner, "no_nhs_number")
