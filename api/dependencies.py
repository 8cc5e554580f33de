"""Typed dependencies shared by routers."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from api.resources import Resources, get_resources


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction. Services flush; this commits, or rolls back on any error."""
    async with get_resources(request).database.sessionmaker() as session, session.begin():
        yield session


ResourcesDep = Annotated[Resources, Depends(get_resources)]

# scope="function": the commit runs before the response is sent, so a failed commit is a 500,
# never a 200 for a write that did not happen.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
