"""Personal Demographics Service (FHIR R4): verify an NHS number, or trace a person by demographics.

Several matches are "ambiguous" and name no one; a restricted record (meta.security R) is reported
as restricted, and the adapter never reads its address or telecom.
"""

from clients.errors import PartnerBadResponse
from clients.fhir import Bundle, OperationOutcome, Patient, nhs_number_of, parse
from clients.http import PartnerHttp, PartnerResponse
from models.nhs_number import is_valid_nhs_number
from models.partner import Demographics, PdsTrace, PdsTraceOutcome, PdsVerification

NOT_FOUND = "RESOURCE_NOT_FOUND"
INVALIDATED = "INVALIDATED_RESOURCE"
TOO_MANY_MATCHES = "TOO_MANY_MATCHES"


class PdsClient:
    def __init__(self, http: PartnerHttp) -> None:
        self._http = http
        self.name = http.name

    async def verify(self, nhs_number: str, *, deadline: float) -> PdsVerification:
        response = await self._http.get(f"Patient/{nhs_number}", deadline=deadline)
        if response.status_code == 200:
            patient = parse(self.name, Patient, response.body, "Patient")
            if not is_valid_nhs_number(patient.id):
                raise PartnerBadResponse(self.name, "invalid_nhs_number")
            current = nhs_number_of(self.name, patient.identifier)
            if current != patient.id:
                raise PartnerBadResponse(self.name, "identifier_mismatch")
            return PdsVerification(
                found=True,
                nhs_number=current,
                superseded=current != nhs_number,
                restricted=patient.restricted,
            )
        codes = self._outcome_codes(response)
        if response.status_code == 404 and NOT_FOUND in codes:
            return PdsVerification(found=False)
        if response.status_code == 404 and INVALIDATED in codes:
            return PdsVerification(found=False, invalidated=True)
        raise PartnerBadResponse(self.name, f"status_{response.status_code}")

    async def trace(self, demographics: Demographics, *, deadline: float) -> PdsTrace:
        params = {
            "family": demographics.family,
            "given": demographics.given,
            "birthdate": f"eq{demographics.birth_date.isoformat()}",
        }
        if demographics.postcode is not None:
            params["address-postalcode"] = demographics.postcode.upper()
        response = await self._http.get("Patient", params=params, deadline=deadline)
        body = response.body
        if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
            if TOO_MANY_MATCHES in self._outcome_codes(response):
                return PdsTrace(outcome=PdsTraceOutcome.ambiguous)
            raise PartnerBadResponse(self.name, f"status_{response.status_code}")
        if response.status_code != 200:
            raise PartnerBadResponse(self.name, f"status_{response.status_code}")
        bundle = parse(self.name, Bundle, body, "Bundle")
        matches = [
            entry for entry in bundle.entry if entry.resource.get("resourceType") == "Patient"
        ]
        # `total` counts every match: one entry of two would be read as the only person.
        if bundle.incomplete():
            raise PartnerBadResponse(self.name, "incomplete_searchset")
        if not matches:
            return PdsTrace(outcome=PdsTraceOutcome.none)
        if len(matches) > 1:
            return PdsTrace(outcome=PdsTraceOutcome.ambiguous)
        patient = parse(self.name, Patient, matches[0].resource, "Patient")
        # No score is not a perfect score: an unscored match is only probable.
        score = matches[0].search.score if matches[0].search is not None else None
        return PdsTrace(
            outcome=PdsTraceOutcome.unique,
            nhs_number=nhs_number_of(self.name, patient.identifier),
            restricted=patient.restricted,
            score=score,
        )

    def _outcome_codes(self, response: PartnerResponse) -> set[str]:
        return parse(self.name, OperationOutcome, response.body, "OperationOutcome").codes()
