"""FHIR R4 payloads built from the published templates and the seeded people.

Everything returned is a fresh copy: callers may change it, the templates stay as published.
Resource ids are stable (uuid5) and never carry an NHS number, since ids end up in URLs.
"""

import copy
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sim import published
from sim.people import (
    CrisisPlan,
    ForeignCode,
    RiskCategory,
    RiskLevel,
    SafetyFlag,
    UnlistedLevel,
)

JsonObject = dict[str, Any]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SNOMED = "http://snomed.info/sct"
CRISIS_PLAN = "736253002"
SPINE_ERROR_SYSTEM = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"
NRL_ERROR_SYSTEM = "https://fhir.nhs.uk/ValueSet/Spine-ErrorOrWarningCode-1"
LOCAL = "https://fhir.street-triage.nhs.example"
ALERT_CATEGORY_SYSTEM = f"{LOCAL}/CodeSystem/safety-alert-category"
RISK_LEVEL_SYSTEM = f"{LOCAL}/CodeSystem/risk-level"
APPROACH_ADVICE_URL = f"{LOCAL}/StructureDefinition/approach-advice"
CRISIS_CONTACT_URL = f"{LOCAL}/StructureDefinition/crisis-contact"
CLINICAL_URL = f"{LOCAL}/StructureDefinition/clinical"

_IDS = uuid.UUID("5b0c3f0e-6f1a-4d59-9a53-3c1d2e0f7a11")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_IDS, "/".join(parts)))


def nhs_identifier(nhs_number: str) -> JsonObject:
    return {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}


def ods_identifier(ods: str) -> JsonObject:
    return {"system": ODS_SYSTEM, "value": ods}


def operation_outcome(
    code: str,
    display: str,
    *,
    issue_code: str = "processing",
    severity: str = "error",
    system: str = SPINE_ERROR_SYSTEM,
) -> JsonObject:
    """An OperationOutcome in the Spine style: the machine-readable code is in details.coding."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": issue_code,
                "details": {
                    "coding": [{"system": system, "version": "1", "code": code, "display": display}]
                },
            }
        ],
    }


def searchset(entries: Iterable[JsonObject]) -> JsonObject:
    """A searchset Bundle. An empty one has no `entry` at all: FHIR JSON forbids empty arrays."""
    listed = list(entries)
    bundle: JsonObject = {"resourceType": "Bundle", "type": "searchset", "total": len(listed)}
    if listed:
        bundle["entry"] = listed
    return bundle


def match(resource: JsonObject, full_url: str | None = None) -> JsonObject:
    entry: JsonObject = {}
    if full_url is not None:
        entry["fullUrl"] = full_url
    entry["resource"] = resource
    entry["search"] = {"mode": "match"}
    return entry


# PDS


def patient_like(
    template: Mapping[str, Any],
    nhs_number: str,
    *,
    family: str | None = None,
    given: str | None = None,
    birth_date: str | None = None,
) -> JsonObject:
    """A published Patient under another number (and, for a new synthetic person, name)."""
    patient = dict(copy.deepcopy(template))
    patient["id"] = nhs_number
    for identifier in patient["identifier"]:
        if identifier["system"] == NHS_NUMBER_SYSTEM:
            identifier["value"] = nhs_number
    for name in patient.get("name", []):
        if family is not None:
            name["family"] = family
        if given is not None:
            name["given"] = [given]
    if birth_date is not None:
        patient["birthDate"] = birth_date
    if family or given or birth_date:
        # The sandbox person's death notice and date belong to them, not to a new person.
        patient.pop("deceasedDateTime", None)
        patient["extension"] = [
            extension
            for extension in patient.get("extension", [])
            if not extension["url"].endswith("DeathNotificationStatus")
        ]
    return patient


def pds_search_bundle(patients: Iterable[JsonObject], score: float | None = None) -> JsonObject:
    """A PDS search result shaped like the published PatientSearch.json, one entry per patient,
    each with `score` as its search.score (None: the published score)."""
    template = published.PATIENT_SEARCH
    template_entry = template["entry"][0]
    bundle = {key: copy.deepcopy(value) for key, value in template.items() if key != "entry"}
    entries = []
    for patient in patients:
        entry = copy.deepcopy(template_entry)
        entry["fullUrl"] = template_entry["fullUrl"].rsplit("/", 1)[0] + "/" + patient["id"]
        if score is not None:
            entry["search"]["score"] = score
        entry["resource"] = patient
        entries.append(entry)
    bundle["total"] = len(entries)
    if entries:
        bundle["entry"] = entries
    return bundle


# NRL


def crisis_plan_pointer(nhs_number: str, custodian: str) -> JsonObject:
    """The published RQI pointer with its id, subject, author and custodian changed."""
    pointer = copy.deepcopy(published.CRISIS_PLAN_POINTER)
    pointer["id"] = f"{custodian}-{stable_id('pointer', custodian, nhs_number)}"
    pointer["subject"]["identifier"]["value"] = nhs_number
    pointer["context"]["sourcePatientInfo"]["identifier"]["value"] = nhs_number
    pointer["author"] = [{"identifier": ods_identifier(custodian)}]
    pointer["custodian"]["identifier"]["value"] = custodian
    return pointer


# Trust FHIR endpoints


def _category_coding(category: RiskCategory | ForeignCode) -> JsonObject:
    if isinstance(category, ForeignCode):
        return {"system": category.system, "code": category.code, "display": category.display}
    return {"system": ALERT_CATEGORY_SYSTEM, "code": category.value}


def _flag_code(level: RiskLevel | UnlistedLevel | None, text: str) -> JsonObject:
    if level is None:
        return {"text": text}
    code = level.code if isinstance(level, UnlistedLevel) else level.value
    return {"coding": [{"system": RISK_LEVEL_SYSTEM, "code": code}], "text": text}


def safety_flag(flag: SafetyFlag, nhs_number: str, ods: str) -> JsonObject:
    """An active Flag in the partnership's profile, or, for a flag coded outside its lists, as the
    trust's own system writes it."""
    category = _category_coding(flag.category)
    return {
        "resourceType": "Flag",
        "id": stable_id("flag", ods, nhs_number, category["code"]),
        "status": "active",
        "category": [{"coding": [category]}],
        "code": _flag_code(flag.level, flag.text),
        "subject": {"identifier": nhs_identifier(nhs_number)},
        "period": {"start": flag.since.isoformat()},
        "author": {"identifier": ods_identifier(ods)},
    }


def _strings(url: str, values: Iterable[tuple[str, str]]) -> JsonObject:
    return {
        "url": url,
        "extension": [{"url": name, "valueString": value} for name, value in values],
    }


def crisis_care_plan(plan: CrisisPlan, nhs_number: str, ods: str, today: date) -> JsonObject:
    """The crisis plan as a CarePlan; its review date and last update are relative to `today`."""
    updated = datetime.combine(today - timedelta(days=plan.updated_days_ago), time(10), tzinfo=UTC)
    review = today + timedelta(days=plan.review_in_days)
    contact = plan.contact
    clinical = plan.clinical
    return {
        "resourceType": "CarePlan",
        "id": stable_id("careplan", ods, nhs_number),
        "status": "active",
        "intent": "plan",
        "meta": {"lastUpdated": updated.isoformat()},
        "category": [{"coding": [{"system": SNOMED, "code": CRISIS_PLAN}]}],
        "subject": {"identifier": nhs_identifier(nhs_number)},
        "period": {"end": review.isoformat()},
        "author": {"identifier": ods_identifier(ods)},
        "extension": [
            {"url": APPROACH_ADVICE_URL, "valueString": plan.approach_advice},
            _strings(
                CRISIS_CONTACT_URL,
                [
                    ("team", contact.team),
                    ("phone", contact.phone),
                    ("hours", contact.hours),
                    ("out-of-hours", contact.out_of_hours),
                ],
            ),
            _strings(
                CLINICAL_URL,
                [
                    ("triggers", clinical.triggers),
                    ("early-signs", clinical.early_signs),
                    ("what-helps", clinical.what_helps),
                    ("what-to-avoid", clinical.what_to_avoid),
                    ("mha-status", clinical.mha_status),
                    ("care-coordinator", clinical.care_coordinator),
                    ("dependants", clinical.dependants),
                    ("access-notes", clinical.access_notes),
                ],
            ),
        ],
    }
