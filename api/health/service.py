"""Readiness: the database answers and its schema is at the head revision this build expects.

A partner whose breaker is not closed leaves the service ready but degraded: lookups still answer,
with that source marked unavailable, so taking the instance out of service would help no one.
"""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncEngine

from api.migration import current_revision
from clients.breaker import BreakerState

logger = logging.getLogger(__name__)


class CheckStatus(StrEnum):
    ok = "ok"
    unreachable = "unreachable"
    schema_behind = "schema_behind"


class ReadinessStatus(StrEnum):
    ready = "ready"
    degraded = "degraded"
    not_ready = "not_ready"


@dataclass(frozen=True)
class Readiness:
    database: CheckStatus
    partners: Mapping[str, BreakerState]

    @property
    def status(self) -> ReadinessStatus:
        if self.database != CheckStatus.ok:
            return ReadinessStatus.not_ready
        if any(state != BreakerState.closed for state in self.partners.values()):
            return ReadinessStatus.degraded
        return ReadinessStatus.ready


async def check_readiness(
    engine: AsyncEngine,
    expected_revision: str,
    timeout_seconds: float,
    partners: Mapping[str, BreakerState],
) -> Readiness:
    try:
        async with asyncio.timeout(timeout_seconds), engine.connect() as connection:
            revision = await current_revision(connection)
    except Exception as exc:  # any failure to answer means not ready
        logger.warning(
            "readiness.database_unreachable", extra={"fields": {"error.type": type(exc).__name__}}
        )
        return Readiness(database=CheckStatus.unreachable, partners=partners)
    if revision != expected_revision:
        return Readiness(database=CheckStatus.schema_behind, partners=partners)
    return Readiness(database=CheckStatus.ok, partners=partners)
