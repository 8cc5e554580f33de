"""The organisation table follows the partnership file, and never loses a row."""

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.organisation.repository import sync_organisations
from models import Organisation, OrganisationBase, OrganisationKind


async def _rows(session: AsyncSession) -> dict[str, Organisation]:
    return {org.code: org for org in (await session.exec(select(Organisation))).all()}


async def test_sync_adds_updates_and_deactivates(connection: AsyncConnection) -> None:
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        police = OrganisationBase(
            code="TPF01", name="Test Police", kind=OrganisationKind.police_force
        )
        trust = OrganisationBase(code="TMH01", name="Test Trust", kind=OrganisationKind.nhs_trust)
        await sync_organisations(session, [police, trust])
        first = await _rows(session)
        assert first["TPF01"].active
        assert first["TMH01"].active
        created_at = first["TMH01"].created_at
        trust_id = first["TMH01"].id

        renamed = OrganisationBase(
            code="TMH01", name="Renamed Trust", kind=OrganisationKind.nhs_trust
        )
        await sync_organisations(session, [renamed])
        session.expire_all()
        second = await _rows(session)
        assert second["TMH01"].name == "Renamed Trust"
        assert second["TMH01"].id == trust_id
        assert second["TMH01"].created_at == created_at
        assert not second["TPF01"].active  # left the partnership, kept for the record

        await sync_organisations(session, [police, renamed])
        session.expire_all()
        assert (await _rows(session))["TPF01"].active


async def test_start_up_syncs_the_demo_partnership(
    client: object, connection: AsyncConnection
) -> None:
    async with AsyncSession(bind=connection) as session:
        rows = await _rows(session)
    assert {"NSP", "RQI", "Y05868"} <= {code for code, org in rows.items() if org.active}
