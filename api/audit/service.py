"""Information governance: the audit trail, subject access reports, break-glass reviews; and the
chain's verification and retention.

An information governance officer sees only what their own organisation's staff did: each
organisation is the controller answerable for its own staff's access. Every read of the audit is
itself audited.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit import repository
from api.audit.repository import (
    EventFilter,
    audit_event,
    principal_event,
    record,
    record_refusal,
)
from api.audit.schemas import (
    AuditEventPage,
    AuditEventRead,
    BreakGlassReviewPage,
    BreakGlassReviewRead,
    BreakGlassReviewStatusFilter,
    BreakGlassReviewWrite,
    OtherOrganisationAccesses,
    Practitioner,
    Reviewer,
    SubjectAccessReport,
    SubjectAccessRequest,
)
from api.errors import ServiceError
from api.pagination import decode_cursor, page_of
from api.token.repository import find_user
from auth.policy import reviews_own_break_glass
from auth.principal import Principal
from models import (
    GENESIS_HASH,
    AuditAction,
    AuditEvent,
    AuditOutcome,
    BreakGlassReview,
    DataClass,
    Partnership,
    ReviewConclusion,
    ReviewStatus,
    UserAccount,
    utcnow,
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# A report lists this many events at most; the rest are paged through with the person filter.
SUBJECT_ACCESS_EVENTS_LIMIT = 1000
VERIFY_BATCH_SIZE = 1000

AUDIT_TRAIL = [DataClass.audit_trail.value]


class BreakGlassReviewNotFound(ServiceError):
    status = 404
    type_slug = "break-glass-review-not-found"
    title = "Break-glass review not found"


class BreakGlassReviewCompleted(ServiceError):
    status = 409
    type_slug = "break-glass-review-completed"
    title = "Break-glass review already completed"


class BreakGlassSelfReview(ServiceError):
    status = 403
    type_slug = "break-glass-self-review"
    title = "A break-glass is reviewed by someone other than the person who broke glass"


@dataclass(frozen=True)
class EventQuery:
    person_id: uuid.UUID | None = None
    actor_user_id: uuid.UUID | None = None
    incident_id: uuid.UUID | None = None
    token_jti: uuid.UUID | None = None
    action: AuditAction | None = None
    outcome: AuditOutcome | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


async def list_events(
    session: AsyncSession,
    principal: Principal,
    query: EventQuery,
    *,
    cursor: str | None,
    limit: int,
) -> AuditEventPage:
    """The caller's organisation's events, newest first, filtered; the reading is audited."""
    after = decode_cursor(cursor)[1] if cursor else None
    rows = await repository.list_events(
        session,
        EventFilter(
            organisation_code=principal.organisation_code,
            person_id=query.person_id,
            actor_user_id=query.actor_user_id,
            incident_id=query.incident_id,
            token_jti=query.token_jti,
            action=query.action.value if query.action else None,
            outcome=query.outcome.value if query.outcome else None,
            occurred_from=_aware(query.occurred_from),
            occurred_to=_aware(query.occurred_to),
        ),
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = page_of(rows, limit, lambda row: (row.occurred_at, row.id))
    filters = {
        name: str(value)
        for name, value in (
            ("actor_user_id", query.actor_user_id),
            ("incident_id", query.incident_id),
            ("token_jti", query.token_jti),
            ("action", query.action),
            ("outcome", query.outcome),
            ("from", query.occurred_from),
            ("to", query.occurred_to),
        )
        if value is not None
    }
    await record(
        session,
        principal_event(
            AuditAction.audit_read,
            principal,
            query.incident_id,
            {"filters": filters, "cursor": cursor is not None, "seqs": _seqs(page)},
            person_id=query.person_id,
            data_classes=AUDIT_TRAIL,
        ),
    )
    return AuditEventPage(
        items=[AuditEventRead.from_row(row) for row in page], next_cursor=next_cursor
    )


async def subject_access_report(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    request: SubjectAccessRequest,
) -> SubjectAccessReport:
    """Every event by the caller's organisation's staff about the person, and how often other
    organisations accessed the data the caller's organisation holds on them (as it was notified).

    Each organisation answers a subject access request for what it controls: its own staff's
    accesses. Other organisations' accesses are counted by organisation, so the person can be sent
    to the controller who holds their detail; the detail is theirs to give.
    """
    person_id = await repository.find_person(session, request.nhs_number)
    events = []
    event_count = 0
    others: list[repository.OtherAccesses] = []
    if person_id is not None:
        found = EventFilter(organisation_code=principal.organisation_code, person_id=person_id)
        events = await repository.list_events(
            session, found, after=None, limit=SUBJECT_ACCESS_EVENTS_LIMIT + 1
        )
        event_count = len(events)
        if event_count > SUBJECT_ACCESS_EVENTS_LIMIT:
            event_count = await repository.count_events(session, found)
            events = events[:SUBJECT_ACCESS_EVENTS_LIMIT]
        others = await repository.accesses_notified(session, person_id, principal.organisation_code)
        if not events and not others:
            # Recorded by someone, but never by or for this organisation: its answer must not
            # differ from a stranger's, or the report itself tells it the person met the service.
            person_id = None
    await record(
        session,
        principal_event(
            AuditAction.audit_subject_access_report,
            principal,
            None,
            {
                "person_known": person_id is not None,
                "events": event_count,
                "other_organisations": [other.organisation_code for other in others],
            },
            person_id=person_id,
            data_classes=AUDIT_TRAIL,
        ),
    )
    names = {org.code: org.name for org in partnership.organisations}
    return SubjectAccessReport(
        nhs_number=request.nhs_number,
        known=person_id is not None,
        person_id=person_id,
        organisation_code=principal.organisation_code,
        generated_at=utcnow(),
        event_count=event_count,
        events=[AuditEventRead.from_row(row) for row in events],
        events_limit=SUBJECT_ACCESS_EVENTS_LIMIT,
        complete=event_count == len(events),
        other_organisations=[
            OtherOrganisationAccesses(
                organisation_code=other.organisation_code,
                organisation_name=names.get(other.organisation_code),
                accesses=other.accesses,
                break_glass=other.break_glass,
                first_at=other.first_at,
                last_at=other.last_at,
            )
            for other in others
        ],
    )


async def list_break_glass_reviews(
    session: AsyncSession,
    principal: Principal,
    *,
    status: BreakGlassReviewStatusFilter,
    cursor: str | None,
    limit: int,
) -> BreakGlassReviewPage:
    """Break-glass accesses by the caller's organisation's practitioners, in one status."""
    rows = await repository.list_reviews(
        session,
        organisation_code=principal.organisation_code,
        status=ReviewStatus(status.value),
        after=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    page, next_cursor = page_of(rows, limit, lambda row: (row[0].created_at, row[0].id))
    await record(
        session,
        principal_event(
            AuditAction.break_glass_review_list,
            principal,
            None,
            {"status": status.value, "review_ids": [str(review.id) for review, _ in page]},
            data_classes=AUDIT_TRAIL,
        ),
    )
    return BreakGlassReviewPage(
        items=[_review(review, user) for review, user in page], next_cursor=next_cursor
    )


async def complete_break_glass_review(
    session: AsyncSession,
    principal: Principal,
    review_id: uuid.UUID,
    payload: BreakGlassReviewWrite,
) -> BreakGlassReviewRead:
    """Record the conclusion, once. Another organisation's review, or no such id: 404 alike."""
    found = await repository.find_review(
        session, review_id, principal.organisation_code, for_update=True
    )
    if found is None:
        raise BreakGlassReviewNotFound()
    review, practitioner = found
    if review.status == ReviewStatus.reviewed:
        raise BreakGlassReviewCompleted("This review is complete; a review is completed once.")
    reviewer = await find_user(session, principal.user_id)
    if reviewer is None or reviews_own_break_glass(practitioner, reviewer):
        # Refused, and the attempt stays on the record though the request rolls back.
        record_refusal(
            session,
            principal_event(
                AuditAction.break_glass_review,
                principal,
                review.incident_id,
                {"review_id": str(review.id), "token_jti": str(review.token_jti)},
                outcome=AuditOutcome.denied,
                reason="self_review",
                data_classes=AUDIT_TRAIL,
            ),
        )
        raise BreakGlassSelfReview(
            "A break-glass cannot be reviewed by the person who broke glass."
        )
    review.status = ReviewStatus.reviewed
    review.reviewed_at = utcnow()
    review.reviewed_by = principal.user_id
    review.reviewer_name = principal.display_name
    review.conclusion = payload.conclusion.value
    review.finding = payload.finding
    await repository.save_review(session, review)
    await record(
        session,
        principal_event(
            AuditAction.break_glass_review,
            principal,
            review.incident_id,
            {
                "review_id": str(review.id),
                "token_jti": str(review.token_jti),
                "practitioner_user_id": str(review.user_id),
                "conclusion": payload.conclusion.value,
            },
            data_classes=AUDIT_TRAIL,
        ),
    )
    return _review(review, practitioner)


def _review(review: BreakGlassReview, practitioner: UserAccount) -> BreakGlassReviewRead:
    reviewer = None
    if review.reviewed_by is not None and review.reviewer_name is not None:
        reviewer = Reviewer(user_id=review.reviewed_by, name=review.reviewer_name)
    return BreakGlassReviewRead(
        id=review.id,
        status=review.status,
        created_at=review.created_at,
        practitioner=Practitioner(
            user_id=practitioner.id, name=practitioner.display_name, role=practitioner.role
        ),
        organisation_code=review.organisation_code,
        incident_id=review.incident_id,
        token_jti=review.token_jti,
        justification=review.justification,
        reviewed_at=review.reviewed_at,
        reviewer=reviewer,
        conclusion=ReviewConclusion(review.conclusion) if review.conclusion else None,
        finding=review.finding,
    )


def _seqs(rows: list[AuditEvent]) -> list[int]:
    """The first and last seq shown: which stretch of the trail was read, without listing it."""
    seqs = [row.seq for row in rows if row.seq is not None]
    return [max(seqs), min(seqs)] if seqs else []


def _aware(moment: datetime | None) -> datetime | None:
    # A time without a zone is taken as UTC, never as the database session's zone.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# The chain: verification and retention. Both run as the schema owner, outside any request.


class BreakKind(StrEnum):
    changed_row = "changed_row"
    missing_seq = "missing_seq"
    broken_link = "broken_link"


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    kind: BreakKind

    def describe(self) -> str:
        return {
            BreakKind.changed_row: "the event's content no longer matches its hash (changed row)",
            BreakKind.missing_seq: "no event has this seq (deleted)",
            BreakKind.broken_link: "the event does not follow from the one before it "
            "(that one was replaced, or this one re-linked)",
        }[self.kind]


@dataclass(frozen=True)
class ChainReport:
    events: int
    first_seq: int
    head_seq: int
    head_hash: str
    anchor_seq: int | None
    problem: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def link_hash(prev_hash: str, canonical: str) -> str:
    """An event's hash: SHA-256 of the previous hash and its canonical text, as `audit_append`
    computes it in the database."""
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


async def verify_chain(
    connection: AsyncConnection, *, batch: int = VERIFY_BATCH_SIZE
) -> ChainReport:
    """Walk the chain from its start (or the latest retention anchor) to the head, in seq order,
    `batch` events at a time; stop at the first break.

    Run it in one REPEATABLE READ transaction, so the walk and the head are one snapshot."""
    anchor = await repository.latest_anchor(connection)
    anchor_seq, prev_hash = anchor if anchor is not None else (0, GENESIS_HASH)
    head_seq, head_hash = await repository.chain_head(connection)
    expected = anchor_seq + 1
    events = 0

    def report(problem: ChainBreak | None) -> ChainReport:
        return ChainReport(
            events=events,
            first_seq=anchor_seq + 1,
            head_seq=head_seq,
            head_hash=head_hash,
            anchor_seq=anchor[0] if anchor is not None else None,
            problem=problem,
        )

    async for links in repository.chain_links(connection, after=anchor_seq, batch=batch):
        for link in links:
            if link.seq != expected:
                return report(ChainBreak(expected, BreakKind.missing_seq))
            if link_hash(link.prev_hash, link.canonical) != link.hash:
                return report(ChainBreak(link.seq, BreakKind.changed_row))
            if link.prev_hash != prev_hash:
                return report(ChainBreak(link.seq, BreakKind.broken_link))
            prev_hash = link.hash
            expected += 1
            events += 1
    # The head names the last event appended: any after the last one found were deleted.
    if head_seq >= expected:
        return report(ChainBreak(expected, BreakKind.missing_seq))
    if head_seq == expected - 1 and head_hash != prev_hash:
        return report(ChainBreak(head_seq, BreakKind.broken_link))
    return report(None)


def audit_retention_cutoff(partnership: Partnership, now: datetime | None = None) -> datetime:
    """Events that occurred before this are past the agreement's audit retention."""
    days = partnership.agreement.retention.audit_event_days
    return (now or utcnow()) - timedelta(days=days)


async def purge_audit_events(
    session_or_conn: AsyncSession | AsyncConnection, older_than: datetime, dry_run: bool
) -> int:
    """Remove the events that occurred before `older_than` from the start of the chain; how many
    (would) go.

    Only a prefix goes: the purge stops at the first event still within retention, so what remains
    is one unbroken chain, verified from the anchor this leaves (the last purged seq and hash). The
    purge itself is recorded on the chain. Run it as the schema owner, in the caller's transaction.
    """
    connection = (
        await session_or_conn.connection()
        if isinstance(session_or_conn, AsyncSession)
        else session_or_conn
    )
    before = _aware(older_than)
    assert before is not None
    through, anchored = await repository.purge_boundary(connection, before)
    if through <= anchored:
        return 0
    if dry_run:
        return await repository.count_between(connection, anchored, through)
    deleted = await repository.purge_through(
        connection, anchored=anchored, through=through, before=before
    )
    await repository.append(
        connection,
        audit_event(
            AuditAction.audit_purge,
            AuditOutcome.success,
            details={
                "through_seq": through,
                "events": deleted,
                "occurred_before": before.isoformat(),
            },
        ),
    )
    return deleted
