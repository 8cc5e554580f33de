"""The synthetic people the simulated partners know. None is a real person.

The sandbox numbers keep the meaning the NHS sandboxes give them (9000000009 normal, 9000000025
restricted, 9000000033 minimal, 9000000017 superseded, 9111231130 not found, 9000000041
invalidated); the extra people use further numbers that pass Modulus 11, one for each clinical
safety case the lookup must answer without false reassurance. Each person's `about` says what the
case is and what a correct answer must say; `GET /_sim/people` lists them. Dates in crisis plans
are relative to the day the simulator answers, so a plan "in date" stays in date.

A number not listed here is unknown everywhere: PDS 404 RESOURCE_NOT_FOUND, NRL 404
NO_RECORD_FOUND, empty Bundles from every trust.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
class ForeignCode:
    """A code from a system outside the partnership's profile, e.g. a trust's own alert list."""

    system: str
    code: str
    display: str


@dataclass(frozen=True)
class UnlistedLevel:
    """A code in the partnership's risk-level system that its list does not hold."""

    code: str


@dataclass(frozen=True)
class SafetyFlag:
    """An active Flag. `level` None: the Flag's code carries only its words, no coding."""

    category: RiskCategory | ForeignCode
    level: RiskLevel | UnlistedLevel | None
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
    # Trusts whose patient index holds the person though they hold no alert or plan for them.
    registered_at: tuple[str, ...] = ()

    def cared_for_by(self, ods: str) -> bool:
        """Whether the trust's patient index holds the person."""
        return ods in self.trusts or ods in self.registered_at

    @property
    def restricted(self) -> bool:
        """PDS's sensitive flag: meta.security code R on the person's record."""
        if self.record is None:
            return False
        security = self.record.template.get("meta", {}).get("security", [])
        return any(label.get("code") == "R" for label in security)


# The score PDS gives the match in the published search: 0.75, a probable match, not a certain one.
PUBLISHED_SCORE: float = published.PATIENT_SEARCH["entry"][0]["search"]["score"]


@dataclass(frozen=True)
class Trace:
    """A demographic search PDS answers. Unset fields match anything; names ignore case."""

    family: str
    nhs_numbers: tuple[str, ...]
    given: str | None = None
    birth_date: date | None = None
    postcode: str | None = None  # when the search gives a postcode, it must be this one
    score: float = PUBLISHED_SCORE  # search.score of every match
    # PDS's bad data: the single match carries this number, which fails Modulus 11, instead.
    misreported_as: str | None = None


RQI_CONTACT = CrisisContact(
    team="Northshire Crisis Resolution and Home Treatment Team", phone="0113 555 0100"
)
Y05868_CONTACT = CrisisContact(
    team="Avonmere Community Mental Health Team (East)",
    phone="0117 555 0100",
    hours="Mon-Fri 08:30-18:00",
    out_of_hours="Avonmere crisis line 0800 555 0188, 24 hours",
)

# A trust's own alert list, outside the partnership's profile: its Flags cannot be read as alerts.
RQI_ALERT_SYSTEM = "https://fhir.northshire-mh.nhs.example/CodeSystem/alert-type"
HARTLEY_BORN = date(1990, 4, 12)
WHITFIELD_BORN = date(1964, 12, 3)
PRYCE_BORN = date(1958, 3, 21)
PRYCE_MISREPORTED = "9000000212"

PEOPLE: tuple[Person, ...] = (
    Person(
        nhs_number="9000000009",
        about=(
            "normal: PDS verifies; NRL points to a crisis plan at RQI, which holds it in date "
            "with alerts (risk to self high, to others low, from others none). The answer must "
            "be known=yes with RQI's plan and alerts. The published PDS search (family Smith, "
            "given Jane, born 2010-10-22, postcode LS1 6AE) finds her with search.score 0.75: a "
            "probable match, not a verified one."
        ),
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
        about=(
            "superseded: PDS answers with the record of 9000000009; NRL and the trusts hold "
            "nothing under 9000000017. The answer must be about 9000000009 (known=yes, RQI's "
            "plan) and say the number given was superseded."
        ),
        pds=PdsState.superseded,
        superseded_by="9000000009",
    ),
    Person(
        nhs_number="9000000025",
        about=(
            "restricted (meta.security R): PDS gives no address, telecom or GP; NRL points to a "
            "crisis plan at Y05868, which holds it in date with alerts (risk from others high). "
            "The answer must be known=yes with Y05868's plan, marked restricted, and never show "
            "an address or whereabouts."
        ),
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
        about=(
            "minimal PDS record; NRL knows the person, with no crisis plan pointers, and no trust "
            "holds an alert or a plan (RQI's patient index lists them, so RQI's nurses may write "
            "one here). The answer may say no alert or plan was found only because every source "
            "answered."
        ),
        pds=PdsState.found,
        record=PdsRecord(published.MINIMAL_PATIENT),
        nrl_pointers=(),
        registered_at=(RQI,),
    ),
    Person(
        nhs_number="9000000041",
        about=(
            "invalidated: PDS 404 INVALIDATED_RESOURCE, and no one else holds anything under the "
            "number. The answer must say the number is invalidated and another identifier is "
            "needed, never 'not known'."
        ),
        pds=PdsState.invalidated,
    ),
    Person(
        nhs_number="9111231130",
        about=(
            "not found anywhere: PDS 404 RESOURCE_NOT_FOUND, NRL 404 NO_RECORD_FOUND, every trust "
            "an empty Bundle. The answer may be 'not known' only because every source answered, "
            "and must say PDS could not verify the number."
        ),
        pds=PdsState.not_found,
    ),
    Person(
        nhs_number="9000000068",
        about=(
            "stale plan: RQI's crisis plan passed its review date 45 days ago. The answer must "
            "show the plan with that review date and say it is out of date, never as current."
        ),
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
        about=(
            "moved between trusts: alerts and crisis plans at both RQI (risk to others medium, "
            "review in 30 days) and Y05868 (an older plan, review in 200 days). The answer must "
            "show both plans and all alerts, neither trust's hiding the other's."
        ),
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
        about=(
            "one of two people a search for family name Jones finds (ambiguous): the answer "
            "must say the trace is ambiguous and name no one."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Jones", given="Rhys", birth_date=date(1992, 5, 30)
        ),
        nrl_pointers=(),
    ),
    Person(
        nhs_number="9000000092",
        about=(
            "the other person a search for family name Jones finds (ambiguous): the answer must "
            "say the trace is ambiguous and name no one."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Jones", given="Carys", birth_date=date(1995, 8, 17)
        ),
        nrl_pointers=(),
    ),
    Person(
        nhs_number="9000000114",
        about=(
            "restricted (meta.security R), found by demographic trace: family Hartley, given "
            "Rose, born 1990-04-12, no postcode (score 1); the same search with any postcode "
            "finds no one, as PDS never returns a restricted person to one. NRL points to a "
            "crisis plan at RQI, which holds it with alerts (risk from others high). The answer "
            "must be known=yes with RQI's plan and alerts, marked restricted, and never show an "
            "address or whereabouts; a postcode search must read 'no match', never 'not known'."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.SENSITIVE_PATIENT, family="Hartley", given="Rose", birth_date=HARTLEY_BORN
        ),
        nrl_pointers=(RQI,),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.from_others,
                        RiskLevel.high,
                        "Stalked by a former partner: never disclose where she is staying",
                    ),
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.medium,
                        "Cutting when overwhelmed; no attempt on her life recorded",
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "Do not use her name within earshot of others or on open radio. Ask "
                        "whether anyone with her is safe for her to be with. She calms with a "
                        "female officer and clear, short explanations. Never take her back to an "
                        "address without asking her first."
                    ),
                    contact=RQI_CONTACT,
                    clinical=Clinical(
                        triggers="Messages from her former partner; being followed",
                        early_signs="Stops leaving the house; checks windows repeatedly",
                        what_helps="Her independent domestic violence adviser; a quiet room",
                        what_to_avoid="Being touched without warning; being asked to repeat events",
                        mha_status="Informal",
                        care_coordinator="Sam Okoye, CPN, Northshire CMHT (East), 0113 555 0153",
                        dependants="None",
                        access_notes="Address withheld: ask the CMHT",
                    ),
                    review_in_days=75,
                    updated_days_ago=12,
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000122",
        about=(
            "PDS does not know the number (404 RESOURCE_NOT_FOUND), yet NRL points to a crisis "
            "plan at RQI, and RQI holds the plan and alerts (risk to self high) under it: a "
            "number the trust recorded that PDS does not hold. The answer must be known=yes with "
            "RQI's plan and alerts, and say the number could not be verified, so who the person "
            "is must be confirmed; never 'not known' because PDS found no one."
        ),
        pds=PdsState.not_found,
        nrl_pointers=(RQI,),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.high,
                        "Jumped from height in 2025; talks of bridges when in crisis",
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "If he is near a drop, keep your distance and talk; do not rush him. He "
                        "trusts uniformed staff. Ask him to step back for a cigarette: it has "
                        "worked before. Call the crisis team at once."
                    ),
                    contact=RQI_CONTACT,
                    clinical=Clinical(
                        triggers="Debt letters; his daughter's birthday",
                        early_signs="Gives away his dog; walks at night",
                        what_helps="Talking about his dog; his sister",
                        what_to_avoid="Threats of detention as leverage",
                        mha_status="Informal; detained under s2 in 2025",
                        care_coordinator="Jo Marsh, CPN, Northshire CMHT (West), 0113 555 0147",
                        dependants="A dog at home",
                        access_notes="Sister holds a key",
                    ),
                    review_in_days=40,
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000130",
        about=(
            "superseded, with the plan under the old number: PDS answers for 9000000130 with the "
            "record of 9000000149. NRL points to a crisis plan at RQI under 9000000130 only; RQI "
            "holds that plan and a high risk-to-self alert under 9000000130, and only a low "
            "risk-to-others alert under 9000000149. The answer must be about 9000000149, say the "
            "number given was superseded, and merge both numbers: known=yes, RQI's crisis plan, "
            "risk to self high, risk to others low."
        ),
        pds=PdsState.superseded,
        superseded_by="9000000149",
        nrl_pointers=(RQI,),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.high,
                        "Overdose twice in 2025, both after losing accommodation",
                        since=date(2025, 3, 9),
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "Talk to him at his level; he finds standing officers threatening. Ask "
                        "what he has taken: he answers honestly. Offer the crisis café before "
                        "A&E if he is medically well."
                    ),
                    contact=RQI_CONTACT,
                    clinical=Clinical(
                        triggers="Losing accommodation; eviction notices",
                        early_signs="Stockpiling tablets; missing the hostel curfew",
                        what_helps="The hostel key worker; the crisis café",
                        what_to_avoid="Leaving him alone after disclosure",
                        mha_status="Informal",
                        care_coordinator="Ruth Adeyemi, social worker, Northshire CMHT (South)",
                        dependants="None",
                        access_notes="Hostel: staff at reception 24 hours",
                    ),
                    review_in_days=50,
                    updated_days_ago=80,
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000149",
        about=(
            "current number of 9000000130 (Brennan, Liam, born 1985-07-09): PDS verifies it; NRL "
            "knows it with no pointers; RQI holds only a low risk-to-others alert under it, the "
            "crisis plan being under the old number. Looked up by this number the answer must be "
            "known=yes with that alert, and may say only that no plan was found under this "
            "number, never that the person has no plan."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Brennan", given="Liam", birth_date=date(1985, 7, 9)
        ),
        nrl_pointers=(),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_others,
                        RiskLevel.low,
                        "Shouted at reception staff when refused a bed",
                        since=date(2026, 6, 30),
                    ),
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000157",
        about=(
            "crisis plans at both trusts with different contact hours: RQI's 0113 555 0100 is "
            "answered 24 hours, review in 90 days; Y05868's 0117 555 0123 Mon-Fri 09:00-17:00, "
            "out of hours Crisis line 0800 555 0199, 24 hours, review in 14 days. The answer must "
            "show both plans, each with its own trust and review date, neither hiding the other, "
            "and outside Y05868's hours give its crisis line, not its office number."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Adebayo", given="Grace", birth_date=date(1971, 1, 25)
        ),
        nrl_pointers=(RQI, Y05868),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.medium,
                        "Stops eating and drinking in crisis",
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "She may not speak at first: wait, and offer water. Her husband is her "
                        "main support and may be called. She agrees to see the crisis team at "
                        "home rather than go to hospital."
                    ),
                    contact=CrisisContact(
                        team="Northshire Crisis Resolution and Home Treatment Team",
                        phone="0113 555 0100",
                        hours="24 hours",
                        out_of_hours="NHS 111, option 2, 24 hours",
                    ),
                    clinical=Clinical(
                        triggers="Hospital admission of her husband; winter",
                        early_signs="Stops eating; stays in bed",
                        what_helps="Her husband; the home treatment team",
                        what_to_avoid="Admission far from home",
                        mha_status="Informal",
                        care_coordinator="Dev Patel, CPN, Northshire CMHT (North), 0113 555 0161",
                        dependants="None",
                        access_notes="Husband at home",
                    ),
                    review_in_days=90,
                    updated_days_ago=30,
                ),
            ),
            Y05868: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_self,
                        RiskLevel.low,
                        "Self-neglect when staying with her sister in Avonmere",
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "When in Avonmere she stays with her sister, who knows the plan. Offer "
                        "to call the sister before anyone else."
                    ),
                    contact=CrisisContact(
                        team="Avonmere Community Mental Health Team (West)",
                        phone="0117 555 0123",
                        hours="Mon-Fri 09:00-17:00",
                        out_of_hours="Crisis line 0800 555 0199, 24 hours",
                    ),
                    clinical=Clinical(
                        triggers="Travelling alone",
                        early_signs="Not answering her sister",
                        what_helps="Her sister; a familiar GP",
                        what_to_avoid="Being moved between services",
                        mha_status="Informal",
                        care_coordinator="Avonmere CMHT (West) duty worker",
                        dependants="None",
                        access_notes="Sister's flat: ground floor",
                    ),
                    review_in_days=14,
                    updated_days_ago=200,
                ),
            ),
        },
    ),
    Person(
        nhs_number="9000000165",
        about=(
            "crisis contact whose hours cannot be read: Y05868's plan gives 0117 555 0166 with "
            "hours 'Office hours', and out of hours Avonmere crisis line 0800 555 0188, 24 hours. "
            "The answer must not say whether the number is answered now, and must show both "
            "numbers: the office number and the out-of-hours line."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Novak", given="Petra", birth_date=date(1983, 9, 30)
        ),
        nrl_pointers=(Y05868,),
        trusts={
            Y05868: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_others,
                        RiskLevel.medium,
                        "Throws objects when voices are loud",
                    ),
                ),
                plan=CrisisPlan(
                    approach_advice=(
                        "Keep your voice low and give her room. She hears voices that tell her "
                        "police will hurt her: say who you are and why you are there."
                    ),
                    contact=CrisisContact(
                        team="Avonmere Early Intervention in Psychosis Team",
                        phone="0117 555 0166",
                        hours="Office hours",
                        out_of_hours="Avonmere crisis line 0800 555 0188, 24 hours",
                    ),
                    clinical=Clinical(
                        triggers="Missing depot injection; cannabis",
                        early_signs="Covers windows; stops answering the door",
                        what_helps="Her EIP worker; low light",
                        what_to_avoid="Crowding; sudden movements",
                        mha_status="Community treatment order (s17A) until 2027-05-01",
                        care_coordinator="Lena Brooks, EIP care coordinator, 0117 555 0167",
                        dependants="None",
                        access_notes="Flat 9, third floor; lift often broken",
                    ),
                    review_in_days=60,
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000173",
        about=(
            "unmapped alert: RQI holds an active Flag from its own alert list (category 'Scene "
            "unsafe: weapon', text 'Weapon (knife) seen at address'), outside the partnership's "
            "code lists, beside a partnership alert of risk to others 'none'. The answer must be "
            "known=yes and say RQI holds an active alert that could not be read (ask RQI), never "
            "'no risk to others'."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Marsh", given="Callum", birth_date=date(1997, 2, 18)
        ),
        nrl_pointers=(),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(RiskCategory.to_others, RiskLevel.none, "No concerns recorded"),
                    SafetyFlag(
                        ForeignCode(
                            system=RQI_ALERT_SYSTEM,
                            code="SCENE-UNSAFE-WEAPON",
                            display="Scene unsafe: weapon",
                        ),
                        None,
                        "Weapon (knife) seen at address",
                        since=date(2026, 9, 14),
                    ),
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000181",
        about=(
            "alert with a level outside the partnership's list: Y05868 holds an active "
            "risk-to-others Flag coded level 'very-high', and a low risk-to-self alert. The "
            "answer must show a risk-to-others alert of unknown level (ask Y05868), never 'none' "
            "or 'low', and risk to self low."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Quinn", given="Aoife", birth_date=date(2001, 6, 5)
        ),
        nrl_pointers=(),
        trusts={
            Y05868: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_others,
                        UnlistedLevel("very-high"),
                        "Seriously assaulted two ward staff during her last admission",
                    ),
                    SafetyFlag(RiskCategory.to_self, RiskLevel.low, "Historic self-harm"),
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000203",
        about=(
            "probable match: a trace for family Whitfield, given Owen, born 1964-12-03, postcode "
            "LS6 2QT finds only this person, with search.score 0.8; RQI holds a medium "
            "risk-to-self alert. The answer must say the match is probable, not verified, and "
            "that the officer must confirm who the person is before relying on it."
        ),
        pds=PdsState.found,
        record=PdsRecord(
            published.PATIENT, family="Whitfield", given="Owen", birth_date=WHITFIELD_BORN
        ),
        nrl_pointers=(),
        trusts={
            RQI: TrustRecord(
                flags=(
                    SafetyFlag(
                        RiskCategory.to_self, RiskLevel.medium, "Suicidal thoughts after drinking"
                    ),
                ),
            )
        },
    ),
    Person(
        nhs_number="9000000211",
        about=(
            "bad data from PDS: a trace for family Pryce, given Evan, born 1958-03-21 finds one "
            f"match whose NHS number, {PRYCE_MISREPORTED}, fails Modulus 11 (read by 9000000211, "
            "PDS answers normally). The answer must say PDS could not be checked (a bad answer), "
            "never 'no match' or 'not known', and must never show or use that number."
        ),
        pds=PdsState.found,
        record=PdsRecord(published.PATIENT, family="Pryce", given="Evan", birth_date=PRYCE_BORN),
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
    # Restricted: found only by a search without a postcode.
    Trace(
        family="Hartley",
        given="Rose",
        birth_date=HARTLEY_BORN,
        nhs_numbers=("9000000114",),
        score=1.0,
    ),
    Trace(
        family="Whitfield",
        given="Owen",
        birth_date=WHITFIELD_BORN,
        postcode="LS6 2QT",
        nhs_numbers=("9000000203",),
        score=0.8,
    ),
    Trace(
        family="Pryce",
        given="Evan",
        birth_date=PRYCE_BORN,
        nhs_numbers=("9000000211",),
        score=1.0,
        misreported_as=PRYCE_MISREPORTED,
    ),
)


def person(nhs_number: str) -> Person | None:
    return BY_NHS_NUMBER.get(nhs_number)


def trace(
    family: str, given: str | None, birth_date: date | None, postcode: str | None
) -> Trace | None:
    """The rule a PDS demographic search matches, holding only the people it finds; None: no one.

    As PDS does, a search that gives a postcode never finds a restricted person, whose address
    PDS does not disclose.
    """
    rule = _first_rule(family, given, birth_date, postcode)
    if rule is None or postcode is None:
        return rule
    found = tuple(number for number in rule.nhs_numbers if not BY_NHS_NUMBER[number].restricted)
    return replace(rule, nhs_numbers=found) if found else None


def _first_rule(
    family: str, given: str | None, birth_date: date | None, postcode: str | None
) -> Trace | None:
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
        return rule
    return None


def _compact(postcode: str) -> str:
    return postcode.replace(" ", "").upper()
