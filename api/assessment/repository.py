"""SQL for assessments, their revisions and signatures."""

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from sqlalchemy import inspect
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.database import driver_connection
from models import (
    Assessment,
    AssessmentContent,
    AssessmentRevision,
    AssessmentSignature,
    RevisionKind,
    UserAccount,
    utcnow,
)


async def find_for_subject(
    session: AsyncSession, subject_id: uuid.UUID, *, for_update: bool = False
) -> Assessment | None:
    statement = select(Assessment).where(col(Assessment.subject_id) == subject_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).one_or_none()


async def current_revision(session: AsyncSession, assessment: Assessment) -> AssessmentRevision:
    statement = select(AssessmentRevision).where(
        col(AssessmentRevision.assessment_id) == assessment.id,
        col(AssessmentRevision.revision) == assessment.revision,
    )
    return (await session.exec(statement)).one()


async def revisions(session: AsyncSession, assessment_id: uuid.UUID) -> list[AssessmentRevision]:
    statement = (
        select(AssessmentRevision)
        .where(col(AssessmentRevision.assessment_id) == assessment_id)
        .order_by(col(AssessmentRevision.revision))
    )
    return list((await session.exec(statement)).all())


async def signatures(session: AsyncSession, assessment_id: uuid.UUID) -> list[AssessmentSignature]:
    statement = (
        select(AssessmentSignature)
        .where(col(AssessmentSignature.assessment_id) == assessment_id)
        .order_by(col(AssessmentSignature.signed_at))
    )
    return list((await session.exec(statement)).all())


async def users(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, UserAccount]:
    if not ids:
        return {}
    statement = select(UserAccount).where(col(UserAccount.id).in_(ids))
    return {user.id: user for user in (await session.exec(statement)).all()}


async def add(
    session: AsyncSession, *rows: Assessment | AssessmentRevision | AssessmentSignature
) -> None:
    session.add_all(rows)
    await session.flush()


_ASSESSMENT = inspect(Assessment)

# The write path (PUT) runs on the driver's connection: two statements where the ORM made nine,
# and none of the ORM's per-statement work (STYLE rule 17). Reads share its contributions query.


@dataclass(frozen=True)
class WriteTarget:
    """An assessment locked for a write, with what the rules and the response need."""

    incident_status: str
    person_id: uuid.UUID | None
    id: uuid.UUID
    incident_id: uuid.UUID
    subject_id: uuid.UUID
    revision: int
    status: str
    created_at: datetime
    locked_at: datetime | None


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    name: str
    role: str
    organisation_code: str


@dataclass(frozen=True)
class Signed:
    revision: int
    role: str
    signed_at: datetime
    signer: Person


@dataclass(frozen=True)
class Contributions:
    # In order of first revision; may name one author twice (the write's new one).
    authors: list[Person]
    # In order of signing.
    signatures: list[Signed]


# Locks the incident, then the assessment, as the ORM path's two statements did, so writers of
# one incident still queue on its row; a row is returned only when all three are there and the
# organisation may see the incident. After waiting for a lock PostgreSQL rereads only the locked
# rows: the subject's comes from before the wait, which is safe as its person is fixed when it is
# added.
_LOCK_FOR_WRITE = (
    "SELECT i.status AS incident_status, s.person_id, a.id, a.incident_id, a.subject_id,"
    " a.revision, a.status, a.created_at, a.locked_at"
    " FROM incident AS i"
    " JOIN incident_subject AS s ON s.incident_id = i.id"
    " JOIN assessment AS a ON a.subject_id = s.id"
    " WHERE i.id = $1 AND s.id = $2 AND (i.organisation_code = $3 OR i.partner_trust_code = $3)"
    " FOR UPDATE OF i, a"
)

# Authors in order of first revision, then signatures in order of signing, each with its user.
# `{extra}` adds rows to the union (the write's new author).
_CONTRIBUTIONS = (
    "SELECT c.user_id, u.display_name, u.role, u.organisation_code,"
    " c.signed_revision, c.signed_role, c.signed_at"
    " FROM (SELECT author_id AS user_id, min(revision) AS position,"
    " NULL::integer AS signed_revision, NULL::text AS signed_role,"
    " NULL::timestamptz AS signed_at"
    " FROM assessment_revision WHERE assessment_id = $1 GROUP BY author_id"
    " UNION ALL SELECT signer_id, NULL, revision, role, signed_at"
    " FROM assessment_signature WHERE assessment_id = $1{extra}) AS c"
    " JOIN user_account AS u ON u.id = c.user_id"
    " ORDER BY c.signed_at IS NOT NULL, c.position, c.signed_at"
)

# The new revision and the assessment's bump, and the contributions as they were before it (a
# statement's own writes are invisible to it): the new author is added as a row of the union.
_WRITE_REVISION = (
    "WITH bumped AS (UPDATE assessment SET revision = $2, updated_at = $3 WHERE id = $1),"  # noqa: S608
    " added AS (INSERT INTO assessment_revision"
    " (id, assessment_id, revision, kind, content, amendment_reason, author_id, created_at)"
    " VALUES ($4, $1, $2, $5, $6, $7, $8, $9)) "
    + _CONTRIBUTIONS.format(extra=" UNION ALL SELECT $8, $2, NULL, NULL, NULL")
)

_READ_CONTRIBUTIONS = _CONTRIBUTIONS.format(extra="")


def _contributions(rows: list[asyncpg.Record]) -> Contributions:
    found = Contributions(authors=[], signatures=[])
    for user_id, name, role, organisation_code, revision, signed_role, signed_at in rows:
        person = Person(user_id, name, role, organisation_code)
        if signed_at is None:
            found.authors.append(person)
        else:
            found.signatures.append(Signed(revision, signed_role, signed_at, person))
    return found


async def lock_for_write(
    session: AsyncSession, incident_id: uuid.UUID, subject_id: uuid.UUID, organisation_code: str
) -> WriteTarget | None:
    """None when the incident is not the organisation's, or the subject or assessment is missing."""
    connection = await driver_connection(session)
    row = await connection.fetchrow(_LOCK_FOR_WRITE, incident_id, subject_id, organisation_code)
    return None if row is None else WriteTarget(*row)


async def contributions(session: AsyncSession, assessment_id: uuid.UUID) -> Contributions:
    connection = await driver_connection(session)
    return _contributions(await connection.fetch(_READ_CONTRIBUTIONS, assessment_id))


async def write_revision(
    session: AsyncSession,
    assessment_id: uuid.UUID,
    *,
    revision: int,
    kind: RevisionKind,
    content: AssessmentContent,
    amendment_reason: str | None,
    author_id: uuid.UUID,
) -> tuple[datetime, Contributions]:
    """Add the revision and make it the assessment's current one. Returns when, and everyone who
    contributed, its author included. The revision is never read back through the ORM here."""
    connection = await driver_connection(session)
    now = utcnow()
    rows = await connection.fetch(
        _WRITE_REVISION,
        assessment_id,
        revision,
        now,
        uuid.uuid4(),
        kind.value,
        content.model_dump_json(),
        amendment_reason,
        author_id,
        now,
    )
    # The ORM may hold the assessment (a caller that loaded it first): keep it true to the row.
    identity_map = session.sync_session.identity_map
    if identity_map:
        key = _ASSESSMENT.identity_key_from_primary_key((assessment_id,))
        loaded = identity_map.get(key)
        if loaded is not None:
            set_committed_value(loaded, "revision", revision)
            set_committed_value(loaded, "updated_at", now)
    return now, _contributions(rows)
