"""SQL for the incident's outcome. The write path runs on the driver's connection: the ORM's
per-statement work cost more than the statements (STYLE rule 17)."""

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from api.database import driver_connection
from models import IncidentOutcome, OutcomeRead

_OUTCOME = inspect(IncidentOutcome)


@dataclass(frozen=True)
class OutcomeState:
    # None when no outcome has been recorded.
    revision: int | None
    # The identified people the incident is about, for the write's audit event.
    person_ids: list[uuid.UUID]


_STATE = (
    "SELECT (SELECT revision FROM incident_outcome WHERE incident_id = $1),"
    " ARRAY(SELECT person_id FROM incident_subject"
    " WHERE incident_id = $1 AND person_id IS NOT NULL)"
)

_INSERT = (
    "INSERT INTO incident_outcome (incident_id, codes, place_of_safety, conveyance,"
    " referral_notes, left_scene_at, handover_at, revision, recorded_by, recorded_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)

_UPDATE = (
    "UPDATE incident_outcome SET codes = $2, place_of_safety = $3, conveyance = $4,"
    " referral_notes = $5, left_scene_at = $6, handover_at = $7, revision = $8,"
    " recorded_by = $9, recorded_at = $10 WHERE incident_id = $1"
)


async def outcome_state(session: AsyncSession, incident_id: uuid.UUID) -> OutcomeState:
    """Read under the incident's lock, which every outcome writer takes first."""
    connection = await driver_connection(session)
    row = await connection.fetchrow(_STATE, incident_id)
    assert row is not None  # a SELECT without FROM always returns its one row
    return OutcomeState(revision=row[0], person_ids=list(row[1]))


async def save(session: AsyncSession, outcome: OutcomeRead, *, new: bool) -> None:
    """Insert (`new`) or replace the outcome row with the values of `outcome`."""
    codes = [code.value for code in outcome.codes]
    place_of_safety = outcome.place_of_safety.value if outcome.place_of_safety else None
    conveyance = outcome.conveyance.value if outcome.conveyance else None
    connection = await driver_connection(session)
    await connection.execute(
        _INSERT if new else _UPDATE,
        outcome.incident_id,
        json.dumps(codes),
        place_of_safety,
        conveyance,
        outcome.referral_notes,
        outcome.left_scene_at,
        outcome.handover_at,
        outcome.revision,
        outcome.recorded_by,
        outcome.recorded_at,
    )
    # The ORM may hold the row (a caller that read it first): keep it true to the table.
    identity_map = session.sync_session.identity_map
    if not identity_map:
        return
    loaded = identity_map.get(_OUTCOME.identity_key_from_primary_key((outcome.incident_id,)))
    if loaded is not None:
        for name, value in (
            ("codes", codes),
            ("place_of_safety", place_of_safety),
            ("conveyance", conveyance),
            ("referral_notes", outcome.referral_notes),
            ("left_scene_at", outcome.left_scene_at),
            ("handover_at", outcome.handover_at),
            ("revision", outcome.revision),
            ("recorded_by", outcome.recorded_by),
            ("recorded_at", outcome.recorded_at),
        ):
            set_committed_value(loaded, name, value)
