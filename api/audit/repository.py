"""Writing audit events: in the request's transaction, or on their own for refusals."""

import logging
import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api.log import request_id_var
from auth.principal import Principal
from models import AuditAction, AuditEvent, AuditOutcome

logger = logging.getLogger(__name__)


def audit_event(
    action: AuditAction,
    outcome: AuditOutcome,
    *,
    reason: str | None = None,
    actor_user_id: uuid.UUID | None = None,
    actor_role: str | None = None,
    actor_organisation_code: str | None = None,
    purpose: str | None = None,
    incident_id: uuid.UUID | None = None,
    token_jti: uuid.UUID | None = None,
    route: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent(
        action=action.value,
        outcome=outcome.value,
        reason=reason,
        actor_user_id=actor_user_id,
        actor_role=actor_role,
        actor_organisation_code=actor_organisation_code,
        purpose=purpose,
        incident_id=incident_id,
        token_jti=token_jti,
        route=route,
        request_id=request_id_var.get(),
        details=details or {},
    )


def principal_event(
    action: AuditAction,
    principal: Principal,
    incident_id: uuid.UUID | None,
    details: dict[str, Any] | None = None,
    *,
    outcome: AuditOutcome = AuditOutcome.success,
    reason: str | None = None,
    route: str | None = None,
) -> AuditEvent:
    """An event by an authenticated principal, about one incident or (None) about none."""
    return audit_event(
        action,
        outcome,
        reason=reason,
        actor_user_id=principal.user_id,
        actor_role=principal.role.value,
        actor_organisation_code=principal.organisation_code,
        purpose=principal.purpose,
        incident_id=incident_id,
        token_jti=principal.token_jti,
        route=route,
        details=details,
    )


async def record(session: AsyncSession, event: AuditEvent) -> None:
    """Part of the caller's transaction: the event commits or rolls back with what it describes.

    A plain insert: an event is never read back or changed, so the unit of work has nothing to do."""
    await session.exec(insert(AuditEvent).values(event.model_dump()))


async def record_refusal(sessionmaker: async_sessionmaker[AsyncSession], event: AuditEvent) -> None:
    """A refusal in its own transaction: the request's is rolled back, the refusal must remain.

    A refusal discloses nothing, so if the audit cannot be written the request is still refused.
    """
    try:
        async with sessionmaker() as session, session.begin():
            await record(session, event)
    except Exception as exc:
        logger.error(
            "audit.refusal_not_written",
            extra={
                "fields": {
                    "action": event.action,
                    "reason": event.reason,
                    "error_type": type(exc).__name__,
                }
            },
        )
