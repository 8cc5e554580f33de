"""Readiness: the database answers and its schema is at the head revision this build expects."""

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncEngine

from api.migration import current_revision

logger = logging.getLogger(__name__)


class CheckStatus(StrEnum):
    ok = "ok"
    unreachable = "unreachable"
    schema_behind = "schema_behind"


@dataclass(frozen=True)
class Readiness:
    database: CheckStatus

    @property
    def ready(self) -> bool:
        return self.database == CheckStatus.ok


async def check_readiness(
    engine: AsyncEngine, expected_revision: str, timeout_seconds: float
) -> Readiness:
    try:
        async with asyncio.timeout(timeout_seconds), engine.connect() as connection:
            revision = await current_revision(connection)
    except Exception as exc:  # any failure to answer means not ready
        logger.warning(
            "readiness.database_unreachable", extra={"fields": {"error_type": type(exc).__name__}}
        )
        return Readiness(database=CheckStatus.unreachable)
    if revision != expected_revision:
        return Readiness(database=CheckStatus.schema_behind)
    return Readiness(database=CheckStatus.ok)
