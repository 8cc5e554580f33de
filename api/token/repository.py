"""SQL for users, issued and revoked tokens: the per-request check is one indexed query."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, DateTime, literal, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.database import driver_connection
from auth.identity import Identity
from models import APPLICATION_ROLE, IssuedToken, RevokedToken, UserAccount, utcnow


@dataclass(frozen=True)
class TokenState:
    active: bool
    display_name: str
    revoked: bool


# Runs on every authenticated request, so it does three things in one round trip: switches the
# transaction to the application's role and the caller's organisation (row-level security), and
# reads the user's state and the token's revocation. Sent on the driver's connection, inside the
# request's transaction: the ORM's statement machinery cost more than the statement itself here
# (bench/token_verify.py); both lookups are primary-key probes.
_USER_AND_REVOCATION = (
    "SELECT set_config('role', $4, true) AS role,"
    " set_config('app.org', $3, true) AS org,"
    " user_account.active, user_account.display_name,"
    " EXISTS (SELECT 1 FROM revoked_token WHERE revoked_token.jti = $2) AS revoked"
    " FROM user_account WHERE user_account.id = $1"
)

_ENTER_TENANT = text("SELECT set_config('role', :role, true), set_config('app.org', :org, true)")


async def token_state(
    session: AsyncSession, *, user_id: uuid.UUID, jti: uuid.UUID, organisation_code: str
) -> TokenState | None:
    """Whether the user is active and the token unrevoked; enters the caller's tenant."""
    connection = await driver_connection(session)
    row = await connection.fetchrow(
        _USER_AND_REVOCATION, user_id, jti, organisation_code, APPLICATION_ROLE
    )
    if row is None:
        return None
    return TokenState(
        active=row["active"], display_name=row["display_name"], revoked=row["revoked"]
    )


async def enter_tenant(session: AsyncSession, organisation_code: str) -> None:
    """The rest of this transaction runs as the application's role, seeing this organisation's rows."""
    connection = await session.connection()
    await connection.execute(_ENTER_TENANT, {"org": organisation_code, "role": APPLICATION_ROLE})


async def upsert_user(session: AsyncSession, identity: Identity) -> UserAccount:
    """The user's row, created on first exchange and refreshed from each identity token."""
    now = utcnow()
    statement = (
        insert(UserAccount)
        .values(
            id=uuid.uuid4(),
            issuer=identity.issuer,
            subject=identity.subject,
            display_name=identity.display_name,
            role=identity.role.value,
            organisation_code=identity.organisation_code,
            active=True,
            first_seen_at=now,
            last_seen_at=now,
        )
        .on_conflict_do_update(
            constraint="uq_user_account_issuer_subject",
            set_={
                "display_name": identity.display_name,
                "role": identity.role.value,
                "organisation_code": identity.organisation_code,
                "last_seen_at": now,
            },
        )
        .returning(UserAccount)
    )
    user: UserAccount = (await session.exec(statement)).scalar_one()
    return user


async def record_issued(session: AsyncSession, token: IssuedToken) -> None:
    session.add(token)
    await session.flush()


async def revoke(
    session: AsyncSession, *, jti: uuid.UUID, expires_at: datetime, reason: str
) -> None:
    await session.exec(
        insert(RevokedToken)
        .values(jti=jti, reason=reason, revoked_at=utcnow(), expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[col(RevokedToken.jti)])
    )


async def revoke_incident_tokens(session: AsyncSession, incident_id: uuid.UUID) -> int:
    """Revoke every unexpired token bound to the incident; returns how many."""
    return await revoke_live_tokens(
        session, col(IssuedToken.incident_id) == incident_id, reason="incident_closed"
    )


async def revoke_live_tokens(
    session: AsyncSession, issued: ColumnElement[bool], *, reason: str
) -> int:
    """Revoke every unexpired issued token matching `issued`; returns how many."""
    now = utcnow()
    live = select(
        col(IssuedToken.jti),
        literal(reason),
        literal(now, DateTime(timezone=True)),
        col(IssuedToken.expires_at),
    ).where(issued, col(IssuedToken.expires_at) > now)
    result = await session.exec(
        insert(RevokedToken)
        .from_select(["jti", "reason", "revoked_at", "expires_at"], live)
        .on_conflict_do_nothing(index_elements=[col(RevokedToken.jti)])
        .returning(col(RevokedToken.jti))
    )
    return len(result.all())


async def set_user_active(
    session: AsyncSession, *, issuer: str, subject: str, active: bool
) -> bool:
    """Activate or deactivate a user; False if no such user has ever exchanged a token."""
    result = await session.exec(
        update(UserAccount)
        .where(col(UserAccount.issuer) == issuer, col(UserAccount.subject) == subject)
        .values(active=active, deactivated_at=None if active else utcnow())
        .returning(col(UserAccount.id))
    )
    return result.first() is not None


async def find_user(session: AsyncSession, user_id: uuid.UUID) -> UserAccount | None:
    return await session.get(UserAccount, user_id)
