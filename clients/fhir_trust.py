"""A mental health trust's FHIR R4 endpoint: active safety-alert Flags and the crisis CarePlan.

The partnership's profile: a Flag's category names the risk (to self, to others, from others) and
its code the level; the CarePlan (category SNOMED 736253002) carries the police-visible approach
advice and crisis contact, and the clinical content, as extensions; `period.end` is the review date.
"""

import asyncio
from datetime import date, datetime

from pydantic import Field

from clients.errors import PartnerBadResponse
from clients.fhir import (
    Bundle,
    CodeableConcept,
    Identifier,
    Lenient,
    Meta,
    Patient,
    nhs_number_of,
    parse,
)
from clients.http import PartnerHttp
from models.contact_hours import parse_hours, phone_in
from models.nhs_number import NHS_NUMBER_SYSTEM
from models.partner import (
    AlertCategory,
    AlertLevel,
    ClinicalPlan,
    CrisisContact,
    SafetyAlert,
    TrustCrisisPlan,
    TrustRecord,
    UnmappedAlert,
)

PROFILE = "https://fhir.street-triage.nhs.example"
CATEGORY_SYSTEM = f"{PROFILE}/CodeSystem/safety-alert-category"
LEVEL_SYSTEM = f"{PROFILE}/CodeSystem/risk-level"
APPROACH_ADVICE = f"{PROFILE}/StructureDefinition/approach-advice"
CRISIS_CONTACT = f"{PROFILE}/StructureDefinition/crisis-contact"
CLINICAL = f"{PROFILE}/StructureDefinition/clinical"
CLINICAL_TEXT = {name for name in ClinicalPlan.model_fields if name != "actions"}
CRISIS_PLAN_CATEGORY = "http://snomed.info/sct|736253002"
MAX_TEXT = 4000
MAX_APPROACH_ADVICE = 500
# The partnership's risk levels; its "none" is an alert recording no concern: nothing recorded.
PARTNER_LEVELS = {
    "none": AlertLevel.not_recorded,
    "low": AlertLevel.low,
    "medium": AlertLevel.medium,
    "high": AlertLevel.high,
}


class _Extension(Lenient):
    url: str
    valueString: str | None = Field(default=None, max_length=MAX_TEXT)  # noqa: N815 - FHIR's name
    extension: list["_Extension"] = Field(default_factory=list)


class _Reference(Lenient):
    identifier: Identifier | None = None


class _Period(Lenient):
    start: date | None = None
    end: date | None = None


class _Flag(Lenient):
    resourceType: str  # noqa: N815
    status: str
    category: list[CodeableConcept] = Field(default_factory=list)
    code: CodeableConcept
    subject: _Reference


class _CarePlanMeta(Meta):
    lastUpdated: datetime | None = None  # noqa: N815


class _CarePlan(Lenient):
    resourceType: str  # noqa: N815
    status: str
    meta: _CarePlanMeta = Field(default_factory=_CarePlanMeta)
    subject: _Reference
    period: _Period | None = None
    extension: list[_Extension] = Field(default_factory=list)


class FhirTrustClient:
    def __init__(self, http: PartnerHttp, organisation_code: str) -> None:
        self._http = http
        self.name = http.name
        self.organisation_code = organisation_code

    async def crisis_record(self, nhs_number: str, *, deadline: float) -> TrustRecord:
        patient = f"{NHS_NUMBER_SYSTEM}|{nhs_number}"
        flags, plans = await asyncio.gather(
            self._search("Flag", {"patient.identifier": patient, "status": "active"}, deadline),
            self._search(
                "CarePlan",
                {
                    "patient.identifier": patient,
                    "category": CRISIS_PLAN_CATEGORY,
                    "status": "active",
                },
                deadline,
            ),
        )
        # The search asked for active flags; one that says otherwise is not counted as active.
        alerts = [
            self._alert(resource, nhs_number)
            for resource in flags
            if resource.get("status") == "active"
        ]
        # A trust that ignores the search's filters must not have another kind of plan, or an
        # ended one, shown as the crisis plan.
        plans = [resource for resource in plans if _is_active_crisis_plan(resource)]
        if len(plans) > 1:
            raise PartnerBadResponse(self.name, "several_active_plans")
        plan = self._plan(plans[0], nhs_number) if plans else None
        return TrustRecord(
            organisation_code=self.organisation_code,
            known=bool(alerts) or plan is not None,
            alerts=[alert for alert in alerts if isinstance(alert, SafetyAlert)],
            unmapped_alerts=[alert for alert in alerts if isinstance(alert, UnmappedAlert)],
            plan=plan,
        )

    async def knows_patient(self, nhs_number: str, *, deadline: float) -> bool:
        """Whether the trust's patient index holds the person: the question a trust answers
        before it may write a crisis plan here, whether or not it holds alerts or a plan yet."""
        identifier = f"{NHS_NUMBER_SYSTEM}|{nhs_number}"
        patients = await self._search("Patient", {"identifier": identifier}, deadline)
        for resource in patients:
            patient = parse(self.name, Patient, resource, "Patient")
            if nhs_number_of(self.name, patient.identifier) != nhs_number:
                raise PartnerBadResponse(self.name, "wrong_subject")
        return bool(patients)

    async def _search(
        self, resource: str, params: dict[str, str], deadline: float
    ) -> list[dict[str, object]]:
        response = await self._http.get(resource, params=params, deadline=deadline)
        if response.status_code != 200:
            raise PartnerBadResponse(self.name, f"status_{response.status_code}")
        bundle = parse(self.name, Bundle, response.body, "Bundle")
        found = [
            entry.resource
            for entry in bundle.entry
            if entry.resource.get("resourceType") == resource
        ]
        # A count-only answer or a first page would read as "nothing more held": a false "no".
        if bundle.incomplete():
            raise PartnerBadResponse(self.name, "incomplete_searchset")
        return found

    def _check_subject(self, subject: _Reference, nhs_number: str) -> None:
        identifiers = [subject.identifier] if subject.identifier is not None else []
        if nhs_number_of(self.name, identifiers) != nhs_number:
            raise PartnerBadResponse(self.name, "wrong_subject")

    def _alert(self, resource: dict[str, object], nhs_number: str) -> SafetyAlert | UnmappedAlert:
        """An active Flag as a safety alert; one coded outside the partnership's lists (another
        category, a level we do not know) is kept as unmapped, never dropped."""
        flag = parse(self.name, _Flag, resource, "Flag")
        self._check_subject(flag.subject, nhs_number)
        category = _code(flag.category, CATEGORY_SYSTEM)
        level = _code([flag.code], LEVEL_SYSTEM)
        try:
            known_category = AlertCategory(category.replace("-", "_")) if category else None
        except ValueError:
            known_category = None
        if known_category is None:
            return UnmappedAlert()
        if level not in PARTNER_LEVELS:
            return UnmappedAlert(category=known_category)
        return SafetyAlert(category=known_category, level=PARTNER_LEVELS[level])

    def _plan(self, resource: dict[str, object], nhs_number: str) -> TrustCrisisPlan:
        plan = parse(self.name, _CarePlan, resource, "CarePlan")
        self._check_subject(plan.subject, nhs_number)
        extensions = {extension.url: extension for extension in plan.extension}
        advice = extensions.get(APPROACH_ADVICE)
        if (
            advice is not None
            and advice.valueString
            and len(advice.valueString) > MAX_APPROACH_ADVICE
        ):
            raise PartnerBadResponse(self.name, "approach_advice_too_long")
        return TrustCrisisPlan(
            custodian_code=self.organisation_code,
            approach_advice=advice.valueString if advice else None,
            crisis_contact=self._contact(extensions.get(CRISIS_CONTACT)),
            review_date=plan.period.end if plan.period else None,
            last_updated=plan.meta.lastUpdated,
            clinical=_clinical(_parts(extensions.get(CLINICAL))),
        )

    def _contact(self, extension: _Extension | None) -> CrisisContact | None:
        if extension is None:
            return None
        parts = _parts(extension)
        # The NRL contact rules: without hours or an out-of-hours alternative it is not a contact.
        if not all(parts.get(name) for name in ("team", "phone", "hours", "out_of_hours")):
            raise PartnerBadResponse(self.name, "incomplete_crisis_contact")
        hours, out_of_hours = parts["hours"], parts["out_of_hours"]
        return CrisisContact(
            team=parts["team"],
            phone=parts["phone"],
            hours=hours,
            out_of_hours=out_of_hours,
            schedule=parse_hours(hours),
            out_of_hours_phone=phone_in(out_of_hours),
        )


def _clinical(parts: dict[str, str]) -> ClinicalPlan:
    """The profile's clinical parts are text; its "in the event of" actions are not mapped."""
    return ClinicalPlan.model_validate(
        {name: value for name, value in parts.items() if name in CLINICAL_TEXT}
    )


def _is_active_crisis_plan(resource: dict[str, object]) -> bool:
    system, code = CRISIS_PLAN_CATEGORY.split("|")
    categories = resource.get("category")
    return (
        resource.get("status") == "active"
        and isinstance(categories, list)
        and any(
            isinstance(category, dict)
            and any(
                isinstance(coding, dict)
                and coding.get("system") == system
                and coding.get("code") == code
                for coding in category.get("coding", [])
            )
            for category in categories
        )
    )


def _code(concepts: list[CodeableConcept], system: str) -> str | None:
    for concept in concepts:
        for coding in concept.coding:
            if coding.system == system and coding.code:
                return coding.code
    return None


def _parts(extension: _Extension | None) -> dict[str, str]:
    if extension is None:
        return {}
    return {
        part.url.replace("-", "_"): part.valueString
        for part in extension.extension
        if part.valueString is not None
    }
