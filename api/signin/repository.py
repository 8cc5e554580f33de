"""SQL for sign-ins under way and the sessions of signed-in pages."""

import uuid
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.token.repository import revoke_live_tokens
from models import BrowserSession, IssuedToken, SignInAttempt, UserAccount, utcnow


async def add_attempt(session: AsyncSession, attempt: SignInAttempt) -> None:
    session.add(attempt)
    await session.flush()


async def take_attempt(session: AsyncSession, secret_hash: str) -> SignInAttempt | None:
    """The attempt for this browser, deleted as it is read: a callback is used once."""
    # Locked first: of two callbacks racing with one cookie, the second finds nothing.
    attempt = await session.get(SignInAttempt, secret_hash, with_for_update=True)
    if attempt is not None:
        await session.delete(attempt)
        await session.flush()
    return attempt


async def add_session(session: AsyncSession, browser_session: BrowserSession) -> None:
    session.add(browser_session)
    await session.flush()


async def live_session(
    session: AsyncSession, secret_hash: str, *, idle_after: datetime, lock: bool = False
) -> BrowserSession | None:
    """The session with this secret if it has not ended, expired or sat idle too long, and its
    user is still active. `lock`: held until the transaction ends, so minting and signing out
    the same session take turns (no token minted as the session ends survives it)."""
    now = utcnow()
    statement = (
        select(BrowserSession)
        .join(UserAccount, col(UserAccount.id) == col(BrowserSession.user_id))
        .where(
            col(BrowserSession.secret_hash) == secret_hash,
            col(BrowserSession.ended_at).is_(None),
            col(BrowserSession.expires_at) > now,
            col(BrowserSession.last_used_at) > idle_after,
            col(UserAccount.active),
        )
    )
    if lock:
        statement = statement.with_for_update(of=BrowserSession)
    result = await session.exec(statement)
    return result.first()


async def attempts_under_way(session: AsyncSession) -> int:
    result = await session.exec(
        select(func.count()).where(col(SignInAttempt.expires_at) > utcnow())
    )
    return int(result.one())


async def touch_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.exec(
        update(BrowserSession)
        .where(col(BrowserSession.id) == session_id)
        .values(last_used_at=utcnow())
    )


async def end_session(session: AsyncSession, session_id: uuid.UUID) -> int:
    """End the session and revoke every unexpired token minted for it; returns how many."""
    await session.exec(
        update(BrowserSession).where(col(BrowserSession.id) == session_id).values(ended_at=utcnow())
    )
    return await revoke_live_tokens(
        session, col(IssuedToken.browser_session_id) == session_id, reason="signed_out"
    )


async def delete_expired(session: AsyncSession, *, before: datetime) -> int:
    """Forget sign-ins never completed and sessions over before `before`."""
    attempts = await session.exec(
        delete(SignInAttempt)
        .where(col(SignInAttempt.expires_at) < utcnow())
        .returning(col(SignInAttempt.secret_hash))
    )
    sessions = await session.exec(
        delete(BrowserSession)
        .where((col(BrowserSession.expires_at) < before) | (col(BrowserSession.ended_at) < before))
        .returning(col(BrowserSession.id))
    )
    return len(attempts.all()) + len(sessions.all())
