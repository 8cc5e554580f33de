"""Witnessing a partner organisation's audit log: fetch its checkpoint, verify the signature with
the key the partnership agreed, prove it consistent with the last checkpoint seen, then keep and
cosign it. A log that shrank or forked is a conflict: recorded in our own log, never cosigned.

No organisation's database can then rewrite what the others were told: a rewritten log cannot be
consistent with a checkpoint a witness already holds.
"""

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from api.audit import repository
from api.audit.merkle import verify_consistency
from api.audit.note import (
    MAX_NOTE_BYTES,
    NoteError,
    Signer,
    Verifier,
    cosign,
    parse_note,
    verify_note,
)
from api.audit.repository import audit_event
from models import AuditAction, AuditOutcome

CHECKPOINT_PATH = "/v1/audit/checkpoint"
CONSISTENCY_PATH = "/v1/audit/consistency"
MAX_PROOF_HASHES = 128


class WitnessUnavailable(Exception):
    """The partner's log could not be read, or answered with something that is not a log's."""


@dataclass(frozen=True)
class Witnessed:
    origin: str
    tree_size: int
    previous_size: int | None
    # The checkpoint with our cosignature; None when there was a conflict.
    cosigned: str | None
    conflict: str | None


async def _get(http: httpx.AsyncClient, url: str, params: dict[str, int] | None = None) -> str:
    try:
        response = await http.get(url, params=params)
    except httpx.HTTPError as exc:
        raise WitnessUnavailable(f"{url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise WitnessUnavailable(f"{url}: HTTP {response.status_code}")
    if len(response.content) > MAX_NOTE_BYTES:
        raise WitnessUnavailable(f"{url}: the answer is too large")
    return response.text


async def _consistent(
    http: httpx.AsyncClient,
    base_url: str,
    previous: repository.StoredCheckpoint,
    size: int,
    root: bytes,
) -> bool:
    text = await _get(http, base_url + CONSISTENCY_PATH, {"first": previous.size, "second": size})
    try:
        document = json.loads(text)
        path = [base64.b64decode(value, validate=True) for value in document["consistency_path"]]
    except (ValueError, KeyError, TypeError):
        raise WitnessUnavailable("the consistency proof is not one") from None
    if len(path) > MAX_PROOF_HASHES or any(len(value) != 32 for value in path):
        return False
    return verify_consistency(previous.size, size, previous.root, root, path)


async def witness(
    connection: AsyncConnection,
    http: httpx.AsyncClient,
    base_url: str,
    partner: Verifier,
    cosigner: Signer,
    now: datetime | None = None,
) -> Witnessed:
    """Witness the partner's log at `base_url` once, in the caller's transaction (as the owner):
    the checkpoint kept and cosigned, or the conflict recorded as an event of our own log."""
    base_url = base_url.rstrip("/")
    try:
        note = parse_note(await _get(http, base_url + CHECKPOINT_PATH))
        checkpoint = verify_note(note, partner)
    except NoteError as exc:
        raise WitnessUnavailable(f"the checkpoint does not verify: {exc}") from None
    previous = await repository.last_witnessed(connection, checkpoint.origin)
    conflict = None
    if previous is not None:
        if checkpoint.size < previous.size:
            conflict = f"the log shrank from {previous.size} to {checkpoint.size} leaves"
        elif checkpoint.size == previous.size:
            if checkpoint.root != previous.root:
                conflict = f"two different roots were signed for {checkpoint.size} leaves (a fork)"
        elif not await _consistent(http, base_url, previous, checkpoint.size, checkpoint.root):
            conflict = (
                f"the log at {checkpoint.size} leaves does not extend the one witnessed at "
                f"{previous.size} (rewritten or forked)"
            )
    previous_size = previous.size if previous is not None else None
    details: dict[str, object] = {
        "origin": checkpoint.origin,
        "tree_size": checkpoint.size,
        "previous_size": previous_size,
    }
    if conflict is not None:
        await repository.append(
            connection,
            audit_event(
                AuditAction.audit_witness_conflict,
                AuditOutcome.failed,
                reason="log_inconsistent",
                details=details | {"conflict": conflict, "checkpoint": note.render()},
            ),
        )
        return Witnessed(checkpoint.origin, checkpoint.size, previous_size, None, conflict)
    moment = now or datetime.now(UTC)
    cosigned = cosign(note, cosigner, int(moment.timestamp())).render()
    if previous is None or checkpoint.size > previous.size:
        await repository.add_witnessed(
            connection, checkpoint.origin, checkpoint.size, checkpoint.root, cosigned
        )
        await repository.append(
            connection,
            audit_event(AuditAction.audit_witness, AuditOutcome.success, details=details),
        )
    return Witnessed(checkpoint.origin, checkpoint.size, previous_size, cosigned, None)
