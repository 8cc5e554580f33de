"""`Idempotency-Key` for POSTs: the first response is stored in the request's own transaction.

A retry with the same key and body gets that response again; with another body, 422. Concurrent
retries queue on the key's primary key until the first commits (then replay) or rolls back (then
one of them goes ahead), so twenty retries of one request write once. Keys last 24 hours.

A replay is a disclosure like the first answer, and is treated as one:
- it is claimed inside the route, after the route's `Authorizer` has checked the caller's current
  token: a revoked token, or one bound to another incident, is refused before any replay;
- the key belongs to the user in one organisation (row-level security admits only that
  organisation's rows) and to the token's incident binding (part of the request's hash), so a
  token for another organisation or incident never gets the stored answer;
- it writes an `idempotent.replay` audit event naming the original route and the people in the
  stored response, which is written before the response is sent, or the response is not sent.

Stored responses are deleted by the API itself once the key has expired: `delete_expired` runs
for the app's lifetime (api/sweeper.py, started in the lifespan), every `SWEEP_INTERVAL`, in
bounded batches. A sweep
rather than a delete inside each claim: an organisation that stops sending requests still has its
stored responses deleted on time, and a POST never waits on another's cleanup.
"""

import hashlib
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import find_person, people, principal_event, record_after_rollback
from api.errors import ServiceError
from api.incident.repository import find_subject
from api.token.repository import enter_tenant
from auth.principal import Principal
from models import AuditAction, AuditEvent, IdempotencyRecord, Organisation, utcnow

HEADER = "idempotency-key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
RETENTION = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("location", "etag")
# A record is deleted at most this long after it expires; until then `claim` already treats it
# as gone (a new request takes the key over), so it is never replayed.
SWEEP_INTERVAL = timedelta(minutes=5)
SWEEP_BATCH = 1000


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


def request_digest(method: str, path: str, body: bytes, incident_id: uuid.UUID | None) -> bytes:
    """What makes two requests the same: method, path, body, and the incident the token is
    bound to (a token bound elsewhere asks something else, even with the same words)."""
    digest = hashlib.sha256()
    digest.update(f"{method} {path}\n{incident_id or '-'}\n".encode())
    digest.update(body)
    return digest.digest()


async def claim(session: AsyncSession, request: Request, principal: Principal) -> IdempotentRequest:
    """Called by the route after its `Authorizer`, in the tenant the Authorizer entered."""
    key = request.headers.get(HEADER)
    if key is None:
        return IdempotentRequest(session, None)
    if not KEY_PATTERN.match(key):
        raise InvalidIdempotencyKey("Idempotency-Key must be 1 to 255 visible ASCII characters.")
    request_hash = request_digest(
        request.method, request.url.path, await request.body(), principal.incident_id
    )
    route = getattr(request.scope.get("route"), "path", request.url.path)
    now = utcnow()

    insertion = insert(IdempotencyRecord).values(
        organisation_code=principal.organisation_code,
        user_id=principal.user_id,
        key=key,
        route=route,
        request_hash=request_hash,
        response_headers={},
        created_at=now,
    )
    # A key older than the retention period is taken over as if new.
    statement = insertion.on_conflict_do_update(
        index_elements=[
            col(IdempotencyRecord.organisation_code),
            col(IdempotencyRecord.user_id),
            col(IdempotencyRecord.key),
        ],
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
                col(IdempotencyRecord.organisation_code) == principal.organisation_code,
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
    headers = dict(record.response_headers)
    # The request rolls back as the replay is raised: its event is written after, or nothing is sent.
    record_after_rollback(
        session, await _replay_event(session, request, principal, record, headers)
    )
    raise IdempotentReplay(record.status_code, record.response_body, headers)


def replayed_references(body: Any) -> tuple[str | None, uuid.UUID | None, uuid.UUID | None]:
    """The references a stored response carries to the people in it: (NHS number, incident id,
    subject id), each None when absent or malformed. Ids only ever reach the audit event."""
    if not isinstance(body, dict):
        return None, None, None
    nhs_number = body.get("nhs_number")
    return (
        nhs_number if isinstance(nhs_number, str) else None,
        _uuid(body.get("incident_id")),
        _uuid(body.get("subject_id")),
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


async def _replay_event(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    record: IdempotencyRecord,
    headers: dict[str, str],
) -> AuditEvent:
    nhs_number, body_incident, subject_id = replayed_references(record.response_body)
    incident_id = _uuid(request.path_params.get("incident_id")) or body_incident
    person_ids: list[uuid.UUID | None] = []
    if nhs_number is not None:
        person_ids.append(await find_person(session, nhs_number))
    if incident_id is not None and subject_id is not None:
        subject = await find_subject(session, incident_id, subject_id)
        person_ids.append(subject.person_id if subject is not None else None)
    person_id, about = people(person_ids)
    details: dict[str, Any] = {"status": record.status_code, "stored_at": record.created_at}
    location = next((v for k, v in headers.items() if k.lower() == "location"), None)
    if location is not None:
        details["resource"] = location
    return principal_event(
        AuditAction.idempotent_replay,
        principal,
        incident_id,
        jsonable_encoder(details | about),
        route=record.route,
        person_id=person_id,
    )


async def replay_response(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: the stored response, marked as a replay (its audit event is written)."""
    assert isinstance(exc, IdempotentReplay)
    headers = exc.headers | {REPLAYED_HEADER: "true"}
    return JSONResponse(exc.body, status_code=exc.status_code, headers=headers)


# Expiry: the API deletes stored responses itself, not only `triage purge`.

_DELETE_EXPIRED = text(
    "DELETE FROM idempotency_record WHERE (organisation_code, user_id, key) IN ("
    " SELECT organisation_code, user_id, key FROM idempotency_record"
    " WHERE created_at < :cutoff ORDER BY created_at LIMIT :batch FOR UPDATE SKIP LOCKED)"
)


async def delete_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    batch: int = SWEEP_BATCH,
) -> int:
    """Delete every organisation's expired records; returns how many.

    Each organisation in its own tenant, as the application's role: the sweep passes through
    row-level security like any request. Each batch is a short transaction of its own, and skips
    a row a claim is taking over at that moment."""
    cutoff = (now or utcnow()) - RETENTION
    async with sessionmaker() as session:
        codes = list((await session.exec(select(col(Organisation.code)))).all())
    deleted = 0
    for code in codes:
        while True:
            async with sessionmaker() as session, session.begin():
                await enter_tenant(session, code)
                connection = await session.connection()
                result = await connection.execute(
                    _DELETE_EXPIRED, {"cutoff": cutoff, "batch": batch}
                )
            deleted += result.rowcount
            if result.rowcount < batch:
                break
    return deleted
