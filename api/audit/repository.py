"""Writing audit events to the log, and the SQL that reads them and the log's tree back.

An event is appended by the database function `audit_append` (migration 0014) in one round trip,
in the caller's transaction, taking nothing another writer holds: a number from a sequence and the
transaction's id. The sealer makes committed events leaves of the tree afterwards.
"""

import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, text, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.database import driver_connection
from api.log import request_id_var
from auth.principal import Principal
from models import (
    AccessNotification,
    AuditAction,
    AuditEvent,
    AuditOutcome,
    BreakGlassReview,
    Person,
    ReviewStatus,
    UserAccount,
    utcnow,
)
from models.base import built

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
    # Every audited request builds one, and `record` writes it as JSON: `built`, not the
    # constructor. The id and time are given rather than left to the fields' factories, whose
    # signatures pydantic inspects on every call.
    return built(
        AuditEvent,
        id=uuid.uuid4(),
        occurred_at=utcnow(),
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


_APPEND = "SELECT audit_append($1::jsonb)"
_APPEND_CORE = text("SELECT audit_append(CAST(:events AS jsonb))")


def events_json(*events: AuditEvent) -> str:
    """The events as `audit_append` takes them: a JSON array of rows."""
    return json.dumps([event.model_dump(mode="json") for event in events])


async def record(session: AsyncSession, *events: AuditEvent) -> None:
    """Part of the caller's transaction: the events commit or roll back with what they describe.

    One statement for any number of events, on the driver's connection (every audited request
    pays it); pending ORM writes go first."""
    if not events:
        return
    await session.flush()
    connection = await driver_connection(session)
    await connection.execute(_APPEND, events_json(*events))


async def append(connection: AsyncConnection, *events: AuditEvent) -> None:
    """`record` for code that holds a connection rather than a session (the purge)."""
    await connection.execute(_APPEND_CORE, {"events": events_json(*events)})


_REFUSALS = "audit.refusals"


def record_refusal(session: AsyncSession, event: AuditEvent) -> None:
    """A refusal, written when the request's transaction has ended, in one of its own.

    The request's transaction rolls back, and the refusal must remain; written on the same
    connection once that transaction has ended, it takes no second connection from the pool per
    refused request. The session dependency calls `write_refusals` at the end.
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


# The log's tree: sealing, proofs, verification and retention. Sealing, verification and the purge
# run as the schema owner outside any request; proofs and checkpoints are read by requests.

# One sealer at a time, across workers and replicas: a transaction-level advisory lock.
SEALER_LOCK = 0x7472_6961_6765_6C6F  # "triagelo"

_LEAF_HASH = "sha256('\\x00'::bytea || convert_to(audit_event_canonical(e), 'UTF8'))"


async def try_seal_lock(connection: AsyncConnection) -> bool:
    return bool(
        (
            await connection.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SEALER_LOCK}
            )
        ).scalar_one()
    )


@dataclass(frozen=True)
class TreeState:
    size: int
    xact_horizon: int


async def tree_state(connection: AsyncConnection, *, for_update: bool = False) -> TreeState:
    """The tree's size and horizon. `for_update` in the sealer: in REPEATABLE READ it fails if
    another sealer committed after this transaction's snapshot, rather than seal twice."""
    statement = "SELECT tree_size, xact_horizon FROM audit_tree_state"
    row = (await connection.execute(text(statement + (" FOR UPDATE" if for_update else "")))).one()
    return TreeState(int(row.tree_size), int(row.xact_horizon))


# The oldest transaction running in this transaction's snapshot that may be writing audit events
# here: every one below it has committed or rolled back, so no event below it can still appear.
# Transactions of other databases on the server (xids are server-wide) cannot write here: those
# still running are left out, so a long one elsewhere does not hold the horizon back. One that has
# ended since the snapshot cannot be told apart, and counts, to be safe. With none, the snapshot's
# xmax: every transaction below it had ended.
_HORIZON = text(
    """
    WITH snapshot AS (SELECT pg_current_snapshot() AS taken)
    SELECT coalesce(
      (SELECT min(running::text::bigint) FROM snapshot, pg_snapshot_xip(snapshot.taken) AS running
        WHERE NOT EXISTS (
          SELECT 1 FROM pg_stat_activity activity
          WHERE activity.backend_xid::text::bigint = (running::text::bigint & 4294967295)
            AND activity.datname <> current_database())),
      (SELECT pg_snapshot_xmax(taken)::text::bigint FROM snapshot))
    """
)


async def snapshot_horizon(connection: AsyncConnection) -> int:
    return int((await connection.execute(_HORIZON)).scalar_one())


_UNSEALED = text(
    f"SELECT e.id, e.xact_id, e.seq, {_LEAF_HASH} AS leaf FROM audit_event e"  # noqa: S608 - constants only
    " WHERE (e.xact_id, e.seq) > (:after_xact, :after_seq)"
    " AND NOT EXISTS (SELECT 1 FROM audit_leaf l WHERE l.event_id = e.id)"
    " ORDER BY e.xact_id, e.seq LIMIT :limit"
)


@dataclass(frozen=True)
class Unsealed:
    event_id: uuid.UUID
    leaf: bytes
    xact_id: int
    seq: int


async def unsealed_events(
    connection: AsyncConnection, after: tuple[int, int], limit: int
) -> list[Unsealed]:
    """Committed events not yet leaves, after (xact_id, seq) `after`: from (horizon, 0), those
    committed since the last seal, whatever their seq. Events of one transaction stay together."""
    rows = await connection.execute(
        _UNSEALED, {"after_xact": after[0], "after_seq": after[1], "limit": limit}
    )
    return [Unsealed(row.id, bytes(row.leaf), int(row.xact_id), int(row.seq)) for row in rows]


async def add_leaves(
    connection: AsyncConnection,
    first_index: int,
    leaves: Sequence[Unsealed],
    nodes: Sequence[tuple[int, int, bytes]],
) -> None:
    if leaves:
        await connection.execute(
            text(
                "INSERT INTO audit_leaf (leaf_index, event_id, hash, sealed_at)"
                " SELECT :first + ordinality - 1, event_id, hash, clock_timestamp()"
                " FROM unnest(CAST(:ids AS uuid[]), CAST(:hashes AS bytea[]))"
                " WITH ORDINALITY AS given(event_id, hash, ordinality)"
            ),
            {
                "first": first_index,
                "ids": [leaf.event_id for leaf in leaves],
                "hashes": [leaf.leaf for leaf in leaves],
            },
        )
    if nodes:
        await connection.execute(
            text(
                'INSERT INTO audit_tree_node (level, "index", hash)'
                " SELECT * FROM unnest(CAST(:levels AS smallint[]), CAST(:indexes AS bigint[]),"
                " CAST(:hashes AS bytea[]))"
            ),
            {
                "levels": [level for level, _, _ in nodes],
                "indexes": [index for _, index, _ in nodes],
                "hashes": [value for _, _, value in nodes],
            },
        )


async def save_tree_state(connection: AsyncConnection, size: int, horizon: int) -> None:
    await connection.execute(
        text(
            "UPDATE audit_tree_state SET tree_size = :size, xact_horizon = :horizon,"
            " sealed_at = now()"
        ),
        {"size": size, "horizon": horizon},
    )


async def fetch_nodes(
    connection: AsyncConnection, wanted: set[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these (level, index) nodes; level 0 is the leaves."""
    if not wanted:
        return {}
    leaves = [index for level, index in wanted if level == 0]
    inner = [(level, index) for level, index in wanted if level > 0]
    rows = await connection.execute(
        text(
            "SELECT 0 AS level, leaf_index AS node_index, hash FROM audit_leaf"
            " WHERE leaf_index = ANY(CAST(:leaves AS bigint[]))"
            ' UNION ALL SELECT n.level, n."index", n.hash FROM audit_tree_node n'
            " JOIN unnest(CAST(:levels AS smallint[]), CAST(:indexes AS bigint[]))"
            ' AS w(level, "index") ON w.level = n.level AND w."index" = n."index"'
        ),
        {
            "leaves": leaves,
            "levels": [level for level, _ in inner],
            "indexes": [index for _, index in inner],
        },
    )
    return {(int(row.level), int(row.node_index)): bytes(row.hash) for row in rows}


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str


async def add_checkpoint(connection: AsyncConnection, size: int, root: bytes, note: str) -> None:
    await connection.execute(
        text(
            "INSERT INTO audit_checkpoint (tree_size, root_hash, note, signed_at)"
            " VALUES (:size, :root, :note, now()) ON CONFLICT (tree_size) DO NOTHING"
        ),
        {"size": size, "root": root, "note": note},
    )


async def checkpoint(connection: AsyncConnection, size: int | None) -> StoredCheckpoint | None:
    """The checkpoint of this size, or (None) the latest."""
    where = "" if size is None else " WHERE tree_size = :size"
    row = (
        await connection.execute(
            text(
                f"SELECT tree_size, root_hash, note FROM audit_checkpoint{where}"  # noqa: S608
                " ORDER BY tree_size DESC LIMIT 1"
            ),
            {"size": size},
        )
    ).first()
    return (
        None
        if row is None
        else StoredCheckpoint(int(row.tree_size), bytes(row.root_hash), row.note)
    )


async def all_checkpoints(connection: AsyncConnection) -> list[StoredCheckpoint]:
    rows = await connection.execute(
        text("SELECT tree_size, root_hash, note FROM audit_checkpoint ORDER BY tree_size")
    )
    return [StoredCheckpoint(int(row.tree_size), bytes(row.root_hash), row.note) for row in rows]


@dataclass(frozen=True)
class EventLeaf:
    event_id: uuid.UUID
    leaf_index: int
    entry: bytes


async def event_leaves(
    connection: AsyncConnection, event_ids: Sequence[uuid.UUID], organisation_code: str
) -> dict[uuid.UUID, EventLeaf]:
    """The leaves of those of these events that are the organisation's and sealed, with their
    entries as the tree hashed them."""
    rows = await connection.execute(
        text(
            "SELECT e.id, l.leaf_index,"
            " convert_to(audit_event_canonical(e), 'UTF8') AS entry"
            " FROM audit_event e JOIN audit_leaf l ON l.event_id = e.id"
            " WHERE e.id = ANY(CAST(:ids AS uuid[])) AND e.actor_organisation_code = :org"
        ),
        {"ids": list(event_ids), "org": organisation_code},
    )
    return {row.id: EventLeaf(row.id, int(row.leaf_index), bytes(row.entry)) for row in rows}


@dataclass(frozen=True)
class LeafCheck:
    leaf_index: int
    stored: bytes
    # None when the event is gone (purged, or deleted).
    recomputed: bytes | None
    seq: int | None


_LEAF_CHECKS = text(
    f"SELECT l.leaf_index, l.hash, e.seq, CASE WHEN e.id IS NULL THEN NULL ELSE {_LEAF_HASH} END"  # noqa: S608
    " AS recomputed FROM audit_leaf l LEFT JOIN audit_event e ON e.id = l.event_id"
    " WHERE l.leaf_index >= :after ORDER BY l.leaf_index LIMIT :limit"
)


async def leaf_checks(connection: AsyncConnection, *, batch: int) -> AsyncIterator[list[LeafCheck]]:
    """Every leaf in order with its event's hash recomputed, `batch` at a time (keyset)."""
    after = 0
    while True:
        rows = (await connection.execute(_LEAF_CHECKS, {"after": after, "limit": batch})).all()
        if not rows:
            return
        yield [
            LeafCheck(
                int(row.leaf_index),
                bytes(row.hash),
                None if row.recomputed is None else bytes(row.recomputed),
                None if row.seq is None else int(row.seq),
            )
            for row in rows
        ]
        after = int(rows[-1].leaf_index) + 1


async def nodes_completed_within(
    connection: AsyncConnection, start: int, end: int
) -> dict[tuple[int, int], bytes]:
    """The stored nodes above the leaves that leaves [start, end) complete."""
    if end <= start:
        return {}
    rows = await connection.execute(
        text(
            'SELECT n.level, n."index" AS node_index, n.hash'
            " FROM generate_series(1, :levels) AS g(level)"
            " JOIN audit_tree_node n ON n.level = g.level"
            ' AND n."index" >= (CAST(:start AS bigint) >> g.level)'
            ' AND n."index" <= (CAST(:last AS bigint) >> g.level)'
        ),
        {"levels": end.bit_length(), "start": start, "last": end - 1},
    )
    return {(int(row.level), int(row.node_index)): bytes(row.hash) for row in rows}


async def first_unsealed_below(connection: AsyncConnection, horizon: int) -> int | None:
    """The seq of the first event below the horizon that is no leaf: one the sealer must have
    seen, so put there behind its back."""
    found = (
        await connection.execute(
            text(
                "SELECT min(e.seq) FROM audit_event e WHERE e.xact_id < :horizon"
                " AND NOT EXISTS (SELECT 1 FROM audit_leaf l WHERE l.event_id = e.id)"
            ),
            {"horizon": horizon},
        )
    ).scalar_one()
    return None if found is None else int(found)


async def purged_before(connection: AsyncConnection) -> int:
    """Leaves below this may have lost their events to the retention purge."""
    return int(
        (
            await connection.execute(
                text("SELECT coalesce(max(leaves_before), 0) FROM audit_log_purge")
            )
        ).scalar_one()
    )


async def purge_boundary(connection: AsyncConnection, before: datetime) -> int:
    """The first leaf whose event is still within retention (or the tree's size): only the
    leaves before it lose their events, so what remains is one stretch of the log."""
    return int(
        (
            await connection.execute(
                text(
                    "SELECT coalesce((SELECT min(l.leaf_index) FROM audit_leaf l"
                    " JOIN audit_event e ON e.id = l.event_id WHERE e.occurred_at >= :before),"
                    " (SELECT tree_size FROM audit_tree_state))"
                ),
                {"before": before},
            )
        ).scalar_one()
    )


_PURGEABLE = (
    " FROM audit_event e USING audit_leaf l WHERE l.event_id = e.id"
    " AND l.leaf_index >= :after AND l.leaf_index < :before"
)


async def count_purgeable(connection: AsyncConnection, after: int, before: int) -> int:
    return int(
        (
            await connection.execute(
                text(
                    "SELECT count(*) FROM audit_event e JOIN audit_leaf l ON l.event_id = e.id"
                    " WHERE l.leaf_index >= :after AND l.leaf_index < :before"
                ),
                {"after": after, "before": before},
            )
        ).scalar_one()
    )


async def purge_leaves(
    connection: AsyncConnection, *, after: int, before: int, occurred_before: datetime
) -> int:
    """Delete the events of leaves [after, before); their leaf hashes stay.

    The append-only trigger lets a DELETE through only for leaves below the transaction-local
    `app.audit_purge_before`, set here and nowhere else."""
    # A purge of years of events may outlast a request's statement timeout.
    await connection.execute(
        text(
            "SELECT set_config('app.audit_purge_before', :before, true),"
            " set_config('statement_timeout', '0', true)"
        ),
        {"before": str(before)},
    )
    deleted = (
        await connection.execute(text(f"DELETE{_PURGEABLE}"), {"after": after, "before": before})
    ).rowcount
    await connection.execute(text("SELECT set_config('app.audit_purge_before', '', true)"))
    await connection.execute(
        text(
            "INSERT INTO audit_log_purge (leaves_before, events_purged, occurred_before, purged_at)"
            " VALUES (:before, :events, :occurred_before, now())"
        ),
        {"before": before, "events": deleted, "occurred_before": occurred_before},
    )
    return int(deleted)


# A partner's log, as this organisation witnessed it


async def last_witnessed(connection: AsyncConnection, origin: str) -> StoredCheckpoint | None:
    row = (
        await connection.execute(
            text(
                "SELECT tree_size, root_hash, note FROM audit_witness_checkpoint"
                " WHERE origin = :origin ORDER BY tree_size DESC LIMIT 1"
            ),
            {"origin": origin},
        )
    ).first()
    return (
        None
        if row is None
        else StoredCheckpoint(int(row.tree_size), bytes(row.root_hash), row.note)
    )


async def add_witnessed(
    connection: AsyncConnection, origin: str, size: int, root: bytes, note: str
) -> None:
    await connection.execute(
        text(
            "INSERT INTO audit_witness_checkpoint (origin, tree_size, root_hash, note, witnessed_at)"
            " VALUES (:origin, :size, :root, :note, now()) ON CONFLICT DO NOTHING"
        ),
        {"origin": origin, "size": size, "root": root, "note": note},
    )
