"""SQL for crisis plans, their versions and the relationships they were written under. Every
query names the organisation, and row-level security is the second lock: a tenant reads another
organisation's plans only inside `active_plans_of`, the crisis flag lookup's read.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.database import driver_connection
from models import (
    AccessNotification,
    CrisisPlan,
    CrisisPlanStatus,
    CrisisPlanVersion,
    Person,
)
from models.crisis_plan import CrisisPlanRelationship, RelationshipReviewStatus


async def insert_if_none_active(session: AsyncSession, plan: CrisisPlan) -> bool:
    """Insert the plan unless the person already has an active one here; False if they do.

    ON CONFLICT on the partial unique index: a concurrent create waits for the first to commit
    and then inserts nothing, instead of failing with an integrity error.
    """
    statement = (
        insert(CrisisPlan)
        .values(**plan.model_dump())
        .on_conflict_do_nothing(
            index_elements=[col(CrisisPlan.person_id), col(CrisisPlan.organisation_code)],
            # A literal, as in the index: PostgreSQL infers a partial index only from its predicate.
            index_where=text("status = 'active'"),
        )
        .returning(col(CrisisPlan.id))
    )
    return (await session.exec(statement)).first() is not None


async def find_plan(
    session: AsyncSession,
    plan_id: uuid.UUID,
    organisation_code: str,
    *,
    for_update: bool = False,
) -> tuple[CrisisPlan, str] | None:
    """The organisation's plan with the person's NHS number; `for_update` locks the plan row."""
    statement = (
        select(CrisisPlan, col(Person.nhs_number))
        .join(Person, col(Person.id) == col(CrisisPlan.person_id))
        .where(
            col(CrisisPlan.id) == plan_id, col(CrisisPlan.organisation_code) == organisation_code
        )
    )
    if for_update:
        # Only the plan is locked; the person row is shared by every record about them.
        statement = statement.with_for_update(of=CrisisPlan)
    row = (await session.exec(statement)).one_or_none()
    return (row[0], row[1]) if row is not None else None


async def find_person(session: AsyncSession, nhs_number: str) -> Person | None:
    """The person, if anyone has recorded them; a search never creates one."""
    statement = select(Person).where(col(Person.nhs_number) == nhs_number)
    return (await session.exec(statement)).one_or_none()


async def plans_for_person(
    session: AsyncSession, person_id: uuid.UUID, organisation_code: str, *, include_withdrawn: bool
) -> list[CrisisPlan]:
    """The organisation's plans for the person: the active one first, then the newest."""
    statement = select(CrisisPlan).where(
        col(CrisisPlan.person_id) == person_id,
        col(CrisisPlan.organisation_code) == organisation_code,
    )
    if not include_withdrawn:
        statement = statement.where(col(CrisisPlan.status) == CrisisPlanStatus.active)
    statement = statement.order_by(
        col(CrisisPlan.status) != CrisisPlanStatus.active,
        col(CrisisPlan.created_at).desc(),
        col(CrisisPlan.id).desc(),
    )
    return list((await session.exec(statement)).all())


@dataclass(frozen=True)
class LocalPlan:
    """An active plan written here, as much of it as the lookup reads."""

    organisation_code: str
    content: dict[str, Any]
    review_date: date
    updated_at: datetime


# Lookup mode is transaction-local: row-level security admits other organisations' plans while it
# is `on`, and the lookup reads them only between entering and leaving it, so nothing else in the
# transaction (or, on a reused connection, after it) reads them. The one query here that names no
# organisation: the lookup tells each role only what it may see of a plan, and tells the plan's
# organisation that it looked.
_ENTER_LOOKUP = "SELECT set_config('app.lookup', 'on', true)"
_ACTIVE_PLANS = (
    "SELECT organisation_code, content, review_date, updated_at FROM crisis_plan"
    " WHERE person_id = $1 AND status = $2"
)
_LEAVE_LOOKUP = "SELECT set_config('app.lookup', '', true)"


async def active_plans_of(session: AsyncSession, person_id: uuid.UUID) -> list[LocalPlan]:
    """Every organisation's active plan for the person: the crisis flag lookup's `local` source.
    Only the lookup calls this, and at the scene: the statements go to the driver's connection,
    inside the request's transaction."""
    connection = await driver_connection(session)
    # No try/finally: a failed read aborts the transaction, which ends the setting with it.
    await connection.execute(_ENTER_LOOKUP)
    rows = await connection.fetch(_ACTIVE_PLANS, person_id, CrisisPlanStatus.active.value)
    await connection.execute(_LEAVE_LOOKUP)
    return [
        LocalPlan(
            organisation_code=row["organisation_code"],
            content=row["content"],
            review_date=row["review_date"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ]


_HOLDERS = text("SELECT crisis_plan_holders(:person_id)")


async def other_holders(session: AsyncSession, person_id: uuid.UUID) -> list[str]:
    """The organisations, other than the caller's, holding an active plan for the person: their
    codes only, through a database function, since their plans are not the caller's to read."""
    connection = await session.connection()
    rows = await connection.execute(_HOLDERS, {"person_id": person_id})
    return sorted(code for (code,) in rows.all())


async def list_relationship_reviews(
    session: AsyncSession,
    *,
    organisation_code: str,
    status: RelationshipReviewStatus,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[CrisisPlanRelationship, str]]:
    """Stated relationships in one review status, newest first, each with the NHS number."""
    statement = (
        select(CrisisPlanRelationship, col(Person.nhs_number))
        .join(Person, col(Person.id) == col(CrisisPlanRelationship.person_id))
        .where(
            col(CrisisPlanRelationship.organisation_code) == organisation_code,
            col(CrisisPlanRelationship.review_status) == status,
        )
    )
    if after is not None:
        statement = statement.where(
            tuple_(col(CrisisPlanRelationship.created_at), col(CrisisPlanRelationship.id))
            < tuple_(after[0], after[1])
        )
    statement = statement.order_by(
        col(CrisisPlanRelationship.created_at).desc(), col(CrisisPlanRelationship.id).desc()
    ).limit(limit)
    return [(row, nhs) for row, nhs in (await session.exec(statement)).all()]


async def find_relationship_review(
    session: AsyncSession, review_id: uuid.UUID, organisation_code: str
) -> tuple[CrisisPlanRelationship, str] | None:
    """A stated relationship of the organisation, locked for its review."""
    statement = (
        select(CrisisPlanRelationship, col(Person.nhs_number))
        .join(Person, col(Person.id) == col(CrisisPlanRelationship.person_id))
        .where(
            col(CrisisPlanRelationship.id) == review_id,
            col(CrisisPlanRelationship.organisation_code) == organisation_code,
            col(CrisisPlanRelationship.review_status).is_not(None),
        )
        .with_for_update(of=CrisisPlanRelationship)
    )
    row = (await session.exec(statement)).one_or_none()
    return (row[0], row[1]) if row is not None else None


async def list_plans(
    session: AsyncSession,
    *,
    organisation_code: str,
    status: CrisisPlanStatus | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[CrisisPlan, str]]:
    """Newest first, each with the NHS number; keyset pagination on (created_at, id)."""
    statement = (
        select(CrisisPlan, col(Person.nhs_number))
        .join(Person, col(Person.id) == col(CrisisPlan.person_id))
        .where(col(CrisisPlan.organisation_code) == organisation_code)
    )
    if status is not None:
        statement = statement.where(col(CrisisPlan.status) == status)
    if after is not None:
        statement = statement.where(
            tuple_(col(CrisisPlan.created_at), col(CrisisPlan.id)) < tuple_(after[0], after[1])
        )
    statement = statement.order_by(col(CrisisPlan.created_at).desc(), col(CrisisPlan.id).desc())
    return [(plan, nhs) for plan, nhs in (await session.exec(statement.limit(limit))).all()]


async def versions(session: AsyncSession, plan_id: uuid.UUID) -> list[CrisisPlanVersion]:
    statement = (
        select(CrisisPlanVersion)
        .where(col(CrisisPlanVersion.plan_id) == plan_id)
        .order_by(col(CrisisPlanVersion.revision))
    )
    return list((await session.exec(statement)).all())


async def version(session: AsyncSession, plan_id: uuid.UUID, revision: int) -> CrisisPlanVersion:
    statement = select(CrisisPlanVersion).where(
        col(CrisisPlanVersion.plan_id) == plan_id, col(CrisisPlanVersion.revision) == revision
    )
    return (await session.exec(statement)).one()


async def accesses(
    session: AsyncSession, person_id: uuid.UUID, organisation_code: str, limit: int
) -> list[AccessNotification]:
    """The newest notifications the organisation was sent about lookups of the person's data."""
    statement = (
        select(AccessNotification)
        .where(
            col(AccessNotification.organisation_code) == organisation_code,
            col(AccessNotification.person_id) == person_id,
            col(AccessNotification.access_kind) == "lookup",
        )
        .order_by(col(AccessNotification.created_at).desc(), col(AccessNotification.id).desc())
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def add(session: AsyncSession, *rows: SQLModel) -> None:
    session.add_all(rows)
    await session.flush()
