"""SQL for the organisation table."""

import uuid
from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Organisation, OrganisationBase, utcnow


async def sync_organisations(
    session: AsyncSession, organisations: Sequence[OrganisationBase]
) -> None:
    """Make the table match the partnership file: add and update listed ones, deactivate the rest.

    Rows are never deleted: incidents and audit events keep pointing at organisations that left.
    """
    now = utcnow()
    codes = [org.code for org in organisations]
    statement = insert(Organisation).values(
        [
            {
                "code": org.code,
                "name": org.name,
                "kind": org.kind.value,
                "active": True,
                "created_at": now,
                "updated_at": now,
                "id": uuid.uuid4(),
            }
            for org in organisations
        ]
    )
    statement = statement.on_conflict_do_update(
        index_elements=[col(Organisation.code)],
        set_={
            "name": statement.excluded.name,
            "kind": statement.excluded.kind,
            "active": True,
            "updated_at": now,
        },
    )
    await session.exec(statement)
    await session.exec(
        update(Organisation)
        .where(col(Organisation.code).not_in(codes), col(Organisation.active).is_(True))
        .values(active=False, updated_at=now)
    )
