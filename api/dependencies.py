"""Typed dependencies shared by routers."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import write_refusals
from api.resources import Resources, get_resources


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction. Services flush; this commits, or rolls back on any error.

    Then the refusals the request kept (`record_refusal`) are written, in a transaction of their own.
    """
    async with get_resources(request).database.sessionmaker() as session:
        try:
            async with session.begin():
                yield session
        finally:
            await write_refusals(session)


async def resources_dependency(request: Request) -> Resources:
    """Async on purpose: FastAPI runs a plain `def` dependency in a worker thread, per request."""
    return get_resources(request)


ResourcesDep = Annotated[Resources, Depends(resources_dependency)]

# scope="function": the commit runs before the response is sent, so a failed commit is a 500,
# never a 200 for a write that did not happen.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
