"""Migration 0008 on a database holding NHS numbers in other digits: the upgrade stops, saying how
many rows and never which numbers; once they are dealt with, the database refuses such numbers."""

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api import migration
from api.settings import async_database_url
from models import utcnow
from tests.database import scratch_database

BEFORE = "0007_reporting"
AFTER = "0008_nhs_number_ascii"
CONSTRAINT = "ck_person_nhs_number_ascii_digits"
ASCII = "9000000009"
# Each passes Modulus 11 read as digits, and each is ten characters, as the column allows.
NOT_ASCII = {
    "full-width": "\uff19\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff13\uff13",
    "devanagari": "\u096f\u0966\u0966\u0966\u0966\u0966\u0966\u0966\u0968\u096b",
    "no-break-space": "9000\u00a000033",
}


async def insert_person(engine: AsyncEngine, number: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO person (id, nhs_number, created_at) VALUES (:id, :number, :at)"),
            {"id": uuid.uuid4(), "number": number, "at": utcnow()},
        )


async def revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await migration.current_revision(connection)


async def test_upgrade_stops_on_numbers_in_other_digits_then_the_database_refuses_them(
    database_server_url: str,
) -> None:
    async with scratch_database(database_server_url, prefix="triage_nhs_mig") as url:
        await migration.upgrade_async(url, BEFORE)
        # As the connecting superuser, as the rows a lax API wrote before this revision.
        engine = create_async_engine(async_database_url(url))
        try:
            for number in (ASCII, *NOT_ASCII.values()):
                await insert_person(engine, number)

            with pytest.raises(DBAPIError) as refused:
                await migration.upgrade_async(url, AFTER)
            message = str(refused.value)
            assert (
                "migration 0008: 3 person row(s) have an NHS number that is not exactly"
                " 10 ASCII digits" in message
            )
            for number in (ASCII, "9000000033", "9000000025", *NOT_ASCII.values()):
                assert number not in message
            assert await revision(engine) == BEFORE

            async with engine.begin() as connection:
                await connection.execute(
                    text("DELETE FROM person WHERE nhs_number <> :ascii"), {"ascii": ASCII}
                )
            await migration.upgrade_async(url, AFTER)
            assert await revision(engine) == AFTER

            for number in NOT_ASCII.values():
                with pytest.raises(IntegrityError, match=CONSTRAINT):
                    await insert_person(engine, number)
            await insert_person(engine, "9434765919")

            await asyncio.to_thread(migration.downgrade, url, BEFORE)
            # The downgrade really drops the constraint.
            await insert_person(engine, NOT_ASCII["full-width"])
        finally:
            await engine.dispose()
