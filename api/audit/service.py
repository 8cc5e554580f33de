"""Information governance: the audit trail, subject access reports, break-glass reviews; and the
chain's verification and retention.

An information governance officer sees only what their own organisation's staff did: each
organisation is the controller answerable for its own staff's access. Every read of the audit is
itself audited.
"""

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit import repository
from api.audit.merkle import (
    Frontier,
    NodeSource,
    consistency_path,
    inclusion_path,
    needed_nodes,
)
from api.audit.note import NoteError, parse_note, verify_note
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
    ConsistencyProof,
    InclusionProof,
    OtherOrganisationAccesses,
    Practitioner,
    Reviewer,
    SubjectAccessReport,
    SubjectAccessRequest,
)
from api.audit.sealer import LogKeys
from api.errors import ServiceError
from api.pagination import decode_cursor, page_of
from api.token.repository import find_user
from auth.policy import reviews_own_break_glass
from auth.principal import Principal
from models import (
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
    connection = await session.connection()
    checkpoint = await repository.checkpoint(connection, None)
    proofs = (
        await inclusion_proofs(
            connection, [row.id for row in events], principal.organisation_code, checkpoint
        )
        if checkpoint is not None and events
        else {}
    )
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
        checkpoint=checkpoint.note if checkpoint is not None else None,
        inclusion_proofs=[proofs[row.id] for row in events if row.id in proofs],
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


# The log: proofs, verification and retention.


class ProofNotFound(ServiceError):
    status = 404
    type_slug = "audit-proof-not-found"
    title = "No such sealed audit event"


class NoCheckpoint(ServiceError):
    status = 503
    type_slug = "audit-checkpoint-not-yet"
    title = "The audit log has no checkpoint yet"


class InvalidTreeSizes(ServiceError):
    status = 400
    type_slug = "audit-tree-sizes"
    title = "Tree sizes must satisfy 0 <= first <= second <= the latest checkpoint's size"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


async def _resolve(
    connection: AsyncConnection, compute: Callable[[NodeSource], list[bytes]]
) -> list[bytes]:
    """Run a proof computation against the stored nodes, fetched in one query."""
    fetched = await repository.fetch_nodes(connection, needed_nodes(compute))
    return compute(lambda level, index: fetched[(level, index)])


async def latest_checkpoint(connection: AsyncConnection) -> repository.StoredCheckpoint:
    found = await repository.checkpoint(connection, None)
    if found is None:
        raise NoCheckpoint("No checkpoint has been signed yet; try again in a few seconds.")
    return found


async def inclusion_proofs(
    connection: AsyncConnection,
    event_ids: Sequence[uuid.UUID],
    organisation_code: str,
    checkpoint: repository.StoredCheckpoint,
) -> dict[uuid.UUID, InclusionProof]:
    """Proofs, against `checkpoint`, of those events that are the organisation's and in it."""
    leaves = [
        leaf
        for leaf in (
            await repository.event_leaves(connection, event_ids, organisation_code)
        ).values()
        if leaf.leaf_index < checkpoint.size
    ]

    def paths(nodes: NodeSource) -> list[bytes]:
        return [
            hash_
            for leaf in leaves
            for hash_ in inclusion_path(nodes, leaf.leaf_index, checkpoint.size)
        ]

    flat = await _resolve(connection, paths)
    proofs: dict[uuid.UUID, InclusionProof] = {}
    offset = 0
    for leaf in leaves:
        length = len(inclusion_path(lambda level, index: b"", leaf.leaf_index, checkpoint.size))
        proofs[leaf.event_id] = InclusionProof(
            event_id=leaf.event_id,
            leaf_index=leaf.leaf_index,
            tree_size=checkpoint.size,
            entry=_b64(leaf.entry),
            inclusion_path=[_b64(value) for value in flat[offset : offset + length]],
            checkpoint=checkpoint.note,
        )
        offset += length
    return proofs


async def event_proof(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> InclusionProof:
    """The inclusion proof of one of the organisation's events against the latest checkpoint."""
    connection = await session.connection()
    checkpoint = await latest_checkpoint(connection)
    proofs = await inclusion_proofs(connection, [event_id], principal.organisation_code, checkpoint)
    if event_id not in proofs:
        # Another organisation's event, none at all, or not sealed yet: 404 alike.
        raise ProofNotFound("No sealed event of your organisation has this id.")
    await record(
        session,
        principal_event(
            AuditAction.audit_read,
            principal,
            None,
            {"proof_of": str(event_id), "tree_size": checkpoint.size},
            data_classes=AUDIT_TRAIL,
        ),
    )
    return proofs[event_id]


async def consistency_proof(
    connection: AsyncConnection, first: int, second: int
) -> ConsistencyProof:
    latest = await latest_checkpoint(connection)
    if not 0 <= first <= second <= latest.size:
        raise InvalidTreeSizes(f"The latest checkpoint's size is {latest.size}.")
    path = await _resolve(connection, lambda nodes: consistency_path(nodes, first, second))
    return ConsistencyProof(
        first=first, second=second, consistency_path=[_b64(value) for value in path]
    )


class ProblemKind(StrEnum):
    changed = "changed"
    missing = "missing"
    reordered = "reordered"
    inserted = "inserted"
    bad_signature = "bad_signature"
    checkpoint_mismatch = "checkpoint_mismatch"


@dataclass(frozen=True)
class LogProblem:
    kind: ProblemKind
    # The leaf index where the log stops verifying; for an inserted event, its seq.
    at: int
    seq: int | None = None

    def describe(self) -> str:
        where = f"leaf {self.at}" + (f" (event seq {self.seq})" if self.seq is not None else "")
        return {
            ProblemKind.changed: f"{where}: the event no longer matches its leaf hash (changed)",
            ProblemKind.missing: f"leaf {self.at}: its event is gone, and no purge removed it"
            " (deleted)",
            ProblemKind.reordered: f"{where}: the leaves from here no longer hash to the tree "
            "stored above them (reordered, or leaves spliced in or out)",
            ProblemKind.inserted: f"event seq {self.at} is in no leaf, though its transaction "
            "ended before the sealer's horizon (inserted behind the log)",
            ProblemKind.bad_signature: f"the checkpoint of size {self.at} does not verify with "
            "any of the log's checkpoint keys",
            ProblemKind.checkpoint_mismatch: f"the checkpoint of size {self.at} signed a root the "
            "events no longer hash to (the log was rewritten before that size)",
        }[self.kind]


@dataclass(frozen=True)
class LogReport:
    tree_size: int
    leaves: int
    checkpoints: int
    purged_before: int
    problem: LogProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


# One walk, stopping at the first problem of whichever kind: a return for each.
async def verify_log(  # noqa: PLR0911, PLR0912
    connection: AsyncConnection,
    keys: LogKeys,
    *,
    batch: int = VERIFY_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> LogReport:
    """Recompute the tree from the events, leaf by leaf, and check it against the stored leaves,
    the stored nodes and every stored checkpoint; stop at the first problem. `progress` is told
    (leaves verified, tree size) after each batch.

    Run it in one REPEATABLE READ transaction, so the walk is one snapshot."""
    state = await repository.tree_state(connection)
    purged = await repository.purged_before(connection)
    checkpoints = await repository.all_checkpoints(connection)
    frontier = Frontier()
    pending = list(checkpoints)
    leaves = 0

    def report(problem: LogProblem | None) -> LogReport:
        return LogReport(
            tree_size=state.size,
            leaves=leaves,
            checkpoints=len(checkpoints),
            purged_before=purged,
            problem=problem,
        )

    for stored in checkpoints:
        if not _signed_by_log(stored, keys):
            return report(LogProblem(ProblemKind.bad_signature, stored.size))

    def check_checkpoints() -> LogProblem | None:
        while pending and pending[0].size == frontier.size:
            if pending.pop(0).root != frontier.root():
                return LogProblem(ProblemKind.checkpoint_mismatch, frontier.size)
        return None

    if (problem := check_checkpoints()) is not None:
        return report(problem)
    async for checks in repository.leaf_checks(connection, batch=batch):
        stored_nodes = await repository.nodes_completed_within(
            connection, checks[0].leaf_index, checks[-1].leaf_index + 1
        )
        for check in checks:
            if check.leaf_index != frontier.size:
                return report(LogProblem(ProblemKind.missing, frontier.size))
            if check.recomputed is None:
                if check.leaf_index >= purged:
                    return report(LogProblem(ProblemKind.missing, check.leaf_index))
                leaf = check.stored
            elif check.recomputed != check.stored:
                return report(LogProblem(ProblemKind.changed, check.leaf_index, check.seq))
            else:
                leaf = check.recomputed
            for level, index, value in frontier.append(leaf):
                if stored_nodes.get((level, index)) != value:
                    return report(LogProblem(ProblemKind.reordered, index << level))
            leaves += 1
            if (problem := check_checkpoints()) is not None:
                return report(problem)
        if progress is not None:
            progress(leaves, state.size)
    if frontier.size < state.size:
        return report(LogProblem(ProblemKind.missing, frontier.size))
    if pending:
        return report(LogProblem(ProblemKind.checkpoint_mismatch, pending[0].size))
    inserted = await repository.first_unsealed_below(connection, state.xact_horizon)
    if inserted is not None:
        return report(LogProblem(ProblemKind.inserted, inserted))
    return report(None)


def _signed_by_log(stored: repository.StoredCheckpoint, keys: LogKeys) -> bool:
    try:
        note = parse_note(stored.note)
    except NoteError:
        return False
    for verifier in keys.verifiers:
        try:
            checkpoint = verify_note(note, verifier)
        except NoteError:
            continue
        return checkpoint.size == stored.size and checkpoint.root == stored.root
    return False


def audit_retention_cutoff(partnership: Partnership, now: datetime | None = None) -> datetime:
    """Events that occurred before this are past the agreement's audit retention."""
    days = partnership.agreement.retention.audit_event_days
    return (now or utcnow()) - timedelta(days=days)


async def purge_audit_events(
    session_or_conn: AsyncSession | AsyncConnection, older_than: datetime, dry_run: bool
) -> int:
    """Remove the events that occurred before `older_than` from the start of the log; how many
    (would) go.

    Only sealed events go, and only those before the first leaf still within retention, so what
    remains is one stretch of the log. Their leaf hashes stay: the tree, every checkpoint and every
    proof still verify. The purge itself is recorded in the log. Run it as the schema owner, in
    the caller's transaction.
    """
    connection = (
        await session_or_conn.connection()
        if isinstance(session_or_conn, AsyncSession)
        else session_or_conn
    )
    before = _aware(older_than)
    assert before is not None
    boundary = await repository.purge_boundary(connection, before)
    already = await repository.purged_before(connection)
    if boundary <= already:
        return 0
    if dry_run:
        return await repository.count_purgeable(connection, already, boundary)
    deleted = await repository.purge_leaves(
        connection, after=already, before=boundary, occurred_before=before
    )
    await repository.append(
        connection,
        audit_event(
            AuditAction.audit_purge,
            AuditOutcome.success,
            details={
                "leaves_before": boundary,
                "events": deleted,
                "occurred_before": before.isoformat(),
            },
        ),
    )
    return deleted
