"""The demo's synthetic incidents: seeded once into an empty database, enough for every figure of
every grouping of the outcome report, and nothing that could be a real person."""

from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.migration import upgrade_async
from api.partnership import load_partnership
from api.report.repository import ReportQuery, outcome_figures
from api.settings import DEMO_PARTNERSHIP_FILE, async_database_url
from models.report import TOTAL_GROUP, ReportGrouping, ReportViewpoint
from sim.demo_incidents import DEMO_TEXT, seed
from sim.people import PEOPLE
from tests.database import scratch_database

TODAY = date(2026, 11, 20)


async def test_the_demo_seeds_every_grouping_once(database_server_url: str) -> None:
    organisations = load_partnership(DEMO_PARTNERSHIP_FILE).organisations
    async with scratch_database(database_server_url, prefix="triage_demo_seed") as url:
        await upgrade_async(url)
        seeded = await seed(url, organisations, today=TODAY)
        assert seeded >= 200
        # A second start, or a third, adds nothing.
        assert await seed(url, organisations, today=TODAY + timedelta(days=1)) == 0

        engine = create_async_engine(async_database_url(url))
        try:
            async with AsyncSession(engine) as session, session.begin():
                connection = await session.connection()
                count = await connection.execute(text("SELECT count(*) FROM incident"))
                assert count.scalar_one() == seeded
                # Only the simulator's synthetic people: sandbox numbers, none of them real.
                numbers = await connection.execute(
                    text(
                        "SELECT DISTINCT person.nhs_number FROM incident_subject"
                        " JOIN person ON person.id = incident_subject.person_id"
                    )
                )
                used = set(numbers.scalars())
                assert used
                assert used <= {person.nhs_number for person in PEOPLE}
                texts = await connection.execute(
                    text("SELECT DISTINCT attendance_reason_text FROM incident")
                )
                assert list(texts.scalars()) == [DEMO_TEXT]

                await connection.execute(text("SELECT set_config('app.org', 'NSP', true)"))
                for grouping in ReportGrouping:
                    rows = await outcome_figures(
                        session,
                        ReportQuery(
                            organisation_code="NSP",
                            viewpoint=ReportViewpoint.force,
                            period_start=TODAY - timedelta(days=120),
                            period_end=TODAY,
                            grouping=grouping,
                        ),
                    )
                    figures = [row._mapping for row in rows]
                    groups = [row for row in figures if row["group"] != TOTAL_GROUP]
                    total = next(row for row in figures if row["group"] == TOTAL_GROUP)
                    assert total["incidents"] == seeded, grouping
                    assert len(groups) >= 3, grouping
                    # Every chart of the dashboard has something to draw.
                    for figure in (
                        "with_outcome",
                        "s136_detentions",
                        "s136_considered_not_used",
                        "time_at_scene_count",
                        "call_to_arrival_count",
                        "repeat_contacts",
                        "assessed",
                        "crisis_flag_consulted",
                        "crisis_flag_changed_decision",
                        "lookups",
                    ):
                        assert total[figure] > 0, (grouping, figure)
                    assert sum(group["lookups"] > 0 for group in groups) >= 3, grouping
        finally:
            await engine.dispose()
