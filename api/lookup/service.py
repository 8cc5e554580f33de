"""The crisis flag lookup at the scene: every source at once, within one deadline, told to each
role only what it may know, audited and notified in the same transaction as it is disclosed."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import principal_event
from api.crisis_plan import service as crisis_plans
from api.errors import ServiceError
from api.incident import service as incidents
from api.lookup import merge, repository
from api.partners import Partners
from auth.principal import Principal
from clients.errors import PartnerBadResponse, PartnerError
from models import (
    AccessNotification,
    AuditAction,
    FlagLookup,
    IncidentStatus,
    Partnership,
    Role,
    Scope,
)
from models.base import built, utcnow
from models.contact_hours import LONDON
from models.lookup import (
    AnswerContact,
    Custodian,
    DocumentPointer,
    Identification,
    Known,
    LookupRequest,
    NumberUsed,
    OfficerFlag,
    OfficerPlan,
    Person,
    PlanPresence,
    PractitionerFlag,
    PractitionerPlan,
    SourceReport,
    SourceStatus,
    UnreadAlert,
)
from models.partner import (
    AlertCategory,
    AlertLevel,
    ClinicalPlan,
    Demographics,
    NrlResult,
    PdsTraceOutcome,
    PdsVerification,
    TrustCrisisPlan,
    TrustRecord,
)

T = TypeVar("T")
WRITE_RESERVE_SECONDS = 0.25
LOCAL_SOURCE = "local"


class LookupQuotaExceeded(ServiceError):
    status = 429
    type_slug = "lookup-quota-exceeded"
    title = "Too many lookups"


@dataclass
class _Outcome:
    report: SourceReport
    value: Any = None


async def _ask(name: str, kind: str, call: Awaitable[T]) -> _Outcome:
    started = time.monotonic()
    status = SourceStatus.found
    value: Any = None
    try:
        value = await call
    except PartnerBadResponse:
        status = SourceStatus.error
    except PartnerError:
        status = SourceStatus.unavailable
    except TimeoutError:
        status = SourceStatus.unavailable
    latency = int((time.monotonic() - started) * 1000)
    return _Outcome(SourceReport(name=name, kind=kind, status=status, latency_ms=latency), value)


async def check_quotas(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    incident_id: uuid.UUID,
    nhs_number: str | None,
) -> None:
    """Before any partner is asked: the officer's hour, the organisation's day, and the number of
    different people this incident has looked up (the person already looked up does not count).
    The user's and the incident's lookup turns are held already (`repository.incident_taking_turn`)."""
    quotas = partnership.agreement.lookup_quotas
    now = datetime.now(UTC)
    usage = await repository.quota_usage(
        session,
        principal.user_id,
        principal.organisation_code,
        incident_id,
        nhs_number,
        user_since=now - timedelta(hours=1),
        organisation_since=now - timedelta(days=1),
    )
    if usage.by_user >= quotas.per_user_per_hour:
        raise LookupQuotaExceeded(
            "Your lookups this hour are at the agreement's limit.", headers={"Retry-After": "3600"}
        )
    if usage.by_organisation >= quotas.per_organisation_per_day:
        # Not serialised: a force's lookups must not queue behind each other. Concurrent lookups
        # can pass this limit by at most the number in flight at the moment it is reached.
        raise LookupQuotaExceeded(
            "Your organisation's lookups today are at the agreement's limit.",
            headers={"Retry-After": "3600"},
        )
    if (
        nhs_number is not None
        and not usage.person_seen
        and usage.people >= quotas.people_per_incident
    ):
        raise LookupQuotaExceeded(
            "This incident has looked up as many different people as the agreement allows."
        )


async def lookup(
    session: AsyncSession,
    partnership: Partnership,
    partners: Partners,
    principal: Principal,
    incident_id: uuid.UUID,
    request: LookupRequest,
    deadline_seconds: float,
) -> OfficerFlag | PractitionerFlag:
    # Read, not locked: lookups on one incident must not queue behind the incident's row lock
    # (writes take it); they take turns with each other only, from the quota check to the commit.
    started = time.monotonic()
    incident = await repository.incident_taking_turn(
        session, incident_id, principal.organisation_code, principal.user_id
    )
    if incident is None:
        raise incidents.IncidentNotFound()
    if incident.status != IncidentStatus.open:
        raise incidents.IncidentClosed("The incident is closed; no more lookups.")
    await check_quotas(session, partnership, principal, incident_id, request.nhs_number)
    # The partners get the deadline less a reserve for recording the answer, so the officer's
    # answer, not just the partners', arrives within it.
    deadline = started + deadline_seconds - min(WRITE_RESERVE_SECONDS, deadline_seconds / 5)
    reports: list[SourceReport] = []

    if request.demographics is not None:
        identity, report = await _trace(partners, request.demographics, deadline)
        if report is not None:
            reports.append(report)
        if identity.nhs_number is not None:
            await check_quotas(session, partnership, principal, incident_id, identity.nhs_number)
    else:
        identity = _Identity(Identification.unverified, request.nhs_number)

    answers = merge.Answers()
    person_id: uuid.UUID | None = None
    if identity.nhs_number is not None:
        asked = identity.nhs_number
        fan_out = asyncio.ensure_future(
            _fan_out(partners, asked, request.demographics is None, deadline)
        )
        person_id, local, local_report = await _while_asked(session, fan_out, asked)
        verification, holders = await fan_out
        if verification is not None:
            reports.append(verification.report)
            identity = _verified(verification, asked)
        answers = _interpret(holders) + merge.Answers(asked=True, trusts=tuple(local))
        reports += [outcome.report for outcome in holders] + [local_report]
        if identity.nhs_number != asked:
            # Superseded: holders may file under either number, so a "not found" under the old
            # one proves nothing. They are asked again under the current one, in the time left,
            # and what both rounds found is merged.
            current = identity.nhs_number
            assert current is not None
            await check_quotas(session, partnership, principal, incident_id, current)
            again = asyncio.ensure_future(
                asyncio.gather(*_holder_calls(partners, current, deadline))
            )
            person_id, local, local_report = await _while_asked(session, again, current)
            holders = list(await again)
            answers = answers + _interpret(holders) + merge.Answers(asked=True, trusts=tuple(local))
            for report in [*(outcome.report for outcome in holders), local_report]:
                report.under = NumberUsed.current
                reports.append(report)

    person = _person(identity, request)
    known = merge.known_to_services(person.identification, answers)
    answer = _project(partnership, principal, person, answers, reports, known)

    # `built`, not the constructors: `repository.save` writes these as JSON.
    now = utcnow()
    lookup_row = built(
        FlagLookup,
        id=answer.lookup_id,
        created_at=now,
        incident_id=incident_id,
        user_id=principal.user_id,
        organisation_code=principal.organisation_code,
        person_id=person_id,
        known_to_services=known.value,
    )
    disclosed = _data_classes(answer)
    event = principal_event(
        AuditAction.crisis_flag_lookup,
        principal,
        incident_id,
        {
            "lookup_id": str(answer.lookup_id),
            "identification": person.identification.value,
            "sources": {_source_key(report): report.status.value for report in reports},
        },
        person_id=person_id,
        data_classes=disclosed,
        source_systems=sorted({report.name for report in reports}),
    )
    notifications: list[AccessNotification] = []
    if person_id is not None:
        notifications = [
            built(
                AccessNotification,
                id=uuid.uuid4(),
                created_at=now,
                organisation_code=code,
                person_id=person_id,
                lookup_id=answer.lookup_id,
                actor_user_id=principal.user_id,
                actor_name=principal.display_name,
                actor_role=principal.role.value,
                actor_organisation_code=principal.organisation_code,
                incident_id=incident_id,
                cad_reference=incident.cad_reference,
                purpose=principal.purpose,
                break_glass=Scope.crisis_plan_break_glass in principal.scopes,
            )
            for code in merge.custodians(answers)
        ]
    await repository.save(session, lookup_row, notifications, event)
    return answer


def _source_key(report: SourceReport) -> str:
    """A source's name, marked when it was asked again under a replaced number's successor."""
    return f"{report.name}@current" if report.under == NumberUsed.current else report.name


@dataclass(frozen=True)
class _Identity:
    """Who the answer is about, as far as PDS could say."""

    identification: Identification
    nhs_number: str | None
    restricted: bool = False
    asked: str | None = None  # the number before PDS replaced it


async def _while_asked(
    session: AsyncSession, asked: asyncio.Future[Any], nhs_number: str
) -> tuple[uuid.UUID, list[TrustRecord], SourceReport]:
    """The person's row and the plans written here, read while the partners are being asked:
    the database round trips overlap the partners' latency instead of adding to it."""
    try:
        person_id = await repository.person_id_for(session, nhs_number)
        local, local_report = await _local(session, person_id)
    except BaseException:
        asked.cancel()
        raise
    return person_id, local, local_report


async def _local(
    session: AsyncSession, person_id: uuid.UUID
) -> tuple[list[TrustRecord], SourceReport]:
    """Crisis plans written here: a source like the trusts, read while the partners are asked."""
    started = time.monotonic()
    records = await crisis_plans.local_records(session, person_id)
    report = SourceReport(
        name=LOCAL_SOURCE,
        kind=LOCAL_SOURCE,
        status=SourceStatus.found if records else SourceStatus.not_found,
        latency_ms=int((time.monotonic() - started) * 1000),
    )
    return records, report


async def _trace(
    partners: Partners, demographics: Demographics, deadline: float
) -> tuple[_Identity, SourceReport | None]:
    """PDS by demographics: only a unique match names anyone, and only a score of 1 verifies."""
    if partners.pds is None:
        return _Identity(Identification.not_traced, None), None
    outcome = await _ask(
        partners.pds.name, "pds", partners.pds.trace(demographics, deadline=deadline)
    )
    trace = outcome.value
    if trace is None:
        return _Identity(Identification.not_traced, None), outcome.report
    if trace.outcome == PdsTraceOutcome.ambiguous:
        return _Identity(Identification.ambiguous, None), outcome.report
    if trace.outcome == PdsTraceOutcome.none:
        outcome.report.status = SourceStatus.not_found
        return _Identity(Identification.no_match, None), outcome.report
    identification = Identification.verified if trace.score == 1 else Identification.probable
    return _Identity(identification, trace.nhs_number, trace.restricted), outcome.report


async def _fan_out(
    partners: Partners, nhs_number: str, verify: bool, deadline: float
) -> tuple[_Outcome | None, list[_Outcome]]:
    """PDS (unless a trace already named the number) and every holder at once; each call holds
    the deadline itself, so gather returns in time."""
    holders = _holder_calls(partners, nhs_number, deadline)
    if not verify or partners.pds is None:
        return None, list(await asyncio.gather(*holders))
    verification = _ask(
        partners.pds.name, "pds", partners.pds.verify(nhs_number, deadline=deadline)
    )
    pds, *answered = await asyncio.gather(verification, *holders)
    return pds, answered


def _holder_calls(
    partners: Partners, nhs_number: str, deadline: float
) -> list[Awaitable[_Outcome]]:
    """The record holders: the National Record Locator and each trust."""
    calls: list[Awaitable[_Outcome]] = []
    if partners.nrl is not None:
        pointers = partners.nrl.crisis_plan_pointers(nhs_number, deadline=deadline)
        calls.append(_ask(partners.nrl.name, "nrl", pointers))
    for trust in partners.trusts:
        calls.append(
            _ask(trust.name, "fhir_trust", trust.crisis_record(nhs_number, deadline=deadline))
        )
    return calls


def _interpret(outcomes: list[_Outcome]) -> merge.Answers:
    """Sort holders' answers by source; one that failed is counted unanswered, never empty, and
    one that answered "nothing here" is reported `not_found`."""
    nrl: list[NrlResult] = []
    trusts: list[TrustRecord] = []
    nrl_unanswered = trusts_unanswered = 0
    for outcome in outcomes:
        report, value = outcome.report, outcome.value
        if value is None:
            if report.kind == "nrl":
                nrl_unanswered += 1
            else:
                trusts_unanswered += 1
            continue
        if report.kind == "nrl":
            nrl.append(value)
            found = bool(value.pointers)
        else:
            trusts.append(value)
            found = value.known
        if not found:
            report.status = SourceStatus.not_found
    return merge.Answers(
        asked=True,
        nrl=tuple(nrl),
        trusts=tuple(trusts),
        nrl_unanswered=nrl_unanswered,
        trusts_unanswered=trusts_unanswered,
    )


def _verified(outcome: _Outcome, nhs_number: str) -> _Identity:
    """What PDS said of the number: confirmed (perhaps under a new number), unknown to it, or
    nothing at all (it could not be asked), which leaves the number unverified."""
    verification: PdsVerification | None = outcome.value
    if verification is None:
        return _Identity(Identification.unverified, nhs_number)
    if not verification.found:
        outcome.report.status = SourceStatus.not_found
        return _Identity(Identification.not_found, nhs_number)
    return _Identity(
        Identification.verified,
        verification.nhs_number or nhs_number,
        verification.restricted,
        asked=nhs_number if verification.superseded else None,
    )


def _person(identity: _Identity, request: LookupRequest) -> Person:
    number_changed = identity.asked is not None and identity.asked != identity.nhs_number
    return Person(
        identification=identity.identification,
        demographics_restricted=identity.restricted,
        nhs_number=identity.nhs_number,
        nhs_number_asked=identity.asked
        if number_changed
        else (request.nhs_number or identity.nhs_number),
        number_changed=number_changed,
        check=merge.check(identity.identification, number_changed),
    )


def _project(
    partnership: Partnership,
    principal: Principal,
    person: Person,
    answers: merge.Answers,
    reports: list[SourceReport],
    known: Known,
) -> OfficerFlag | PractitionerFlag:
    names = {org.code: org.name for org in partnership.organisations}

    def custodian(code: str) -> Custodian:
        return Custodian(organisation_code=code, name=names.get(code))

    now = utcnow()  # the moment the number to call is chosen for
    plans = merge.plans(answers)
    common: dict[str, Any] = {
        "lookup_id": uuid.uuid4(),
        "looked_up_at": now,
        "person": person,
        "known_to_services": known,
        "crisis_plan": merge.plan_presence(person.identification, answers),
        "safety_alerts": merge.safety_alerts(person.identification, answers),
        "highest_recorded": merge.highest_recorded(answers),
        "unread_alerts": _unread_alerts(answers, custodian),
        "custodians": [custodian(code) for code in merge.custodians(answers)],
        "sources": reports,
    }
    police = [_police_part(plan, custodian(plan.custodian_code), now) for plan in plans]
    if principal.role != Role.mh_practitioner:
        return OfficerFlag(view="officer", **common, plans=[OfficerPlan(**part) for part in police])
    # A practitioner sees the clinical content of their own trust's plans; any trust's by break-glass.
    break_glass = Scope.crisis_plan_break_glass in principal.scopes
    pointers = [pointer for result in answers.nrl for pointer in result.pointers]
    return PractitionerFlag(
        view="practitioner",
        **common,
        plans=[
            PractitionerPlan(
                **part,
                clinical=_clinical(plan, person)
                if break_glass or plan.custodian_code == principal.organisation_code
                else None,
            )
            for plan, part in zip(plans, police, strict=True)
        ],
        documents=[
            DocumentPointer(
                custodian_code=pointer.custodian_code,
                title=pointer.title,
                url=pointer.url,
                content_type=pointer.content_type,
                contact_details=pointer.contact_details,
            )
            for pointer in pointers
            if break_glass or pointer.custodian_code == principal.organisation_code
        ],
    )


def _police_part(plan: TrustCrisisPlan, custodian: Custodian, now: datetime) -> dict[str, Any]:
    contact = plan.crisis_contact
    return {
        "custodian": custodian,
        "last_reviewed": plan.last_updated,
        "review_due": plan.review_date,
        "stale": merge.is_stale(plan, now.astimezone(LONDON).date()),
        "approach_advice": plan.approach_advice,
        "crisis_contact": None
        if contact is None
        else AnswerContact(
            **contact.model_dump(),
            call_now=merge.call_now(
                contact,
                now,
                merge.open_now(contact.schedule, now),
            ),
        ),
    }


def _clinical(plan: TrustCrisisPlan, person: Person) -> ClinicalPlan:
    """A restricted person's whereabouts reach no one: the plan's access notes (a key safe,
    which door) would say where they live. Unless PDS confirmed the person and said they are not
    restricted, they may be, so the notes are withheld then too."""
    if person.demographics_restricted or person.identification != Identification.verified:
        return plan.clinical.model_copy(update={"access_notes": None})
    return plan.clinical


def _unread_alerts(
    answers: merge.Answers, custodian: Callable[[str], Custodian]
) -> list[UnreadAlert]:
    seen: set[tuple[str, AlertCategory | None]] = set()
    unread: list[UnreadAlert] = []
    for record in answers.trusts:
        for alert in record.unmapped_alerts:
            key = (record.organisation_code, alert.category)
            if key in seen:
                continue
            seen.add(key)
            holder = custodian(record.organisation_code)
            unread.append(
                UnreadAlert(
                    custodian=holder,
                    category=alert.category,
                    message=(
                        f"Alert recorded that this service cannot read: contact "
                        f"{holder.name or holder.organisation_code}."
                    ),
                )
            )
    return unread


def _data_classes(answer: OfficerFlag | PractitionerFlag) -> list[str]:
    classes = ["crisis_flag"]
    if answer.crisis_plan == PlanPresence.present:
        classes.append("crisis_plan_exists")
    recorded = {AlertLevel.low, AlertLevel.medium, AlertLevel.high}
    if recorded & set(answer.safety_alerts.model_dump().values()) or answer.unread_alerts:
        classes.append("safety_alerts")
    if any(plan.crisis_contact is not None for plan in answer.plans):
        classes.append("crisis_contact")
    if any(plan.approach_advice is not None for plan in answer.plans):
        classes.append("approach_advice")
    if isinstance(answer, PractitionerFlag) and (
        any(plan.clinical is not None for plan in answer.plans) or answer.documents
    ):
        classes.append("crisis_plan_clinical")
    return classes
