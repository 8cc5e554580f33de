"""The partnership and its Information Sharing Agreement, as value types validated on load.

The agreement is configuration the API enforces and shows: who takes part, for which purposes, which
roles of which kinds of organisation may see which classes of data, on what legal basis, for how long.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models.organisation import OrganisationBase, OrganisationKind
from models.partner import Partner, PartnerKind

# Issued tokens never live longer than this, whatever a purpose asks for.
MAX_TOKEN_LIFETIME_SECONDS = 900


class Role(StrEnum):
    officer = "officer"
    mh_practitioner = "mh_practitioner"
    supervisor = "supervisor"
    ig_officer = "ig_officer"


class DataClass(StrEnum):
    """The classes of data the API can disclose. What each contains is fixed by the code that projects it."""

    crisis_flag = "crisis_flag"
    crisis_plan_exists = "crisis_plan_exists"
    safety_alerts = "safety_alerts"
    crisis_contact = "crisis_contact"
    approach_advice = "approach_advice"
    crisis_plan_clinical = "crisis_plan_clinical"
    incident_record = "incident_record"
    joint_assessment = "joint_assessment"
    outcome_statistics = "outcome_statistics"
    audit_trail = "audit_trail"

    @property
    def description(self) -> str:
        return _DATA_CLASS_DESCRIPTIONS[self]


_DATA_CLASS_DESCRIPTIONS: dict[DataClass, str] = {
    DataClass.crisis_flag: (
        "Whether partner mental health services know the person: known, not known, or could not check."
    ),
    DataClass.crisis_plan_exists: (
        "Whether a crisis plan exists, which organisation holds it, and whether it is past its review date."
    ),
    DataClass.safety_alerts: (
        "Safety alerts with their level (risk to self, to others, from others), as written for police "
        "by the plan's author."
    ),
    DataClass.crisis_contact: (
        "The crisis contact: a work number, its hours and the out-of-hours alternative."
    ),
    DataClass.approach_advice: (
        "What helps: approach advice written for police by the plan's author."
    ),
    DataClass.crisis_plan_clinical: (
        "The full crisis plan: clinical section, care coordinator, Mental Health Act status, "
        "safeguarding and dependants."
    ),
    DataClass.incident_record: (
        "The incident: times, coarse location, triage mode, outcome codes and handover."
    ),
    DataClass.joint_assessment: (
        "The joint assessment: presenting situation, risks and rationale, capacity, consent and decision."
    ),
    DataClass.outcome_statistics: (
        "Counts, rates and timings across incidents, with no clinical free text."
    ),
    DataClass.audit_trail: "Who saw or changed what, when, and for which purpose.",
}


class Scope(StrEnum):
    """What a token lets its holder do, as `resource:action`. Each route requires exactly one."""

    incident_open = "incident:open"
    incident_read = "incident:read"
    incident_write = "incident:write"
    incident_amend = "incident:amend"
    incident_review = "incident:review"
    crisis_flag_lookup = "crisis_flag:lookup"
    crisis_plan_read = "crisis_plan:read"
    crisis_plan_write = "crisis_plan:write"
    crisis_plan_break_glass = "crisis_plan:break_glass"
    notification_read = "notification:read"
    report_read = "report:read"
    audit_read = "audit:read"

    @property
    def incident_bound(self) -> bool:
        """Whether the scope acts on one incident, and so is granted only to a bound token."""
        return self in _INCIDENT_BOUND_SCOPES


_INCIDENT_BOUND_SCOPES = frozenset(
    {
        Scope.incident_read,
        Scope.incident_write,
        Scope.incident_amend,
        Scope.crisis_flag_lookup,
        Scope.crisis_plan_break_glass,
    }
)


class PurposeOfUse(StrEnum):
    """HL7 v3 ActReason codes the purposes map to (there is no law-enforcement code)."""

    TREAT = "TREAT"
    ETREAT = "ETREAT"
    COC = "COC"
    BTG = "BTG"
    HOPERAT = "HOPERAT"
    HQUALIMP = "HQUALIMP"
    HCOMPL = "HCOMPL"


class IncidentBinding(StrEnum):
    none = "none"
    optional = "optional"
    required = "required"


Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]


class _Strict(BaseModel):
    # A misspelt key in a hand-written agreement must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class LegalBasis(_Strict):
    code: Name
    text: Text


class Purpose(_Strict):
    name: Name
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: Text
    purpose_of_use: PurposeOfUse
    roles: list[Role] = Field(min_length=1)
    incident_binding: IncidentBinding = IncidentBinding.none
    token_lifetime_seconds: int = Field(default=300, ge=30, le=MAX_TOKEN_LIFETIME_SECONDS)
    justification_min_length: int = Field(default=0, ge=0, le=2000)
    legal_basis: list[Name] = Field(min_length=1)
    scopes: list[Scope] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_binding(self) -> Self:
        bound = [scope for scope in self.scopes if scope.incident_bound]
        if self.incident_binding == IncidentBinding.none and bound:
            raise ValueError(
                f"purpose '{self.name}' is never bound to an incident but lists incident scopes "
                + ", ".join(f"'{scope}'" for scope in bound)
            )
        if self.incident_binding == IncidentBinding.required and len(bound) < len(self.scopes):
            raise ValueError(
                f"purpose '{self.name}' is always bound to an incident but lists unbound scopes"
            )
        return self

    def scopes_for(self, *, bound: bool) -> list[Scope]:
        """The scopes a token for this purpose carries, bound to an incident or not."""
        return [scope for scope in self.scopes if scope.incident_bound == bound]


class AccessRule(_Strict):
    organisation_kind: OrganisationKind
    role: Role
    purposes: list[Name] = Field(min_length=1)
    data_classes: list[DataClass] = Field(min_length=1)
    # Scopes a role gets only when its rule names them, whatever its purposes list: opening an
    # incident (`incident:open`) is police work, given to anyone else only here, explicitly.
    explicit_scopes: list[Scope] = Field(default_factory=list)


class Retention(_Strict):
    incident_days: int = Field(ge=1, le=36500)
    audit_event_days: int = Field(ge=1, le=36500)
    notification_days: int = Field(ge=1, le=36500)


class LookupQuotas(_Strict):
    per_user_per_hour: int = Field(ge=1, le=100_000)
    per_organisation_per_day: int = Field(ge=1, le=10_000_000)
    people_per_incident: int = Field(default=10, ge=1, le=1000)


class IncidentQuotas(_Strict):
    # Each incident has its own people-per-incident lookup limit: without a cap on opening them,
    # opening another would give another.
    per_user_per_hour: int = Field(default=20, ge=1, le=100_000)


class CrisisPlanRelationshipReason(_Strict):
    """A reason a practitioner may give for writing a crisis plan when their trust has no record
    endpoint here to confirm the person is in its care."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]


class Agreement(_Strict):
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    effective_from: date
    review_by: date
    legal_basis: list[LegalBasis] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    access: list[AccessRule] = Field(min_length=1)
    retention: Retention
    lookup_quotas: LookupQuotas
    incident_quotas: IncidentQuotas = Field(default_factory=IncidentQuotas)
    # How long before the server receives an incident its call may have been. The time of call
    # is the caller's word; a date far back is a mistake, or a way to have the record purged early.
    incident_time_of_call_max_age_days: int = Field(default=7, ge=1, le=365)
    # Empty: a trust without a record endpoint here writes no crisis plans.
    crisis_plan_relationships: list[CrisisPlanRelationshipReason] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        problems: list[str] = []
        if self.review_by <= self.effective_from:
            problems.append("review_by must be after effective_from")
        problems += _duplicates("legal basis", [basis.code for basis in self.legal_basis])
        problems += _duplicates("purpose", [purpose.name for purpose in self.purposes])
        problems += _duplicates(
            "crisis plan relationship", [reason.code for reason in self.crisis_plan_relationships]
        )
        known_bases = {basis.code for basis in self.legal_basis}
        purposes = {purpose.name: purpose for purpose in self.purposes}
        for purpose in self.purposes:
            for code in purpose.legal_basis:
                if code not in known_bases:
                    problems.append(f"purpose '{purpose.name}' names unknown legal basis '{code}'")
        seen: set[tuple[OrganisationKind, Role]] = set()
        for rule in self.access:
            key = (rule.organisation_kind, rule.role)
            if key in seen:
                problems.append(
                    f"access for role '{rule.role}' in '{rule.organisation_kind}' is given twice"
                )
            seen.add(key)
            for name in rule.purposes:
                granted = purposes.get(name)
                if granted is None:
                    problems.append(f"access for role '{rule.role}' names unknown purpose '{name}'")
                elif rule.role not in granted.roles:
                    problems.append(
                        f"access gives role '{rule.role}' purpose '{name}', "
                        f"which that purpose does not allow"
                    )
            offered = {
                scope
                for name in rule.purposes
                if name in purposes
                for scope in purposes[name].scopes
            }
            for scope in rule.explicit_scopes:
                if scope not in offered:
                    problems.append(
                        f"access for role '{rule.role}' names scope '{scope}', "
                        f"which none of its purposes gives"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Partnership(_Strict):
    organisations: list[OrganisationBase] = Field(min_length=1)
    agreement: Agreement
    partners: list[Partner] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_organisations(self) -> Self:
        problems = _duplicates("organisation code", [org.code for org in self.organisations])
        problems += _duplicates("partner", [partner.name for partner in self.partners])
        kinds = {org.kind for org in self.organisations}
        by_code = {org.code: org for org in self.organisations}
        for partner in self.partners:
            if partner.kind != PartnerKind.fhir_trust:
                continue
            owner = by_code.get(partner.organisation_code or "")
            if owner is None or owner.kind != OrganisationKind.nhs_trust:
                problems.append(
                    f"partner '{partner.name}' is a trust endpoint, so its organisation_code must be"
                    " an NHS trust of the partnership"
                )
        for rule in self.agreement.access:
            if rule.organisation_kind not in kinds:
                problems.append(
                    f"access for role '{rule.role}' names organisation kind "
                    f"'{rule.organisation_kind}', but no organisation of that kind takes part"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _duplicates(what: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return [f"duplicate {what} '{value}'" for value in repeated]
