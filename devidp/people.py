"""The demo people who can sign in, and the role maps the demo's trusted issuers file uses.

Police staff sign in with the force's Entra ID tenant and carry app roles; NHS staff sign in with
CIS2 and carry National RBAC roles, one of them selected for the session. The R-codes and role
names follow the National RBAC job roles (see SOURCES.md); uids and role ids are made up.
"""

from dataclasses import dataclass, field
from enum import StrEnum

# Northshire Police's tenant: a fixed GUID so issuer URLs stay the same between runs.
ENTRA_TENANT = "5b0e2f3c-8a61-4d0b-9c2e-6f1a4d7e9b30"
ENTRA_ORGANISATION = "NSP"
ENTRA_ORGANISATION_NAME = "Northshire Police"

TRUST_NAMES = {
    "RQI": "Northshire Mental Health NHS Foundation Trust",
    "Y05868": "Avonmere Mental Health Partnership NHS Trust",
}

# Provider values -> the product's roles, as plain strings: this package never imports the product.
DEMO_ROLE_MAP = {"Triage.Officer": "officer", "Triage.Supervisor": "supervisor"}
CIS2_ROLE_MAP = {"R8001": "mh_practitioner", "R8002": "supervisor", "R0001": "ig_officer"}


class IssuerKind(StrEnum):
    entra = "entra"
    cis2 = "cis2"


@dataclass(frozen=True)
class EntraPerson:
    """A user in the force's tenant. `roles` are the app roles assigned to them."""

    key: str
    name: str
    preferred_username: str
    oid: str
    roles: tuple[str, ...] = ()
    issuer: IssuerKind = field(default=IssuerKind.entra, init=False)

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def description(self) -> str:
        roles = ", ".join(self.roles) if self.roles else "no app roles"
        return f"{roles} ({ENTRA_ORGANISATION_NAME})"


@dataclass(frozen=True)
class NationalRbacRole:
    """One entry of `nhsid_nrbac_roles`: a role the person holds at one organisation."""

    person_roleid: str
    person_orgid: str
    org_code: str
    role_code: str  # "S....:G....:R....": the last part is the job role
    role_name: str  # '"Group":"Subgroup":"Job role"', as CIS2 writes it
    activities: tuple[str, ...] = ()
    activity_codes: tuple[str, ...] = ()

    @property
    def job_role(self) -> str:
        return self.role_code.rsplit(":", 1)[-1]

    @property
    def job_role_name(self) -> str:
        return self.role_name.rsplit(":", 1)[-1].strip('"')


@dataclass(frozen=True)
class Cis2Person:
    """A CIS2 user. `selected_roleid` is the role chosen for the session (None: none chosen)."""

    key: str
    uid: str
    given_name: str
    family_name: str
    title: str
    roles: tuple[NationalRbacRole, ...]
    selected_roleid: str | None
    email: str | None = None
    middle_names: str | None = None
    # idassurancelevel in userinfo (a string) and id_assurance_level in the ID token (a number).
    id_assurance_level: int = 3
    authentication_assurance_level: int = 3
    acr: str = "AAL3_ANY"
    amr: tuple[str, ...] = ("N3_SMARTCARD",)
    # Professional registrations (scope professionalmemberships), e.g. {"nmc_id": "..."}.
    memberships: tuple[tuple[str, str], ...] = ()
    organisation_names: tuple[tuple[str, str], ...] = tuple(TRUST_NAMES.items())
    issuer: IssuerKind = field(default=IssuerKind.cis2, init=False)

    @property
    def name(self) -> str:
        # As the published userinfo examples write it: names, then title ("USERQ RANDOM Mr").
        return f"{self.given_name} {self.family_name} {self.title}".strip()

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def selected_role(self) -> NationalRbacRole | None:
        return next((r for r in self.roles if r.person_roleid == self.selected_roleid), None)

    def organisation_name(self, code: str) -> str:
        return dict(self.organisation_names).get(code, code)

    @property
    def description(self) -> str:
        role = self.selected_role
        if role is None:
            return "no role selected"
        others = len(self.roles) - 1
        more = f"; {others} other role{'s' if others != 1 else ''}" if others > 0 else ""
        return f"{role.job_role_name} ({self.organisation_name(role.org_code)}){more}"


Person = EntraPerson | Cis2Person

NURSE = ("S8000:G8000:R8001", '"Clinical":"Clinical Provision":"Nurse Access Role"')
NURSE_MANAGER = ("S8000:G8000:R8002", '"Clinical":"Clinical Provision":"Nurse Manager Access Role"')
PRIVACY_OFFICER = ("S0080:G0450:R0001", '"Admin & Clerical":"Management - A & C":"Privacy Officer"')
# Activity codes as CIS2 publishes them for clinical roles (see SOURCES.md).
CLINICAL_ACTIVITIES = (
    ("View Patient Medication", "B0401"),
    ("Amend Patient Demographics", "B0825"),
)
IG_ACTIVITIES = (("Receive Legal Override and Emergency View Alerts", "B0015"),)


def _role(
    person_roleid: str,
    person_orgid: str,
    org_code: str,
    code_and_name: tuple[str, str],
    activities: tuple[tuple[str, str], ...],
) -> NationalRbacRole:
    return NationalRbacRole(
        person_roleid=person_roleid,
        person_orgid=person_orgid,
        org_code=org_code,
        role_code=code_and_name[0],
        role_name=code_and_name[1],
        activities=tuple(name for name, _ in activities),
        activity_codes=tuple(code for _, code in activities),
    )


def _one_role_person(
    key: str,
    uid: int,
    names: tuple[str, str, str],
    org_code: str,
    code_and_name: tuple[str, str],
    activities: tuple[tuple[str, str], ...],
) -> Cis2Person:
    given_name, family_name, title = names
    role = _role(str(uid + 1), str(uid + 2), org_code, code_and_name, activities)
    return Cis2Person(
        key=key,
        uid=str(uid),
        given_name=given_name,
        family_name=family_name,
        title=title,
        roles=(role,),
        selected_roleid=role.person_roleid,
    )


def _two_trust_practitioner() -> Cis2Person:
    at_rqi = _role("555301000101", "555301000900", "RQI", NURSE, CLINICAL_ACTIVITIES)
    at_avonmere = _role("555301000102", "555301000901", "Y05868", NURSE, CLINICAL_ACTIVITIES)
    return Cis2Person(
        key="two-trust-practitioner",
        uid="555301000100",
        given_name="Morgan",
        family_name="Reyes",
        title="Mr",
        roles=(at_rqi, at_avonmere),
        selected_roleid=at_rqi.person_roleid,
    )


DEMO_PEOPLE: tuple[Person, ...] = (
    EntraPerson(
        key="nsp-officer",
        name="Alex Morgan",
        preferred_username="alex.morgan@northshire-police.example",
        oid="0d5c3f1e-2b7a-4c9d-8e6f-1a2b3c4d5e01",
        roles=("Triage.Officer",),
    ),
    EntraPerson(
        key="nsp-supervisor",
        name="Sam Okafor",
        preferred_username="sam.okafor@northshire-police.example",
        oid="0d5c3f1e-2b7a-4c9d-8e6f-1a2b3c4d5e02",
        roles=("Triage.Supervisor",),
    ),
    _one_role_person(
        "rqi-practitioner",
        555101000100,
        ("Jordan", "Ellis", "Mx"),
        "RQI",
        NURSE,
        CLINICAL_ACTIVITIES,
    ),
    _one_role_person(
        "rqi-supervisor",
        555101000200,
        ("Priya", "Raman", "Ms"),
        "RQI",
        NURSE_MANAGER,
        CLINICAL_ACTIVITIES,
    ),
    _one_role_person(
        "rqi-ig-officer",
        555101000300,
        ("Tom", "Hale", "Mr"),
        "RQI",
        PRIVACY_OFFICER,
        IG_ACTIVITIES,
    ),
    _one_role_person(
        "y05868-practitioner",
        555201000100,
        ("Casey", "Brook", "Mx"),
        "Y05868",
        NURSE,
        CLINICAL_ACTIVITIES,
    ),
    _one_role_person(
        "y05868-supervisor",
        555201000200,
        ("Nadia", "Osei", "Ms"),
        "Y05868",
        NURSE_MANAGER,
        CLINICAL_ACTIVITIES,
    ),
    _one_role_person(
        "y05868-ig-officer",
        555201000300,
        ("Owen", "Price", "Mr"),
        "Y05868",
        PRIVACY_OFFICER,
        IG_ACTIVITIES,
    ),
    _two_trust_practitioner(),
)
