"""The assessment and outcome writes that run on the driver's connection: the same answers as the
reads give, the same 404s, and an ORM that still tells the truth about the rows they changed."""

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.assessment import repository as assessments
from api.outcome import repository as outcomes
from models import (
    Assessment,
    AssessmentContent,
    IncidentOutcome,
    OutcomeCode,
    OutcomeRead,
    RevisionKind,
    utcnow,
)
from tests.api.test_assessment import REASON, make_scene
from tests.conftest import Exchanger, bearer
from tests.factories import assessment_content, outcome_payload
from tests.problems import problem, user_id


async def test_a_write_answers_as_the_read_after_it(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    written = []
    for token, tag in ((scene.nurse, '"1"'), (scene.officer, '"2"'), (scene.nurse, '"3"')):
        response = await scene.put(token, tag, assessment_content(decision=f"After {tag}"))
        assert response.status_code == 200, response.text
        read = await scene.client.get(scene.url, headers=bearer(scene.officer))
        assert response.json() == read.json()
        assert response.headers["etag"] == read.headers["etag"]
        written.append(response.json())
    # Each author once, in order of their first revision.
    assert [c["user_id"] for c in written[-1]["contributors"]] == [
        user_id(scene.officer),
        user_id(scene.nurse),
    ]


async def test_an_amendment_answers_as_the_read_after_it(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start(scene.nurse)).status_code == 201
    await scene.lock()
    amended = await scene.put(scene.officer, '"1"', assessment_content(), reason=REASON)
    assert amended.status_code == 200, amended.text
    body = amended.json()
    assert body["status"] == "locked"
    assert body["revision"] == 2
    # The signatures shown are those that locked it, on revision 1.
    assert {s["revision"] for s in body["signatures"]} == {1}
    assert len(body["signatures"]) == 2
    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    assert body == read.json()


async def test_a_write_to_what_is_missing_is_404(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    problem(
        await scene.put(scene.officer, '"1"', assessment_content()), 404, "assessment-not-found"
    )
    problem(
        await scene.put(scene.officer, '"1"', assessment_content(), subject_id=uuid.uuid4()),
        404,
        "subject-not-found",
    )


async def test_the_orm_sees_a_revision_written_beside_it(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    async with (
        AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session,
        session.begin(),
    ):
        statement = select(Assessment).where(col(Assessment.subject_id) == scene.subject_id)
        loaded = (await session.exec(statement)).one()
        updated_at, contributions = await assessments.write_revision(
            session,
            loaded.id,
            revision=2,
            kind=RevisionKind.updated,
            content=AssessmentContent.model_validate(assessment_content()),
            amendment_reason=None,
            author_id=uuid.UUID(user_id(scene.nurse)),
        )
        assert (loaded.revision, loaded.updated_at) == (2, updated_at)
        assert loaded not in session.dirty
        assert [person.user_id for person in contributions.authors] == [
            uuid.UUID(user_id(scene.officer)),
            uuid.UUID(user_id(scene.nurse)),
        ]
        assert (await session.exec(statement)).one().revision == 2


async def test_the_orm_sees_an_outcome_written_beside_it(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    scene = await make_scene(exchanger)
    url = f"{scene.incident_url}/outcome"
    recorded = await scene.client.put(url, json=outcome_payload(), headers=bearer(scene.officer))
    assert recorded.status_code == 201, recorded.text
    async with (
        AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session,
        session.begin(),
    ):
        loaded = await session.get(IncidentOutcome, scene.incident_id)
        assert loaded is not None
        replaced = OutcomeRead.model_construct(
            **OutcomeRead.from_row(loaded).model_dump()
            | {"codes": [OutcomeCode.advice_and_support], "revision": 2, "recorded_at": utcnow()}
        )
        await outcomes.save(session, replaced, new=False)
        assert (loaded.codes, loaded.revision) == (["advice_and_support"], 2)
        assert loaded not in session.dirty
    read = await scene.client.get(url, headers=bearer(scene.officer))
    assert read.json()["codes"] == ["advice_and_support"]
    assert read.headers["etag"] == '"2"'


async def test_the_write_lock_finds_nothing_for_an_organisation_the_incident_does_not_name(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """Owner and named partner trust find the assessment to write; any other organisation finds
    nothing (a 404 at the route), whatever ids it sends."""
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    async with (
        AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session,
        session.begin(),
    ):
        for organisation, found in (("NSP", True), ("RQI", True), ("Y05868", False), ("", False)):
            target = await assessments.lock_for_write(
                session, scene.incident_id, scene.subject_id, organisation
            )
            assert (target is not None) is found, organisation
