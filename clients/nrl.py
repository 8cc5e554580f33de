"""National Record Locator: pointers to mental health crisis plans (SNOMED 736253002).

Searched by POST so the NHS number travels in the body, never in a URL or an access log.
"""

from pydantic import Field

from clients.errors import PartnerBadResponse
from clients.fhir import (
    Bundle,
    CodeableConcept,
    Coding,
    Identifier,
    Lenient,
    OperationOutcome,
    parse,
)
from clients.http import PartnerHttp
from models.nhs_number import NHS_NUMBER_SYSTEM, is_valid_nhs_number
from models.partner import CrisisPlanPointer, NrlResult

SNOMED = "http://snomed.info/sct"
CRISIS_PLAN = "736253002"
CONTACT_DETAILS_FORMAT = "urn:nhs-ic:record-contact"
# Only NRL's own "no record" code: a gateway's generic RESOURCE_NOT_FOUND (a wrong address, a
# route that moved) would otherwise read as "nothing held" on every lookup.
NO_RECORD_CODES = frozenset({"NO_RECORD_FOUND"})


class _Reference(Lenient):
    identifier: Identifier | None = None


class _Attachment(Lenient):
    contentType: str | None = None  # noqa: N815 - FHIR's own name
    url: str | None = None
    title: str | None = None
    creation: str | None = None


class _Content(Lenient):
    attachment: _Attachment
    format: Coding | None = None


class _DocumentReference(Lenient):
    resourceType: str  # noqa: N815
    status: str
    type: CodeableConcept
    subject: _Reference
    custodian: _Reference
    content: list[_Content] = Field(min_length=1)


class NrlClient:
    def __init__(self, http: PartnerHttp) -> None:
        self._http = http
        self.name = http.name

    async def crisis_plan_pointers(self, nhs_number: str, *, deadline: float) -> NrlResult:
        response = await self._http.post(
            "DocumentReference/_search",
            body={
                "subject:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs_number}",
                "type": f"{SNOMED}|{CRISIS_PLAN}",
            },
            deadline=deadline,
            idempotent=True,  # a search: safe to retry
        )
        if response.status_code == 404:
            outcome = parse(self.name, OperationOutcome, response.body, "OperationOutcome")
            if outcome.codes() & NO_RECORD_CODES:
                return NrlResult(known=False)
            raise PartnerBadResponse(self.name, "status_404")
        if response.status_code != 200:
            raise PartnerBadResponse(self.name, f"status_{response.status_code}")
        bundle = parse(self.name, Bundle, response.body, "Bundle")
        # `total` counts matches across all pages: fewer entries than that (a count-only answer,
        # a first page) would read as "known, no crisis plan" while a plan is registered.
        if bundle.incomplete():
            raise PartnerBadResponse(self.name, "incomplete_searchset")
        pointers = [self._pointer(entry.resource, nhs_number) for entry in bundle.entry]
        return NrlResult(
            known=True, pointers=[pointer for pointer in pointers if pointer is not None]
        )

    def _pointer(self, resource: dict[str, object], nhs_number: str) -> CrisisPlanPointer | None:
        document = parse(self.name, _DocumentReference, resource, "DocumentReference")
        subject = document.subject.identifier
        if subject is None or subject.system != NHS_NUMBER_SYSTEM or subject.value is None:
            raise PartnerBadResponse(self.name, "no_nhs_number")
        if not is_valid_nhs_number(subject.value):
            raise PartnerBadResponse(self.name, "invalid_nhs_number")
        if subject.value != nhs_number:
            raise PartnerBadResponse(self.name, "wrong_subject")
        if document.status != "current":
            return None
        if not any(c.system == SNOMED and c.code == CRISIS_PLAN for c in document.type.coding):
            return None  # another kind of record: not ours to show
        custodian = document.custodian.identifier
        if custodian is None or not custodian.value:
            raise PartnerBadResponse(self.name, "no_custodian")
        content = document.content[0]
        contact_only = content.format is not None and content.format.code == CONTACT_DETAILS_FORMAT
        return CrisisPlanPointer(
            custodian_code=custodian.value,
            title=content.attachment.title,
            url=content.attachment.url,
            content_type=content.attachment.contentType,
            contact_details=contact_only,
            created=content.attachment.creation,
        )
