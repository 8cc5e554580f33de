"""The crisis flag lookup at the scene: every source at once, within one deadline, told to each
role only what it may know, audited and notified in the same transaction as it is disclosed."""

import asyncio
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import principal_event
from api.crisis_plan import service as crisis_plans
from api.errors import ServiceError
from api.incident import repository as incident_repository
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
from models.lookup import (
    Custodian,
    DocumentPointer,
    Identification,
    Known,
    LookupRequest,
    OfficerFlag,
    Person,
    PlanPresence,
    PractitionerFlag,
    SourceReport,
    SourceStatus,
)
from models.partner import NrlResult, PdsTraceOutcome, PdsVerification, TrustRecord
from models.person import Person as PersonRow

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
    different people this incident has looked up (the person already looked up does not count)."""
    quotas = partnership.agreement.lookup_quotas
    await repository.take_turns(session, principal.user_id, incident_id)
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
    # Read, not locked: lookups on one incident must not queue behind each other.
    started = time.monotonic()
    incident = await incidents.read_incident(session, principal, incident_id)
    if incident.status != IncidentStatus.open:
        raise incidents.IncidentClosed("The incident is closed; no more lookups.")
    await check_quotas(session, partnership, principal, incident_id, request.nhs_number)
    # The partners get the deadline less a reserve for recording the answer, so the officer's
    # answer, not just the partners', arrives within it.
    deadline = started + deadline_seconds - min(WRITE_RESERVE_SECONDS, deadline_seconds / 5)
    reports: list[SourceReport] = []
    person = Person(
        identification=Identification.unverified,
        demographics_restricted=False,
        nhs_number=request.nhs_number,
    )

    if request.demographics is not None:
        person, nhs_number, report = await _trace(partners, request, deadline)
        if report is not None:
            reports.append(report)
        if nhs_number is not None:
            await check_quotas(session, partnership, principal, incident_id, nhs_number)
    else:
        nhs_number = request.nhs_number

    answers = merge.Answers(nrl=None, trusts=[], unanswered=0)
    if nhs_number is not None:
        fan_out = asyncio.ensure_future(_fan_out(partners, nhs_number, request, deadline))
        person_row, local, local_report = await _while_asked(session, fan_out, nhs_number)
        person, answers, fanned = await fan_out
        if person.nhs_number is not None and person.nhs_number != nhs_number:
            # Superseded: record holders file what they know under the current number, so a
            # "not found" under the old one proves nothing. They are asked again, in the time left.
            nhs_number = person.nhs_number
            await check_quotas(session, partnership, principal, incident_id, nhs_number)
            again = asyncio.ensure_future(
                asyncio.gather(*_holder_calls(partners, nhs_number, deadline))
            )
            person_row, local, local_report = await _while_asked(session, again, nhs_number)
            holders = list(await again)
            _, answers = _interpret(holders, nhs_number)
            fanned = [report for report in fanned if report.kind == "pds"]
            fanned += [outcome.report for outcome in holders]
        answers = merge.Answers(
            nrl=answers.nrl, trusts=[*answers.trusts, *local], unanswered=answers.unanswered
        )
        reports += [*fanned, local_report]
        person_id: uuid.UUID | None = person_row.id
    else:
        person_id = None

    known = _known(person, nhs_number, answers)
    answer = _project(partnership, principal, person, answers, reports, known)

    lookup_row = FlagLookup(
        id=answer.lookup_id,
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
            "sources": {report.name: report.status.value for report in reports},
        },
        person_id=person_id,
        data_classes=disclosed,
        source_systems=[report.name for report in reports],
    )
    notifications: list[AccessNotification] = []
    if person_id is not None:
        notifications = [
            AccessNotification(
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
            for code in sorted(_custodians(answers))
        ]
    await repository.save(session, lookup_row, notifications, event)
    return answer


async def _while_asked(
    session: AsyncSession, asked: asyncio.Future[Any], nhs_number: str
) -> tuple[PersonRow, list[TrustRecord], SourceReport]:
    """The person's row and the plans written here, read while the partners are being asked:
    the database round trips overlap the partners' latency instead of adding to it."""
    try:
        person_row = await incident_repository.person_for(session, nhs_number)
        local, local_report = await _local(session, person_row.id)
    except BaseException:
        asked.cancel()
        raise
    return person_row, local, local_report


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


def _unidentified(identification: Identification) -> Person:
    return Person(identification=identification, demographics_restricted=False, nhs_number=None)


async def _trace(
    partners: Partners, request: LookupRequest, deadline: float
) -> tuple[Person, str | None, SourceReport | None]:
    """PDS by demographics: only a unique match names anyone."""
    assert request.demographics is not None
    if partners.pds is None:
        return _unidentified(Identification.unverified), None, None
    outcome = await _ask(
        partners.pds.name, "pds", partners.pds.trace(request.demographics, deadline=deadline)
    )
    trace = outcome.value
    if trace is None:
        return _unidentified(Identification.unverified), None, outcome.report
    if trace.outcome == PdsTraceOutcome.ambiguous:
        return _unidentified(Identification.ambiguous), None, outcome.report
    if trace.outcome == PdsTraceOutcome.none:
        outcome.report.status = SourceStatus.not_found
        return _unidentified(Identification.not_found), None, outcome.report
    person = Person(
        identification=Identification.verified,
        demographics_restricted=trace.restricted,
        nhs_number=trace.nhs_number,
    )
    return person, trace.nhs_number, outcome.report


async def _fan_out(
    partners: Partners, nhs_number: str, request: LookupRequest, deadline: float
) -> tuple[Person, merge.Answers, list[SourceReport]]:
    """Every source at once; each call holds the deadline itself, so gather returns in time."""
    calls: list[Awaitable[_Outcome]] = []
    if request.demographics is None and partners.pds is not None:
        calls.append(
            _ask(partners.pds.name, "pds", partners.pds.verify(nhs_number, deadline=deadline))
        )
    calls += _holder_calls(partners, nhs_number, deadline)
    outcomes = list(await asyncio.gather(*calls))
    person, answers = _interpret(outcomes, nhs_number)
    if request.demographics is not None:
        # Already traced: PDS named this number a moment ago.
        person = Person(
            identification=Identification.verified,
            demographics_restricted=False,
            nhs_number=nhs_number,
        )
    return person, answers, [outcome.report for outcome in outcomes]


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


def _interpret(outcomes: list[_Outcome], nhs_number: str) -> tuple[Person, merge.Answers]:
    """Sort answers by source; a source that answered "nothing here" is reported `not_found`."""
    person = Person(
        identification=Identification.unverified,
        demographics_restricted=False,
        nhs_number=nhs_number,
    )
    nrl: NrlResult | None = None
    trusts: list[TrustRecord] = []
    unanswered = 0
    for outcome in outcomes:
        report, value = outcome.report, outcome.value
        if value is None:
            unanswered += report.kind != "pds"
            continue
        if report.kind == "pds":
            person = _verified_person(value, nhs_number)
            found = value.found
        elif report.kind == "nrl":
            nrl, found = value, bool(value.pointers)
        else:
            trusts.append(value)
            found = value.known
        if not found:
            report.status = SourceStatus.not_found
    return person, merge.Answers(nrl=nrl, trusts=trusts, unanswered=unanswered)


def _verified_person(verification: PdsVerification, nhs_number: str) -> Person:
    if not verification.found:
        return Person(
            identification=Identification.not_found,
            demographics_restricted=False,
            nhs_number=nhs_number,
        )
    return Person(
        identification=Identification.verified,
        demographics_restricted=verification.restricted,
        nhs_number=verification.nhs_number,
    )


def _known(person: Person, nhs_number: str | None, answers: merge.Answers) -> Known:
    """PDS has no such person: no one knows them. Not identified (ambiguous, or PDS could not be
    asked for a trace): no one could be asked, so unknown. Otherwise, what the sources said."""
    if person.identification == Identification.not_found:
        return Known.no
    if nhs_number is None:
        return Known.unknown
    return merge.known_to_services(answers)


def _custodians(answers: merge.Answers) -> set[str]:
    codes = {record.organisation_code for record in answers.trusts if record.known}
    if answers.nrl is not None:
        codes |= {pointer.custodian_code for pointer in answers.nrl.pointers}
    return codes


def _project(
    partnership: Partnership,
    principal: Principal,
    person: Person,
    answers: merge.Answers,
    reports: list[SourceReport],
    known: Known,
) -> OfficerFlag | PractitionerFlag:
    identified = person.nhs_number is not None and person.identification in (
        Identification.verified,
        Identification.unverified,
    )
    plan = merge.current_plan(answers) if identified else None
    names = {org.code: org.name for org in partnership.organisations}
    common: dict[str, Any] = {
        "lookup_id": uuid.uuid4(),
        "person": person,
        "known_to_services": known,
        "crisis_plan": merge.plan_presence(answers) if identified else PlanPresence.unknown,
        "safety_alerts": merge.merged_alerts(answers),
        "sources": reports,
    }
    if plan is not None:
        common |= {
            "approach_advice": plan.approach_advice,
            "crisis_contact": plan.crisis_contact,
            "custodian": Custodian(
                organisation_code=plan.custodian_code, name=names.get(plan.custodian_code)
            ),
            "last_reviewed": plan.last_updated,
            "review_due": plan.review_date,
            "stale": merge.is_stale(plan, datetime.now(UTC).date()),
        }
    elif answers.nrl is not None and answers.nrl.pointers:
        code = answers.nrl.pointers[0].custodian_code
        common["custodian"] = Custodian(organisation_code=code, name=names.get(code))
    if principal.role != Role.mh_practitioner:
        return OfficerFlag(**common)
    # A practitioner sees the clinical content of their own trust's plans; any trust's by break-glass.
    break_glass = Scope.crisis_plan_break_glass in principal.scopes
    own = plan is not None and (break_glass or plan.custodian_code == principal.organisation_code)
    pointers = answers.nrl.pointers if answers.nrl is not None else []
    return PractitionerFlag(
        **common,
        clinical=plan.clinical if own and plan is not None else None,
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


def _data_classes(answer: OfficerFlag | PractitionerFlag) -> list[str]:
    classes = ["crisis_flag"]
    if answer.crisis_plan.value == "present":
        classes.append("crisis_plan_exists")
    if any(
        level.value not in ("none", "unknown")
        for level in answer.safety_alerts.model_dump().values()
    ):
        classes.append("safety_alerts")
    if answer.crisis_contact is not None:
        classes.append("crisis_contact")
    if answer.approach_advice is not None:
        classes.append("approach_advice")
    if isinstance(answer, PractitionerFlag) and (answer.clinical is not None or answer.documents):
        classes.append("crisis_plan_clinical")
    return classes
