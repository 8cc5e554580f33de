"""Writing audit events onto the hash chain, and the SQL that reads them back.

An event is appended by the database function `audit_append` (migration 0006) in one round trip:
it locks the chain head, numbers and hashes the events, inserts them and moves the head, all in the
caller's transaction. The head stays locked until that transaction ends, so concurrent writers
append in turn and the chain has no gaps: a rolled-back transaction takes its numbers with it.
"""

import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, and_, func, or_, text, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.log import request_id_var
from auth.principal import Principal
from models import (
    AccessNotification,
    AuditAction,
    AuditChainAnchor,
    AuditChainHead,
    AuditEvent,
    AuditOutcome,
    BreakGlassReview,
    Person,
    ReviewStatus,
    UserAccount,
)

logger = logging.getLogger(__name__)


def audit_event(
    action: AuditAction,
    outcome: AuditOutcome,
    *,
    reason: str | None = None,
    actor_user_id: uuid.UUID | None = None,
    actor_name: str | None = None,
    actor_role: str | None = None,
    actor_organisation_code: str | None = None,
    purpose: str | None = None,
    person_id: uuid.UUID | None = None,
    incident_id: uuid.UUID | None = None,
    token_jti: uuid.UUID | None = None,
    route: str | None = None,
    data_classes: Sequence[str] = (),
    source_systems: Sequence[str] = (),
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent(
        action=action.value,
        outcome=outcome.value,
        reason=reason,
        actor_user_id=actor_user_id,
        actor_name=actor_name,
        actor_role=actor_role,
        actor_organisation_code=actor_organisation_code,
        purpose=purpose,
        person_id=person_id,
        incident_id=incident_id,
        token_jti=token_jti,
        route=route,
        request_id=request_id_var.get(),
        data_classes=list(data_classes),
        source_systems=list(source_systems),
        details=details or {},
    )


def principal_event(
    action: AuditAction,
    principal: Principal,
    incident_id: uuid.UUID | None,
    details: dict[str, Any] | None = None,
    *,
    outcome: AuditOutcome = AuditOutcome.success,
    reason: str | None = None,
    route: str | None = None,
    person_id: uuid.UUID | None = None,
    data_classes: Sequence[str] = (),
    source_systems: Sequence[str] = (),
) -> AuditEvent:
    """An event by an authenticated principal, about one incident or (None) about none."""
    return audit_event(
        action,
        outcome,
        reason=reason,
        actor_user_id=principal.user_id,
        actor_name=principal.display_name,
        actor_role=principal.role.value,
        actor_organisation_code=principal.organisation_code,
        purpose=principal.purpose,
        person_id=person_id,
        incident_id=incident_id,
        token_jti=principal.token_jti,
        route=route,
        data_classes=data_classes,
        source_systems=source_systems,
        details=details,
    )


def people(person_ids: Sequence[uuid.UUID | None]) -> tuple[uuid.UUID | None, dict[str, Any]]:
    """The subject reference of an event about these people: the one person in `person_id`, or,
    for several, none there and all of them in `details.person_ids`."""
    distinct = sorted({person_id for person_id in person_ids if person_id is not None}, key=str)
    if len(distinct) == 1:
        return distinct[0], {}
    if not distinct:
        return None, {}
    return None, {"person_ids": [str(person_id) for person_id in distinct]}


_APPEND = text("SELECT audit_append(CAST(:events AS jsonb))")


async def record(session: AsyncSession, *events: AuditEvent) -> None:
    """Part of the caller's transaction: the events commit or roll back with what they describe.

    One statement for any number of events. Pending ORM writes go first, so the chain head, once
    locked, is held for as little of the transaction as possible."""
    if not events:
        return
    await session.flush()
    await append(await session.connection(), *events)


async def record_unless_busy(session: AsyncSession, *events: AuditEvent, wait_ms: int) -> None:
    """`record` for a background writer: if the chain head is held for more than `wait_ms`, it
    raises (lock_not_available) rather than queue behind requests; the caller tries again later."""
    await (await session.connection()).execute(
        text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": f"{wait_ms}ms"}
    )
    await record(session, *events)


async def append(connection: AsyncConnection, *events: AuditEvent) -> None:
    """`record` for code that holds a connection rather than a session (the purge)."""
    payload = json.dumps([event.model_dump(mode="json") for event in events])
    await connection.execute(_APPEND, {"events": payload})


_REFUSALS = "audit.refusals"


def record_refusal(session: AsyncSession, event: AuditEvent) -> None:
    """A refusal, written when the request's transaction has ended, in one of its own.

    The request's transaction rolls back, and the refusal must remain. It cannot be written on a
    second connection meanwhile: the request may already hold the audit chain's head, and would wait
    for a write that waits for it. The session dependency calls `write_refusals` at the end.
    """
    session.info.setdefault(_REFUSALS, []).append(event)


_DISCLOSURES = "audit.disclosures"


def record_after_rollback(session: AsyncSession, event: AuditEvent) -> None:
    """A disclosure made by ending the request with an exception (an idempotent replay), whose
    transaction therefore rolls back. `write_refusals` writes it first, before the response is
    sent; unlike a refusal, if it cannot be written the request fails rather than disclose."""
    session.info.setdefault(_DISCLOSURES, []).append(event)


async def write_refusals(session: AsyncSession) -> None:
    """The refusals `record_refusal` kept, in a transaction of their own on the same session.

    A refusal discloses nothing, so if the audit cannot be written the request is still refused.
    """
    owed: list[AuditEvent] = session.info.pop(_DISCLOSURES, [])
    if owed:
        # Not caught: a disclosure whose event cannot be written is not sent (500 instead).
        async with session.begin():
            await record(session, *owed)
    events: list[AuditEvent] = session.info.pop(_REFUSALS, [])
    if not events:
        return
    try:
        async with session.begin():
            await record(session, *events)
    except Exception as exc:
        logger.error(
            "audit.refusal_not_written",
            extra={
                "fields": {
                    "actions": [event.action for event in events],
                    "reasons": [event.reason for event in events],
                    "error_type": type(exc).__name__,
                }
            },
        )


# Reading the audit back (information governance)


@dataclass(frozen=True)
class EventFilter:
    organisation_code: str
    person_id: uuid.UUID | None = None
    actor_user_id: uuid.UUID | None = None
    incident_id: uuid.UUID | None = None
    token_jti: uuid.UUID | None = None
    action: str | None = None
    outcome: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def about_person(person_id: uuid.UUID) -> ColumnElement[bool]:
    """Events about the person: alone (`person_id`), or among several (`details.person_ids`)."""
    details = col(AuditEvent.details)
    return or_(
        col(AuditEvent.person_id) == person_id,
        # Spelt as the partial GIN index on details -> 'person_ids' is, so that it is used.
        and_(
            details.op("?")("person_ids"),
            details["person_ids"].contains(func.to_jsonb(str(person_id))),
        ),
    )


def _conditions(found: EventFilter) -> list[ColumnElement[bool]]:
    conditions = [col(AuditEvent.actor_organisation_code) == found.organisation_code]
    if found.person_id is not None:
        conditions.append(about_person(found.person_id))
    for column, value in (
        (col(AuditEvent.actor_user_id), found.actor_user_id),
        (col(AuditEvent.incident_id), found.incident_id),
        (col(AuditEvent.token_jti), found.token_jti),
        (col(AuditEvent.action), found.action),
        (col(AuditEvent.outcome), found.outcome),
    ):
        if value is not None:
            conditions.append(column == value)
    if found.occurred_from is not None:
        conditions.append(col(AuditEvent.occurred_at) >= found.occurred_from)
    if found.occurred_to is not None:
        conditions.append(col(AuditEvent.occurred_at) < found.occurred_to)
    return conditions


async def list_events(
    session: AsyncSession, found: EventFilter, *, after: uuid.UUID | None, limit: int
) -> list[AuditEvent]:
    """Newest first by seq; `after` is the id of the last event of the previous page."""
    statement = select(AuditEvent).where(*_conditions(found))
    if after is not None:
        # An id that names no event of the organisation (purged since) ends the listing.
        statement = statement.where(
            col(AuditEvent.seq)
            < select(col(AuditEvent.seq))
            .where(
                col(AuditEvent.id) == after,
                col(AuditEvent.actor_organisation_code) == found.organisation_code,
            )
            .scalar_subquery()
        )
    statement = statement.order_by(col(AuditEvent.seq).desc()).limit(limit)
    return list((await session.exec(statement)).all())


async def count_events(session: AsyncSession, found: EventFilter) -> int:
    statement = select(func.count()).select_from(AuditEvent).where(*_conditions(found))
    return int((await session.exec(statement)).one())


async def find_person(session: AsyncSession, nhs_number: str) -> uuid.UUID | None:
    statement = select(col(Person.id)).where(col(Person.nhs_number) == nhs_number)
    return (await session.exec(statement)).first()


@dataclass(frozen=True)
class OtherAccesses:
    organisation_code: str
    accesses: int
    break_glass: int
    first_at: datetime
    last_at: datetime


async def accesses_notified(
    session: AsyncSession, person_id: uuid.UUID, organisation_code: str
) -> list[OtherAccesses]:
    """Other organisations' accesses to the person's data the organisation was notified of, by
    organisation."""
    # SQLAlchemy's own select: sqlmodel's overloads stop short of five columns.
    statement = (
        sa_select(
            col(AccessNotification.actor_organisation_code),
            func.count(),
            func.count().filter(col(AccessNotification.break_glass)),
            func.min(col(AccessNotification.created_at)),
            func.max(col(AccessNotification.created_at)),
        )
        .where(
            col(AccessNotification.person_id) == person_id,
            col(AccessNotification.organisation_code) == organisation_code,
            col(AccessNotification.actor_organisation_code) != organisation_code,
        )
        .group_by(col(AccessNotification.actor_organisation_code))
        .order_by(col(AccessNotification.actor_organisation_code))
    )
    return [
        OtherAccesses(code, accesses, break_glass, first_at, last_at)
        for code, accesses, break_glass, first_at, last_at in (
            await (await session.connection()).execute(statement)
        ).all()
    ]


# Break-glass reviews


async def list_reviews(
    session: AsyncSession,
    *,
    organisation_code: str,
    status: ReviewStatus,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[BreakGlassReview, UserAccount]]:
    """The organisation's reviews in one status, newest first; keyset on (created_at, id)."""
    statement = (
        select(BreakGlassReview, UserAccount)
        .join(UserAccount, col(UserAccount.id) == col(BreakGlassReview.user_id))
        .where(
            col(BreakGlassReview.organisation_code) == organisation_code,
            col(BreakGlassReview.status) == status.value,
        )
    )
    if after is not None:
        statement = statement.where(
            tuple_(col(BreakGlassReview.created_at), col(BreakGlassReview.id))
            < tuple_(after[0], after[1])
        )
    statement = statement.order_by(
        col(BreakGlassReview.created_at).desc(), col(BreakGlassReview.id).desc()
    ).limit(limit)
    return [(review, user) for review, user in (await session.exec(statement)).all()]


async def find_review(
    session: AsyncSession, review_id: uuid.UUID, organisation_code: str, *, for_update: bool
) -> tuple[BreakGlassReview, UserAccount] | None:
    statement = (
        select(BreakGlassReview, UserAccount)
        .join(UserAccount, col(UserAccount.id) == col(BreakGlassReview.user_id))
        .where(
            col(BreakGlassReview.id) == review_id,
            col(BreakGlassReview.organisation_code) == organisation_code,
        )
    )
    if for_update:
        statement = statement.with_for_update(of=BreakGlassReview)
    found = (await session.exec(statement)).one_or_none()
    return None if found is None else (found[0], found[1])


async def save_review(session: AsyncSession, review: BreakGlassReview) -> None:
    session.add(review)
    await session.flush()


# The chain itself: verification and retention, run by the schema owner outside any request


@dataclass(frozen=True)
class ChainLink:
    seq: int
    prev_hash: str
    hash: str
    canonical: str


_LINKS = text(
    "SELECT seq, prev_hash, hash, audit_event_canonical(audit_event) AS canonical"
    " FROM audit_event WHERE seq > :after ORDER BY seq LIMIT :limit"
).columns(seq=BigInteger, prev_hash=String, hash=String, canonical=String)


async def chain_links(
    connection: AsyncConnection, *, after: int, batch: int
) -> AsyncIterator[list[ChainLink]]:
    """Every event after seq `after`, in seq order, `batch` at a time (keyset, never one big read)."""
    while True:
        rows = (await connection.execute(_LINKS, {"after": after, "limit": batch})).all()
        if not rows:
            return
        yield [ChainLink(int(row.seq), row.prev_hash, row.hash, row.canonical) for row in rows]
        after = int(rows[-1].seq)


async def chain_head(connection: AsyncConnection) -> tuple[int, str]:
    row = (
        await connection.execute(select(col(AuditChainHead.seq), col(AuditChainHead.hash)))
    ).one()
    return int(row.seq), str(row.hash)


async def latest_anchor(connection: AsyncConnection) -> tuple[int, str] | None:
    """The seq and hash of the last event the latest retention purge removed, if any."""
    row = (
        await connection.execute(
            select(col(AuditChainAnchor.seq), col(AuditChainAnchor.hash))
            .order_by(col(AuditChainAnchor.seq).desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row.seq), str(row.hash))


_PURGE_BOUNDARY = text(
    """
    SELECT
      coalesce(
        (SELECT min(seq) - 1 FROM audit_event WHERE occurred_at >= :before),
        (SELECT max(seq) FROM audit_event)
      ) AS through,
      coalesce((SELECT max(seq) FROM audit_chain_anchor), 0) AS anchored
    """
)


async def purge_boundary(connection: AsyncConnection, before: datetime) -> tuple[int, int]:
    """(last seq a purge may remove, last seq already purged). Only a prefix of the chain goes:
    the events before the first one that is still within retention."""
    row = (await connection.execute(_PURGE_BOUNDARY, {"before": before})).one()
    return int(row.through or 0), int(row.anchored)


async def count_between(connection: AsyncConnection, after: int, through: int) -> int:
    return int(
        (
            await connection.execute(
                text("SELECT count(*) FROM audit_event WHERE seq > :after AND seq <= :through"),
                {"after": after, "through": through},
            )
        ).scalar_one()
    )


async def purge_through(
    connection: AsyncConnection, *, anchored: int, through: int, before: datetime
) -> int:
    """Delete events after the last anchor up to `through`, and anchor the chain at `through`.

    The append-only trigger lets a DELETE through only for seqs up to the transaction-local
    `app.audit_purge_through`, set here and nowhere else."""
    anchor_hash = (
        await connection.execute(
            text("SELECT hash FROM audit_event WHERE seq = :seq"), {"seq": through}
        )
    ).scalar_one()
    # A purge of years of events may outlast a request's statement timeout.
    await connection.execute(
        text(
            "SELECT set_config('app.audit_purge_through', :through, true),"
            " set_config('statement_timeout', '0', true)"
        ),
        {"through": str(through)},
    )
    deleted = (
        await connection.execute(
            text("DELETE FROM audit_event WHERE seq > :after AND seq <= :through"),
            {"after": anchored, "through": through},
        )
    ).rowcount
    await connection.execute(
        text("SELECT set_config('app.audit_purge_through', '', true)"),
    )
    await connection.execute(
        text(
            "INSERT INTO audit_chain_anchor (seq, hash, events_purged, occurred_before, purged_at)"
            " VALUES (:seq, :hash, :events, :before, now())"
        ),
        {"seq": through, "hash": anchor_hash, "events": deleted, "before": before},
    )
    return int(deleted)
