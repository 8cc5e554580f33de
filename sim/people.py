"""The synthetic people the simulated partners know. None is a real person.

The sandbox numbers keep the meaning the NHS sandboxes give them (9000000009 normal, 9000000025
restricted, 9000000033 minimal, 9000000017 superseded, 9111231130 not found, 9000000041
invalidated); the extra people use further numbers that pass Modulus 11. Dates in crisis plans are
relative to the day the simulator answers, so a plan "in date" stays in date.

A number not listed here is unknown everywhere: PDS 404 RESOURCE_NOT_FOUND, NRL 404
NO_RECORD_FOUND, empty Bundles from every trust.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sim import published

RQI = "RQI"
Y05868 = "Y05868"
TRUSTS: Mapping[str, str] = MappingProxyType(
    {
        RQI: "Northshire Mental Health NHS Foundation Trust",
        Y05868: "Avonmere Mental Health Partnership NHS Trust",
    }
)


class RiskCategory(StrEnum):
    to_self = "risk-to-self"
    to_others = "risk-to-others"
    from_others = "risk-from-others"


class RiskLevel(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"


@dataclass(frozen=True)
class SafetyFlag:
    category: RiskCategory
    level: RiskLevel
    text: str
    since: date = date(2026, 1, 5)


@dataclass(frozen=True)
class CrisisContact:
    team: str
    phone: str
    hours: str = "Mon-Fri 09:00-17:00"
    out_of_hours: str = "Crisis line 0800 555 0199, 24 hours"


@dataclass(frozen=True)
class Clinical:
    triggers: str
    early_signs: str
    what_helps: str
    what_to_avoid: str
    mha_status: str
    care_coordinator: str
    dependants: str
    access_notes: str


@dataclass(frozen=True)
class CrisisPlan:
    approach_advice: str  # at most 500 characters: the part an officer sees
    contact: CrisisContact
    clinical: Clinical
    review_in_days: int  # negative: the review date has passed
    updated_days_ago: int = 51


@dataclass(frozen=True)
class TrustRecord:
    flags: tuple[SafetyFlag, ...] = ()
    plan: CrisisPlan | None = None


class PdsState(StrEnum):
    found = "found"
    superseded = "superseded"  # PDS answers with the record under its current number
    not_found = "not_found"
    invalidated = "invalidated"


@dataclass(frozen=True)
class PdsRecord:
    """A published Patient under the person's number; names and birth date for new people."""

    template: Mapping[str, Any]
    family: str | None = None
    given: str | None = None
    birth_date: date | None = None


@dataclass(frozen=True)
class Person:
    nhs_number: str
    about: str
    pds: PdsState = PdsState.not_found
    record: PdsRecord | None = None
    superseded_by: str | None = None
    # Custodians of NRL crisis plan pointers; None: NRL holds no record of the person at all.
    nrl_pointers: tuple[str, ...] | None = None
    trusts: Mapping[str, TrustRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    """A demographic search PDS answers. Unset fields match anything; names ignore case."""

    family: str
    nhs_numbers: tuple[str, ...]
    given: str | None = None
    birth_date: date | None = None
    postcode: str | None = None  # when the search gives a postcode, it must be this one


RQI_CONTACT = CrisisContact(
    team="Northshire Crisis Resolution and Home Treatment Team", phone="0113 555 0100"
)
Y05868_CONTACT = CrisisContact(
    team="Avonmere Community Mental Health Team (East)",
    phone="0117 555 0100",
    hours="Mon-Fri 08:30-18:00",
    out_of_hours="Avonmere crisis line 0800 555 0188, 24 hours",
)

PEOPLE: tuple[Person, ...] = (
    Person(
        nhs_number="9000000009",
        about="normal: known to RQI, crisis plan in date, high risk to self",
        pds=PdsState.found,
        record=PdsRecord(published.PATIENT),
        nrl_pointers=(RQI,),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.high,
                        "Self-harm when distressed; ligature risk reported",
                    ),
                    SafetyFlag(
                        RiskCategory.to_others,
                        RiskLevel.low,
                        "Verbal aggression when frightened; no violence recorded",
                    ),
                    SafetyFlag(RiskCategory.from_others, RiskLevel.none, "No current concerns"),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "Approach calmly and alone if safe; give space and do not crowd. Use her "
                        "first name. She responds well to being offered a drink and a seat. Ask "
                        "about her cat, which reassures her. Explain each step before you take "
                        "it. Call the crisis team early: they know her well."
                    ),
                    contact=RQI_CONTACT,
                    clinical=Clinical(
                        triggers="Anniversaries of bereavement; conflict with family; eviction letters",
                        early_signs="Stops answering the phone; sleeps in the day; talks of being a burden",
                        what_helps="A familiar worker; a quiet room; practical help with letters",
                        what_to_avoid="Raised voices; restraint unless unavoidable; being left alone",
                        mha_status="Informal; no current section or CTO",
                        care_coordinator="Alex Rowe, CPN, Northshire CMHT (West), 0113 555 0142",
                        dependants="None; a cat at home (neighbour at no. 3 has a key)",
                        access_notes="Key safe by the back door; code held by the CMHT",
                    ),
                    review_in_days=120,
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000017",
        about="superseded: PDS returns the record of 9000000009",
        pds=PdsState.superseded,
        superseded_by="9000000009",
    ),
    Person(
        nhs_number="9000000025",
        about="restricted (meta.security R): known to Y05868, crisis plan in date",
        pds=PdsState.found,
        record=PdsRecord(published.SENSITIVE_PATIENT),
        nrl_pointers=(Y05868,),
        trusts={
            Y05868: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.from_others,
                        RiskLevel.high,
                        "Fleeing domestic abuse: never disclose whereabouts",
                    ),
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.medium,
                        "Overdose in the past year when in crisis",
                    ),
                    SafetyFlag(RiskCategory.to_others, RiskLevel.none, "No concerns recorded"),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "Speak to her away from anyone she is with. Do not confirm her address or "
                        "name to third parties. A female officer is preferred if available. She "
                        "may appear withdrawn rather than distressed: ask directly about safety."
                    ),
                    contact=Y05868_CONTACT,
                    clinical=Clinical(
                        triggers="Contact from her former partner; court dates",
                        early_signs="Missing appointments; not eating; staying in one room",
                        what_helps="Women's refuge key worker; written safety plan",
                        what_to_avoid="Calls to her old address; male-only attendance",
                        mha_status="Informal",
                        care_coordinator="Priya Shah, social worker, Avonmere CMHT (East)",
                        dependants="One child (aged 6) at the same refuge",
                        access_notes="Refuge staff on site 24 hours; ring the office bell",
                    ),
                    review_in_days=60,
                    updated_days_ago=20,
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000033",
        about="minimal PDS record; NRL knows the person, who has no crisis plan",
        pds=PdsState.found,
        record=PdsRecord(published.MINIMAL_PATIENT),
        nrl_pointers=(),
    ),
    Person(
        nhs_number="9000000041",
        about="invalidated: PDS 404 INVALIDATED_RESOURCE",
        pds=PdsState.invalidated,
    ),
    Person(
        nhs_number="9111231130",
        about="not found anywhere",
        pds=PdsState.not_found,
    ),
    Person(
        nhs_number="9000000068",
        about="stale plan: RQI crisis plan whose review date has passed",
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Okafor", given="Daniel", birth_date=date(1988, 3, 14)
        ),
        nrl_pointers=(RQI,),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.medium,
                        "Suicidal thoughts when intoxicated",
                        since=date(2024, 6, 2),
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "Usually calm with police. Keep explanations short; he may be "
                        "intoxicated. Offer to call his brother, who is his named support."
                    ),
                    contact=RQI_CONTACT,
                    clinical=Clinical(
                        triggers="Alcohol; loss of work",
                        early_signs="Drinking alone; giving belongings away",
                        what_helps="His brother; the alcohol liaison nurse",
                        what_to_avoid="Arguing about his drinking",
                        mha_status="Informal",
                        care_coordinator="Vacant: allocated to the CMHT duty worker",
                        dependants="None",
                        access_notes="Flat 2, ground floor; no key safe",
                    ),
                    review_in_days=-45,
                    updated_days_ago=410,
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000076",
        about="moved between trusts: flags and crisis plans at both RQI and Y05868",
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Lindqvist", given="Maya", birth_date=date(1979, 11, 2)
        ),
        nrl_pointers=(RQI, Y05868),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_others,
                        RiskLevel.medium,
                        "Has threatened staff when detained",
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "Two officers. Avoid handcuffs if possible: restraint escalates quickly. "
                        "She accepts going to the place of safety by ambulance."
                    ),
                    contact=RQI_CONTACT,
                    clinical=Clinical(
                        triggers="Feeling trapped; loud environments",
                        early_signs="Pacing; pressured speech",
                        what_helps="Clear choices; time to decide",
                        what_to_avoid="Physical restraint",
                        mha_status="Community treatment order (s17A) until 2027-02-01",
                        care_coordinator="Tom Ellis, CPN, Northshire CMHT (North)",
                        dependants="None",
                        access_notes="Not known",
                    ),
                    review_in_days=30,
                    updated_days_ago=150,
                ),
            ),
            Y05868: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.low,
                        "Historic self-neglect",
                        since=date(2023, 2, 1),
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice="Plan from before her move to Northshire; see the RQI plan.",
                    contact=Y05868_CONTACT,
                    clinical=Clinical(
                        triggers="Housing problems",
                        early_signs="Not collecting medication",
                        what_helps="Help with benefits",
                        what_to_avoid="Short-notice changes",
                        mha_status="Informal",
                        care_coordinator="Discharged from Avonmere CMHT",
                        dependants="None",
                        access_notes="Not known",
                    ),
                    review_in_days=200,
                    updated_days_ago=700,
                ),
            ),
        },
    ),
    Person(
        nhs_number="9000000084",
        about="one of two people a search for family name Jones finds (ambiguous)",
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Jones", given="Rhys", birth_date=date(1992, 5, 30)
        ),
        nrl_pointers=(),
    ),
    Person(
        nhs_number="9000000092",
        about="the other person a search for family name Jones finds (ambiguous)",
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Jones", given="Carys", birth_date=date(1995, 8, 17)
        ),
        nrl_pointers=(),
    ),
)

BY_NHS_NUMBER: Mapping[str, Person] = MappingProxyType(
    {person.nhs_number: person for person in PEOPLE}
)

TRACES: tuple[Trace, ...] = (
    # The published PatientSearch.json: a unique match.
    Trace(
        family="Smith",
        given="Jane",
        birth_date=date(2010, 10, 22),
        postcode="LS1 6AE",
        nhs_numbers=("9000000009",),
    ),
    Trace(family="Jones", nhs_numbers=("9000000084", "9000000092")),
)


def person(nhs_number: str) -> Person | None:
    return BY_NHS_NUMBER.get(nhs_number)


def trace(
    family: str, given: str | None, birth_date: date | None, postcode: str | None
) -> tuple[str, ...]:
    """The NHS numbers a PDS demographic search finds; () for no match."""
    for rule in TRACES:
        if rule.family.casefold() != family.strip().casefold():
            continue
        if rule.given is not None and (given is None or rule.given.casefold() != given.casefold()):
            continue
        if rule.birth_date is not None and rule.birth_date != birth_date:
            continue
        if (
            postcode is not None
            and rule.postcode is not None
            and (_compact(postcode) != _compact(rule.postcode))
        ):
            continue
        return rule.nhs_numbers
    return ()


def _compact(postcode: str) -> str:
    return postcode.replace(" ", "").upper()
