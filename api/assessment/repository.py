"""SQL for assessments, their revisions and signatures."""

import uuid

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Assessment, AssessmentRevision, AssessmentSignature, UserAccount


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


async def author_ids(session: AsyncSession, assessment_id: uuid.UUID) -> list[uuid.UUID]:
    """Who wrote revisions, in order of first contribution, without loading any content."""
    statement = (
        select(col(AssessmentRevision.author_id))
        .where(col(AssessmentRevision.assessment_id) == assessment_id)
        .group_by(col(AssessmentRevision.author_id))
        .order_by(func.min(col(AssessmentRevision.revision)))
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
