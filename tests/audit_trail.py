"""Reading the audit trail back in tests."""

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from models import AuditEvent


async def incident_events(
    connection: AsyncConnection, incident_id: uuid.UUID, action_prefix: str
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """The incident's audit events whose action starts with the prefix, oldest first:
    (action, actor role, details)."""
    # As the connecting superuser, whatever role the last request left the transaction in.
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        select(AuditEvent.action, AuditEvent.actor_role, AuditEvent.details)
        .where(
            col(AuditEvent.incident_id) == incident_id,
            col(AuditEvent.action).startswith(action_prefix),
        )
        .order_by(col(AuditEvent.occurred_at), col(AuditEvent.id))
    )
    return [(row.action, row.actor_role, row.details) for row in rows]


async def events_with(
    connection: AsyncConnection, action_prefix: str, key: str, value: str
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Audit events whose action starts with the prefix and whose details have `key` = `value`,
    oldest first: (action, actor role, details)."""
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        select(AuditEvent.action, AuditEvent.actor_role, AuditEvent.details)
        .where(
            col(AuditEvent.action).startswith(action_prefix),
            col(AuditEvent.details)[key].astext == value,
        )
        .order_by(col(AuditEvent.occurred_at), col(AuditEvent.id))
    )
    return [(row.action, row.actor_role, row.details) for row in rows]
