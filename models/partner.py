"""NHS partner systems: how they are configured, and the domain values their adapters return."""

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

from models.contact_hours import ContactHours
from models.validation import PlausibleDate


class PartnerKind(StrEnum):
    pds = "pds"
    nrl = "nrl"
    fhir_trust = "fhir_trust"


class PartnerAuth(BaseModel):
    """NHS signed-JWT client authentication (private_key_jwt, RS512) against a token endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_url: AnyHttpUrl
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    private_key_file: Path
    key_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class Partner(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
    kind: PartnerKind
    organisation_code: Annotated[str | None, StringConstraints(pattern=r"^[A-Z0-9]{3,10}$")] = (
        Field(
            default=None,
            description="The trust a `fhir_trust` endpoint belongs to; national services (PDS, NRL) have none.",
        )
    )
    base_url: AnyHttpUrl
    auth: PartnerAuth | None = None
    timeout_seconds: float = Field(default=1.0, gt=0, le=10)
    max_concurrency: int = Field(default=10, ge=1, le=200)
    max_response_bytes: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    rate_limit_per_second: float = Field(default=5.0, gt=0, le=1000)


class PartnerCallError(StrEnum):
    """Why a source gave no answer: `unavailable` could not be asked, `error` answered badly."""

    unavailable = "unavailable"
    error = "error"


class PdsVerification(BaseModel):
    """PDS on one NHS number. `not_found` and `invalidated` disclose nothing further."""

    model_config = ConfigDict(frozen=True)

    found: bool
    invalidated: bool = False
    nhs_number: str | None = Field(
        default=None, description="The current number; differs when superseded."
    )
    superseded: bool = False
    restricted: bool = False


class PdsTraceOutcome(StrEnum):
    unique = "unique"
    none = "none"
    ambiguous = "ambiguous"


class PdsTrace(BaseModel):
    """A demographic trace: only a unique match names anyone, and only a score of 1 verifies it."""

    model_config = ConfigDict(frozen=True)

    outcome: PdsTraceOutcome
    nhs_number: str | None = None
    restricted: bool = False
    score: float | None = Field(
        default=None, description="PDS's match score, 0 to 1; below 1 is a probable match."
    )


class Demographics(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    family: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    given: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    birth_date: PlausibleDate
    postcode: Annotated[
        str | None,
        StringConstraints(pattern=r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$"),
    ] = None


class CrisisPlanPointer(BaseModel):
    """A National Record Locator pointer to a crisis plan held by a trust."""

    model_config = ConfigDict(frozen=True)

    custodian_code: str
    title: str | None = None
    url: str | None = Field(
        default=None, description="Where the document is; for practitioners only."
    )
    content_type: str | None = None
    contact_details: bool = Field(
        default=False,
        description="The pointer is the NRL contact-details format: call, do not fetch.",
    )
    created: str | None = None


class NrlResult(BaseModel):
    """`known` is false when NRL holds no record of the person; true with no pointers is a known
    person with no crisis plan registered."""

    model_config = ConfigDict(frozen=True)

    known: bool
    pointers: list[CrisisPlanPointer] = Field(default_factory=list)


class AlertCategory(StrEnum):
    risk_to_self = "risk_to_self"
    risk_to_others = "risk_to_others"
    risk_from_others = "risk_from_others"


class AlertLevel(StrEnum):
    """`not_recorded`: every source that could hold an alert answered and none recorded one. It
    never means "no risk". `unknown`: a source that could hold one did not answer."""

    not_recorded = "not_recorded"
    low = "low"
    medium = "medium"
    high = "high"
    unknown = "unknown"


class SafetyAlert(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: AlertCategory
    level: AlertLevel


class CrisisContact(BaseModel):
    """NRL contact rules: a work number, its hours, and an out-of-hours alternative.

    `hours` and `out_of_hours` are the words as written; `schedule` is the hours read into days
    and times (None: they could not be read), `out_of_hours_phone` the alternative's number."""

    model_config = ConfigDict(frozen=True)

    team: str
    phone: str
    hours: str
    out_of_hours: str
    schedule: ContactHours | None = None
    out_of_hours_phone: str | None = None


class CrisisAction(BaseModel):
    """ "In the event of X, do Y"."""

    model_config = ConfigDict(frozen=True)

    when: str
    action: str


class ClinicalPlan(BaseModel):
    """The crisis plan's clinical content: for practitioners, never for police."""

    model_config = ConfigDict(frozen=True)

    triggers: str | None = None
    early_signs: str | None = None
    what_helps: str | None = None
    what_to_avoid: str | None = None
    mha_status: str | None = None
    care_coordinator: str | None = None
    dependants: str | None = None
    access_notes: str | None = None
    safeguarding: str | None = None
    actions: tuple[CrisisAction, ...] = ()


class TrustCrisisPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    custodian_code: str
    approach_advice: str | None = None
    crisis_contact: CrisisContact | None = None
    review_date: date | None = None
    last_updated: datetime | None = None
    clinical: ClinicalPlan = Field(default_factory=ClinicalPlan)


class UnmappedAlert(BaseModel):
    """An active alert the adapter could not read into a category and level: never dropped.

    `category` is set when the category was read and only the level was not; None means the
    alert could concern any category. Its words are not kept: they may be clinical."""

    model_config = ConfigDict(frozen=True)

    category: AlertCategory | None = None


class TrustRecord(BaseModel):
    """What one trust holds on a person: active safety alerts and the crisis plan, if any."""

    model_config = ConfigDict(frozen=True)

    organisation_code: str
    known: bool
    alerts: list[SafetyAlert] = Field(default_factory=list)
    unmapped_alerts: list[UnmappedAlert] = Field(default_factory=list)
    plan: TrustCrisisPlan | None = None
