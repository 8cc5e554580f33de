"""`Idempotency-Key` for POSTs: the first response is stored in the request's own transaction.

A retry with the same key and body gets that response again; with another body, 422. Concurrent
retries queue on the key's unique index until the first commits (then replay) or rolls back (then
one of them goes ahead), so twenty retries of one request write once. Keys last 24 hours.
"""

import hashlib
import re
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import ServiceError
from auth.principal import Principal
from models import IdempotencyRecord, utcnow

HEADER = "idempotency-key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
RETENTION = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("location", "etag")


class InvalidIdempotencyKey(ServiceError):
    status = 400
    type_slug = "invalid-idempotency-key"
    title = "Invalid Idempotency-Key"


class IdempotencyKeyReused(ServiceError):
    status = 422
    type_slug = "idempotency-key-reused"
    title = "Idempotency-Key reused"


class IdempotencyInProgress(ServiceError):
    status = 409
    type_slug = "idempotency-in-progress"
    title = "Request in progress"


class IdempotentReplay(Exception):
    """A control-flow signal rendered as the stored response. It carries plain copies: the
    session is rolled back, and its rows expired, before the handler runs."""

    def __init__(self, status_code: int, body: Any, headers: dict[str, str]) -> None:
        super().__init__("replay")
        self.status_code = status_code
        self.body = body
        self.headers = headers


class IdempotentRequest:
    """Returned by `claim`; `respond` builds the response and stores it with the key."""

    def __init__(self, session: AsyncSession, record: IdempotencyRecord | None) -> None:
        self._session = session
        self._record = record

    def respond(
        self, status_code: int, body: BaseModel, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        payload: Any = jsonable_encoder(body)
        response = JSONResponse(payload, status_code=status_code, headers=headers)
        if self._record is not None:
            self._record.status_code = status_code
            self._record.response_body = payload
            self._record.response_headers = {
                name: value
                for name, value in (headers or {}).items()
                if name.lower() in KEPT_HEADERS
            }
            self._session.add(self._record)
        return response


async def claim(session: AsyncSession, request: Request, principal: Principal) -> IdempotentRequest:
    key = request.headers.get(HEADER)
    if key is None:
        return IdempotentRequest(session, None)
    if not KEY_PATTERN.match(key):
        raise InvalidIdempotencyKey("Idempotency-Key must be 1 to 255 visible ASCII characters.")
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(await request.body())
    request_hash = digest.digest()
    route = getattr(request.scope.get("route"), "path", request.url.path)
    now = utcnow()

    insertion = insert(IdempotencyRecord).values(
        user_id=principal.user_id,
        key=key,
        route=route,
        request_hash=request_hash,
        response_headers={},
        created_at=now,
    )
    # A key older than the retention period is taken over as if new.
    statement = insertion.on_conflict_do_update(
        index_elements=[col(IdempotencyRecord.user_id), col(IdempotencyRecord.key)],
        set_={
            "route": insertion.excluded.route,
            "request_hash": insertion.excluded.request_hash,
            "status_code": None,
            "response_body": None,
            "response_headers": {},
            "created_at": insertion.excluded.created_at,
        },
        where=col(IdempotencyRecord.created_at) < now - RETENTION,
    ).returning(col(IdempotencyRecord.key))
    claimed = (await session.exec(statement)).first()
    record = (
        await session.exec(
            select(IdempotencyRecord).where(
                col(IdempotencyRecord.user_id) == principal.user_id,
                col(IdempotencyRecord.key) == key,
            )
        )
    ).one()
    if claimed is not None:
        return IdempotentRequest(session, record)
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
    if record.status_code is None:
        raise IdempotencyInProgress("A request with this Idempotency-Key has not finished.")
    raise IdempotentReplay(record.status_code, record.response_body, dict(record.response_headers))


async def replay_response(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: the stored response, marked as a replay."""
    assert isinstance(exc, IdempotentReplay)
    headers = exc.headers | {REPLAYED_HEADER: "true"}
    return JSONResponse(exc.body, status_code=exc.status_code, headers=headers)
