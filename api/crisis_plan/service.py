"""Crisis plans written by a trust's practitioners: create, read, replace, withdraw, history, and
who has looked at the person's data.

Only the custodian works on its plans here: every query names the caller's organisation, and a plan
of another organisation is not found. Every change is a new revision under a row lock, checked
against the revision the writer read, and leaves a full version with the paths it changed.

A trust writes a plan only for a person it cares for: its record endpoint in the partnership, if it
has one, must know the person; otherwise the practitioner states why, from the agreement's list, and
the statement waits for the trust's information governance review. Organisations already holding
an active plan for the person are notified that another wrote one.
"""

import asyncio
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import people, principal_event, record, record_refusal
from api.crisis_plan import repository
from api.errors import ServiceError
from api.incident.repository import person_for
from api.pagination import decode_cursor, page_of
from api.partners import Partners
from auth.principal import Principal
from clients.errors import PartnerError
from models import (
    AccessKind,
    AccessNotification,
    AuditAction,
    AuditOutcome,
    CrisisPlan,
    CrisisPlanAccess,
    CrisisPlanBase,
    CrisisPlanContent,
    CrisisPlanCreate,
    CrisisPlanPage,
    CrisisPlanRead,
    CrisisPlanSearch,
    CrisisPlanSnapshot,
    CrisisPlanStatus,
    CrisisPlanStatusFilter,
    CrisisPlanSummary,
    CrisisPlanVersion,
    CrisisPlanVersionKind,
    CrisisPlanVersionRead,
    CrisisPlanWithdraw,
    CrisisPlanWrite,
    DataClass,
    NotificationActor,
    OrganisationKind,
    Partnership,
    PlanAuthor,
    PlanUser,
    Role,
    utcnow,
)
from models.contact_hours import ContactHours, describe
from models.crisis_plan import (
    CrisisPlanContentRead,
    CrisisPlanRelationship,
    PlanCrisisContactRead,
    RelationshipBasis,
    RelationshipReviewPage,
    RelationshipReviewRead,
    RelationshipReviewStatus,
    RelationshipReviewStatusFilter,
    RelationshipReviewWrite,
)
from models.partner import AlertCategory, CrisisContact, SafetyAlert, TrustCrisisPlan, TrustRecord

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
# CP-IS: both sides see the last 25 accesses.
ACCESS_HISTORY_SIZE = 25
CRISIS_PLAN = [DataClass.crisis_plan_clinical.value]
# A relationship review says who wrote a plan for whom: the audit trail, as IG sees it.
AUDIT_TRAIL = [DataClass.audit_trail.value]

# The writer's trust's record endpoint is asked this long whether it knows the person: the writer
# is at a desk, not at a scene, and an endpoint that cannot answer in time is asked again later.
RELATIONSHIP_CHECK_SECONDS = 3.0
RELATIONSHIP_RETRY_SECONDS = 30

# Raises 428/412 unless the request's If-Match names the given revision.
VersionCheck = Callable[[int], None]


class CrisisPlanNotFound(ServiceError):
    status = 404
    type_slug = "crisis-plan-not-found"
    title = "Crisis plan not found"


class CrisisPlanExists(ServiceError):
    status = 409
    type_slug = "crisis-plan-exists"
    title = "Active crisis plan exists"


class CrisisPlanWithdrawn(ServiceError):
    status = 409
    type_slug = "crisis-plan-withdrawn"
    title = "Crisis plan withdrawn"


class NoCareRelationship(ServiceError):
    status = 403
    type_slug = "no-care-relationship"
    title = "No care relationship"


class RelationshipRequired(ServiceError):
    status = 422
    type_slug = "relationship-required"
    title = "Relationship required"


class RelationshipUnchecked(ServiceError):
    status = 503
    type_slug = "relationship-unchecked"
    title = "Could not check the relationship"


class RelationshipReviewNotFound(ServiceError):
    status = 404
    type_slug = "relationship-review-not-found"
    title = "Relationship review not found"


class RelationshipReviewCompleted(ServiceError):
    status = 409
    type_slug = "relationship-review-completed"
    title = "Relationship review completed"


class OwnRelationshipReview(ServiceError):
    status = 403
    type_slug = "own-relationship-review"
    title = "Own relationship review"


class NotACrisisPlanner(ServiceError):
    status = 403
    type_slug = "not-a-crisis-planner"
    title = "Not a crisis planner"


def require_planner(partnership: Partnership, principal: Principal) -> None:
    """Crisis plans are written by practitioners of NHS trusts the agreement lets see them.

    The crisis-planning purpose already admits only practitioners; this holds even if an agreement
    one day gives that purpose to another kind of organisation.
    """
    organisation = next(
        (o for o in partnership.organisations if o.code == principal.organisation_code), None
    )
    allowed = (
        organisation is not None
        and organisation.kind == OrganisationKind.nhs_trust
        and principal.role == Role.mh_practitioner
        and any(
            rule.organisation_kind == organisation.kind
            and rule.role == principal.role
            and DataClass.crisis_plan_clinical in rule.data_classes
            for rule in partnership.agreement.access
        )
    )
    if not allowed:
        raise NotACrisisPlanner(
            "Crisis plans are written by mental health practitioners of an NHS trust."
        )


class RelationshipCheck(StrEnum):
    """What the writing trust's record endpoint said of the person."""

    known = "known"
    not_known = "not_known"
    unavailable = "unavailable"


@dataclass(frozen=True)
class Relationship:
    basis: RelationshipBasis
    reason: str | None


def relationship_rule(
    endpoint: RelationshipCheck | None, stated: str | None, reasons: Collection[str]
) -> Relationship | str:
    """How the writer's relationship with the person stands, or why there is none (a refusal
    reason). `endpoint` is None when the writer's trust has no record endpoint here.

    The endpoint, where there is one, decides: a stated reason never overrides it, and an endpoint
    that cannot be asked refuses the write rather than trusting a statement it could have checked.
    """
    if endpoint == RelationshipCheck.known:
        return Relationship(RelationshipBasis.trust_record, stated)
    if endpoint == RelationshipCheck.not_known:
        return "not_known_to_trust_record"
    if endpoint == RelationshipCheck.unavailable:
        return "trust_record_unavailable"
    if stated is None:
        return "relationship_not_stated"
    if stated not in reasons:
        return "relationship_not_in_agreement"
    return Relationship(RelationshipBasis.stated, stated)


async def _check_endpoint(
    partners: Partners, organisation_code: str, nhs_number: str
) -> RelationshipCheck | None:
    """Ask the writer's trust's patient index whether it holds the person, within a short
    deadline; None if the trust has no endpoint in the partnership."""
    trust = next((t for t in partners.trusts if t.organisation_code == organisation_code), None)
    if trust is None:
        return None
    try:
        async with asyncio.timeout(RELATIONSHIP_CHECK_SECONDS):
            known = await trust.knows_patient(
                nhs_number, deadline=time.monotonic() + RELATIONSHIP_CHECK_SECONDS
            )
    except (PartnerError, TimeoutError):
        return RelationshipCheck.unavailable
    return RelationshipCheck.known if known else RelationshipCheck.not_known


def _refusal(reason: str) -> ServiceError:
    if reason == "not_known_to_trust_record":
        return NoCareRelationship(
            "Your trust's records do not show this person in its care: a crisis plan is written"
            " only by an organisation that cares for the person."
        )
    if reason == "trust_record_unavailable":
        return RelationshipUnchecked(
            "Your trust's records could not be asked whether this person is in its care;"
            " nothing was written. Try again shortly.",
            headers={"Retry-After": str(RELATIONSHIP_RETRY_SECONDS)},
        )
    if reason == "relationship_not_stated":
        return RelationshipRequired(
            "State your relationship with the person in `relationship`, one of the agreement's"
            " crisis plan relationships."
        )
    return RelationshipRequired(
        "`relationship` is not one of the agreement's crisis plan relationships."
    )


async def require_relationship(
    session: AsyncSession,
    partnership: Partnership,
    partners: Partners,
    principal: Principal,
    payload: CrisisPlanCreate,
) -> Relationship:
    """The writer's relationship with the person, or a refusal, audited on its own (the request's
    transaction rolls back) so that an attempt to write for someone else's patient is on record."""
    endpoint = await _check_endpoint(partners, principal.organisation_code, payload.nhs_number)
    reasons = {reason.code for reason in partnership.agreement.crisis_plan_relationships}
    decided = relationship_rule(endpoint, payload.relationship, reasons)
    if isinstance(decided, Relationship):
        return decided
    person = await repository.find_person(session, payload.nhs_number)
    record_refusal(
        session,
        principal_event(
            AuditAction.crisis_plan_create,
            principal,
            None,
            {"relationship": payload.relationship},
            outcome=AuditOutcome.denied,
            reason=decided,
            person_id=person.id if person is not None else None,
        ),
    )
    raise _refusal(decided)


async def create_plan(
    session: AsyncSession,
    partnership: Partnership,
    partners: Partners,
    principal: Principal,
    payload: CrisisPlanCreate,
) -> CrisisPlanRead:
    relationship = await require_relationship(session, partnership, partners, principal, payload)
    person = await person_for(session, payload.nhs_number)
    document = _document(payload)
    now = utcnow()
    plan = CrisisPlan(
        person_id=person.id,
        organisation_code=principal.organisation_code,
        content=_content(payload),
        review_date=payload.review_date,
        agreed_with_person=payload.agreed_with_person,
        created_by=principal.user_id,
        created_by_name=principal.display_name,
        updated_by=principal.user_id,
        updated_by_name=principal.display_name,
        created_at=now,
        updated_at=now,
    )
    if not await repository.insert_if_none_active(session, plan):
        raise CrisisPlanExists(
            "This person has an active crisis plan here; change it with PUT and If-Match,"
            " or withdraw it first."
        )
    stated = relationship.basis == RelationshipBasis.stated
    holders = await repository.other_holders(session, person.id)
    await repository.add(
        session,
        CrisisPlanRelationship(
            plan_id=plan.id,
            person_id=person.id,
            organisation_code=principal.organisation_code,
            basis=relationship.basis,
            reason=relationship.reason,
            stated_by=principal.user_id,
            stated_by_name=principal.display_name,
            created_at=now,
            review_status=RelationshipReviewStatus.pending if stated else None,
        ),
        _version(
            plan, principal, CrisisPlanVersionKind.created, document, changed=[], changed_at=now
        ),
        *(_plan_written(code, plan, principal) for code in holders),
    )
    await _audit(
        session,
        AuditAction.crisis_plan_create,
        principal,
        plan,
        {
            "relationship": {"basis": relationship.basis.value, "reason": relationship.reason},
            "notified": holders,
        },
    )
    return _read(plan, payload.nhs_number)


def _plan_written(
    organisation_code: str, plan: CrisisPlan, principal: Principal
) -> AccessNotification:
    """Tells an organisation holding a plan for the person that another has written one: two plans
    are both shown at the scene, and the holder should know whose advice sits beside its own."""
    return AccessNotification(
        organisation_code=organisation_code,
        person_id=plan.person_id,
        actor_user_id=principal.user_id,
        actor_name=principal.display_name,
        actor_role=principal.role.value,
        actor_organisation_code=principal.organisation_code,
        purpose=principal.purpose,
        access_kind=AccessKind.plan_written.value,
        created_at=plan.created_at,
    )


async def read_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> CrisisPlanRead:
    plan, nhs_number = await _own_plan(session, principal, plan_id)
    await _audit(session, AuditAction.crisis_plan_read, principal, plan)
    return _read(plan, nhs_number)


async def search_plans(
    session: AsyncSession, principal: Principal, payload: CrisisPlanSearch
) -> list[CrisisPlanRead]:
    person = await repository.find_person(session, payload.nhs_number)
    plans = (
        await repository.plans_for_person(
            session,
            person.id,
            principal.organisation_code,
            include_withdrawn=payload.include_withdrawn,
        )
        if person is not None
        else []
    )
    # A search that finds nothing is recorded too: it says whom the caller asked about.
    await record(
        session,
        principal_event(
            AuditAction.crisis_plan_read,
            principal,
            None,
            {"search": True, "plan_ids": [str(plan.id) for plan in plans]},
            person_id=person.id if person is not None else None,
            data_classes=CRISIS_PLAN if plans else (),
        ),
    )
    return [_read(plan, payload.nhs_number) for plan in plans]


async def list_plans(
    session: AsyncSession,
    principal: Principal,
    *,
    status: CrisisPlanStatusFilter,
    cursor: str | None,
    limit: int,
) -> CrisisPlanPage:
    rows = await repository.list_plans(
        session,
        organisation_code=principal.organisation_code,
        status=None if status == CrisisPlanStatusFilter.all else CrisisPlanStatus(status.value),
        after=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    page, next_cursor = page_of(rows, limit, lambda row: (row[0].created_at, row[0].id))
    person_id, about = people([plan.person_id for plan, _ in page])
    await record(
        session,
        principal_event(
            AuditAction.crisis_plan_read,
            principal,
            None,
            {"listing": status.value, "plan_ids": [str(plan.id) for plan, _ in page]} | about,
            person_id=person_id,
            data_classes=CRISIS_PLAN if page else (),
        ),
    )
    return CrisisPlanPage(
        items=[_summary(plan, nhs_number) for plan, nhs_number in page], next_cursor=next_cursor
    )


async def replace_plan(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    payload: CrisisPlanWrite,
    check_version: VersionCheck,
) -> CrisisPlanRead:
    """Replace the whole plan; the row lock makes concurrent writers of one revision take turns,
    and every one after the first finds the revision moved on (412)."""
    plan, nhs_number = await _own_plan(session, principal, plan_id, for_update=True)
    check_version(plan.revision)
    _require_active(plan)
    previous = await repository.version(session, plan.id, plan.revision)
    document = _document(payload)
    plan.content = _content(payload)
    plan.review_date = payload.review_date
    plan.agreed_with_person = payload.agreed_with_person
    version = _next_version(
        plan, principal, CrisisPlanVersionKind.updated, previous.content, document
    )
    await repository.add(session, plan, version)
    await _audit(
        session,
        AuditAction.crisis_plan_update,
        principal,
        plan,
        {"changed_paths": version.changed_paths},
    )
    return _read(plan, nhs_number)


async def withdraw_plan(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    payload: CrisisPlanWithdraw,
    check_version: VersionCheck,
) -> CrisisPlanRead:
    """The plan stops applying; it stays readable, with its history, for the record."""
    plan, nhs_number = await _own_plan(session, principal, plan_id, for_update=True)
    check_version(plan.revision)
    _require_active(plan)
    previous = await repository.version(session, plan.id, plan.revision)
    plan.status = CrisisPlanStatus.withdrawn
    plan.withdrawn_reason = payload.reason
    version = _next_version(
        plan,
        principal,
        CrisisPlanVersionKind.withdrawn,
        previous.content,
        previous.content | {"status": CrisisPlanStatus.withdrawn.value},
        reason=payload.reason,
    )
    plan.withdrawn_at = plan.updated_at
    await repository.add(session, plan, version)
    await _audit(session, AuditAction.crisis_plan_withdraw, principal, plan)
    return _read(plan, nhs_number)


async def read_versions(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> list[CrisisPlanVersionRead]:
    plan, _ = await _own_plan(session, principal, plan_id)
    history = await repository.versions(session, plan.id)
    await _audit(session, AuditAction.crisis_plan_history, principal, plan)
    return [
        CrisisPlanVersionRead(
            revision=version.revision,
            kind=version.kind,
            changed_paths=version.changed_paths,
            content=CrisisPlanSnapshot.model_validate(version.content),
            reason=version.reason,
            author=PlanAuthor(
                user_id=version.author_user_id,
                name=version.author_name,
                role=version.author_role,
                organisation_code=version.author_organisation_code,
            ),
            changed_at=version.changed_at,
        )
        for version in history
    ]


async def read_access_history(
    session: AsyncSession, partnership: Partnership, principal: Principal, plan_id: uuid.UUID
) -> list[CrisisPlanAccess]:
    """The last accesses to the person's data the plan's organisation was notified of."""
    plan, _ = await _own_plan(session, principal, plan_id)
    rows = await repository.accesses(
        session, plan.person_id, plan.organisation_code, ACCESS_HISTORY_SIZE
    )
    await _audit(
        session,
        AuditAction.crisis_plan_access_history,
        principal,
        plan,
        {"notification_ids": [str(row.id) for row in rows]},
        data_classes=[DataClass.audit_trail.value],
    )
    names = {org.code: org.name for org in partnership.organisations}
    return [
        CrisisPlanAccess(
            accessed_at=row.created_at,
            actor=NotificationActor(
                name=row.actor_name,
                role=Role(row.actor_role),
                organisation_code=row.actor_organisation_code,
                organisation_name=names.get(row.actor_organisation_code),
            ),
            cad_reference=row.cad_reference,
            purpose=row.purpose,
            break_glass=row.break_glass,
        )
        for row in rows
        # Only lookups are listed, and a lookup's notification always has its CAD reference.
        if row.cad_reference is not None
    ]


async def list_relationship_reviews(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    *,
    status: RelationshipReviewStatusFilter,
    cursor: str | None,
    limit: int,
) -> RelationshipReviewPage:
    """Relationships the caller's organisation's practitioners stated to write plans, in one
    review status, for its information governance officer."""
    rows = await repository.list_relationship_reviews(
        session,
        organisation_code=principal.organisation_code,
        status=RelationshipReviewStatus(status.value),
        after=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    page, next_cursor = page_of(rows, limit, lambda row: (row[0].created_at, row[0].id))
    person_id, about = people([row.person_id for row, _ in page])
    await record(
        session,
        principal_event(
            AuditAction.crisis_plan_relationship_review_list,
            principal,
            None,
            {"status": status.value, "review_ids": [str(row.id) for row, _ in page]} | about,
            person_id=person_id,
            data_classes=AUDIT_TRAIL if page else (),
        ),
    )
    titles = _reason_titles(partnership)
    return RelationshipReviewPage(
        items=[_relationship_review(row, nhs, titles) for row, nhs in page],
        next_cursor=next_cursor,
    )


async def complete_relationship_review(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    review_id: uuid.UUID,
    payload: RelationshipReviewWrite,
) -> RelationshipReviewRead:
    """Record the conclusion, once, by someone other than the practitioner who stated it.
    Another organisation's, or no such id: 404 alike."""
    found = await repository.find_relationship_review(
        session, review_id, principal.organisation_code
    )
    if found is None:
        raise RelationshipReviewNotFound()
    row, nhs_number = found
    if row.stated_by == principal.user_id:
        raise OwnRelationshipReview(
            "A relationship is reviewed by someone other than the practitioner who stated it."
        )
    if row.review_status == RelationshipReviewStatus.reviewed:
        raise RelationshipReviewCompleted("This review is complete; a review is completed once.")
    row.review_status = RelationshipReviewStatus.reviewed
    row.reviewed_at = utcnow()
    row.reviewed_by = principal.user_id
    row.reviewer_name = principal.display_name
    row.conclusion = payload.conclusion
    row.finding = payload.finding
    await repository.add(session, row)
    await record(
        session,
        principal_event(
            AuditAction.crisis_plan_relationship_review,
            principal,
            None,
            {
                "review_id": str(row.id),
                "plan_id": str(row.plan_id),
                "practitioner_user_id": str(row.stated_by),
                "conclusion": payload.conclusion.value,
            },
            person_id=row.person_id,
            data_classes=AUDIT_TRAIL,
        ),
    )
    return _relationship_review(row, nhs_number, _reason_titles(partnership))


def _reason_titles(partnership: Partnership) -> dict[str, str]:
    return {reason.code: reason.title for reason in partnership.agreement.crisis_plan_relationships}


def _relationship_review(
    row: CrisisPlanRelationship, nhs_number: str, titles: Mapping[str, str]
) -> RelationshipReviewRead:
    # Only stated relationships are reviewed, and a stated one always has its reason and status.
    assert row.reason is not None
    assert row.review_status is not None
    reviewer = None
    if row.reviewed_by is not None and row.reviewer_name is not None:
        reviewer = PlanUser(user_id=row.reviewed_by, name=row.reviewer_name)
    return RelationshipReviewRead(
        id=row.id,
        status=row.review_status,
        created_at=row.created_at,
        plan_id=row.plan_id,
        nhs_number=nhs_number,
        organisation_code=row.organisation_code,
        reason=row.reason,
        reason_title=titles.get(row.reason),
        practitioner=PlanUser(user_id=row.stated_by, name=row.stated_by_name),
        reviewed_at=row.reviewed_at,
        reviewer=reviewer,
        conclusion=row.conclusion,
        finding=row.finding,
    )


async def _own_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, *, for_update: bool = False
) -> tuple[CrisisPlan, str]:
    """The caller's organisation's plan; any other organisation's is simply not found."""
    found = await repository.find_plan(
        session, plan_id, principal.organisation_code, for_update=for_update
    )
    if found is None:
        raise CrisisPlanNotFound()
    return found


def _require_active(plan: CrisisPlan) -> None:
    if plan.status == CrisisPlanStatus.withdrawn:
        raise CrisisPlanWithdrawn(
            "This crisis plan was withdrawn and is kept for the record; write a new one instead."
        )


async def local_records(session: AsyncSession, person_id: uuid.UUID) -> list[TrustRecord]:
    """Active plans written here, in the shape a trust's FHIR endpoint answers in, so the lookup
    merges them with the partners' by the same rules. A withdrawn plan is not among them."""
    return [_as_trust_record(plan) for plan in await repository.active_plans_of(session, person_id)]


def _as_trust_record(plan: CrisisPlan | repository.LocalPlan) -> TrustRecord:
    content = CrisisPlanContentRead.model_validate(plan.content)
    alerts = content.police.safety_alerts
    return TrustRecord(
        organisation_code=plan.organisation_code,
        known=True,
        alerts=[
            SafetyAlert(category=category, level=getattr(alerts, category.value))
            for category in AlertCategory
        ],
        plan=TrustCrisisPlan(
            custodian_code=plan.organisation_code,
            approach_advice=content.police.approach_advice,
            crisis_contact=_domain_contact(content.police.crisis_contact),
            review_date=plan.review_date,
            last_updated=plan.updated_at,
            clinical=content.clinical,
        ),
    )


def _domain_contact(contact: PlanCrisisContactRead) -> CrisisContact:
    """The contact as a trust's endpoint gives one: words for reading, and the schedule and
    out-of-hours number the lookup picks the number to call now from."""
    schedule: ContactHours | None
    if isinstance(contact.hours, ContactHours):
        schedule, hours = contact.hours, describe(contact.hours)
    else:
        schedule, hours = None, contact.hours.as_written
    out_of_hours = contact.out_of_hours
    # A plan written before the number was required may already give it in its words.
    out_of_hours_words = (
        f"{out_of_hours.description}: {out_of_hours.phone}"
        if out_of_hours.phone is not None and out_of_hours.phone not in out_of_hours.description
        else out_of_hours.description
    )
    return CrisisContact(
        team=contact.team,
        phone=contact.phone,
        hours=hours,
        out_of_hours=out_of_hours_words,
        schedule=schedule,
        out_of_hours_phone=out_of_hours.phone,
    )


def _content(payload: CrisisPlanContent) -> dict[str, Any]:
    """What the plan's content column holds: the two sections, nothing else of the body."""
    return payload.model_dump(mode="json", include={"police", "clinical"})


def _document(payload: CrisisPlanBase) -> dict[str, Any]:
    """The snapshot a version keeps: the plan as written, and its status."""
    written = payload.model_dump(
        mode="json", include={"police", "clinical", "review_date", "agreed_with_person"}
    )
    return written | {"status": CrisisPlanStatus.active.value}


def _version(
    plan: CrisisPlan,
    principal: Principal,
    kind: CrisisPlanVersionKind,
    document: dict[str, Any],
    *,
    changed: list[str],
    changed_at: datetime,
    reason: str | None = None,
) -> CrisisPlanVersion:
    return CrisisPlanVersion(
        plan_id=plan.id,
        revision=plan.revision,
        kind=kind,
        content=document,
        changed_paths=changed,
        reason=reason,
        author_user_id=principal.user_id,
        author_name=principal.display_name,
        author_role=principal.role.value,
        author_organisation_code=principal.organisation_code,
        changed_at=changed_at,
    )


def _next_version(
    plan: CrisisPlan,
    principal: Principal,
    kind: CrisisPlanVersionKind,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    reason: str | None = None,
) -> CrisisPlanVersion:
    """Move the plan to its next revision, and the version that records the change."""
    plan.revision += 1
    now = utcnow()
    version = _version(
        plan,
        principal,
        kind,
        after,
        changed=_changed_paths(before, after),
        changed_at=now,
        reason=reason,
    )
    plan.updated_at = now
    plan.updated_by = principal.user_id
    plan.updated_by_name = principal.display_name
    return version


def _changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves that differ; list items by index (`clinical.actions.0.when`)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        keys: list[Any] = sorted(set(before) | set(after))
        pairs = [(key, before.get(key), after.get(key)) for key in keys]
    elif isinstance(before, list) and isinstance(after, list):
        pairs = [
            (index, _at(before, index), _at(after, index))
            for index in range(max(len(before), len(after)))
        ]
    else:
        return [prefix] if before != after and prefix else []
    paths: list[str] = []
    for key, old, new in pairs:
        paths += _changed_paths(old, new, f"{prefix}.{key}" if prefix else str(key))
    return paths


def _at(items: list[Any], index: int) -> Any:
    return items[index] if index < len(items) else None


async def _audit(
    session: AsyncSession,
    action: AuditAction,
    principal: Principal,
    plan: CrisisPlan,
    details: dict[str, Any] | None = None,
    data_classes: Sequence[str] = CRISIS_PLAN,
) -> None:
    # Ids only: an audit event never carries an NHS number or the plan's text.
    event_details = {"plan_id": str(plan.id), "revision": plan.revision} | (details or {})
    await record(
        session,
        principal_event(
            action,
            principal,
            None,
            event_details,
            person_id=plan.person_id,
            data_classes=data_classes,
        ),
    )


def _user(user_id: uuid.UUID, name: str) -> PlanUser:
    return PlanUser(user_id=user_id, name=name)


def _review_overdue(plan: CrisisPlan) -> bool:
    return plan.review_date < utcnow().date()


def _read(plan: CrisisPlan, nhs_number: str) -> CrisisPlanRead:
    content = CrisisPlanContentRead.model_validate(plan.content)
    return CrisisPlanRead(
        id=plan.id,
        nhs_number=nhs_number,
        organisation_code=plan.organisation_code,
        status=plan.status,
        revision=plan.revision,
        review_date=plan.review_date,
        review_overdue=_review_overdue(plan),
        agreed_with_person=plan.agreed_with_person,
        police=content.police,
        clinical=content.clinical,
        created_by=_user(plan.created_by, plan.created_by_name),
        updated_by=_user(plan.updated_by, plan.updated_by_name),
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        withdrawn_at=plan.withdrawn_at,
        withdrawn_reason=plan.withdrawn_reason,
    )


def _summary(plan: CrisisPlan, nhs_number: str) -> CrisisPlanSummary:
    return CrisisPlanSummary(
        id=plan.id,
        nhs_number=nhs_number,
        status=plan.status,
        revision=plan.revision,
        review_date=plan.review_date,
        review_overdue=_review_overdue(plan),
        agreed_with_person=plan.agreed_with_person,
        updated_by=_user(plan.updated_by, plan.updated_by_name),
        updated_at=plan.updated_at,
        withdrawn_at=plan.withdrawn_at,
    )
