"""The sealer: committed audit events become leaves of the log's tree, and each new tree head a
signed checkpoint.

Writers never wait for it, nor for one another: each request appends its events in its own
transaction. One sealer runs at a time across workers and replicas (a transaction-level advisory
lock; the others skip their turn). Each run, in one REPEATABLE READ transaction, takes the events
committed since the last run: every event of a transaction at or above the last run's horizon
that is not yet a leaf. The horizon is the oldest transaction still running in the run's snapshot,
so an event that commits late, after events written later than it, is never skipped: it is sealed
by the first run that sees it committed, after them. Leaves are therefore in commit order, to the
resolution of one run.
"""

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.audit import repository
from api.audit.merkle import Frontier, needed_nodes
from api.audit.note import COSIGNATURE_V1, Checkpoint, Signer, Verifier, sign_checkpoint
from auth.keys import CHECKPOINT_USE, COSIGN_USE, KeyFileError, load_log_keys

logger = logging.getLogger(__name__)

# Events integrated per statement; a backlog (the chain's events, at the first run) takes several.
SEAL_BATCH = 5_000
SERIALIZATION_FAILURE = "40001"


@dataclass(frozen=True)
class LogKeys:
    """The log's checkpoint signer (the first checkpoint key), every checkpoint key it has signed
    with (to verify old checkpoints after a rotation), and its witness's cosigning key."""

    signer: Signer
    verifiers: tuple[Verifier, ...]
    cosigner: Signer | None

    @property
    def origin(self) -> str:
        return self.signer.name


def load_log_keys_for(path: Path, origin: str, witness_name: str) -> LogKeys:
    """The log's keys from the signing key file; a file without a checkpoint key is refused."""
    keys = load_log_keys(path)
    checkpoint_keys = [key for key in keys if key.use == CHECKPOINT_USE]
    cosign_keys = [key for key in keys if key.use == COSIGN_USE]
    if not checkpoint_keys:
        raise KeyFileError(
            f"signing key file {path} has no Ed25519 key with use {CHECKPOINT_USE} "
            "to sign the audit log's checkpoints (`triage signing-key --log-keys FILE` adds them)"
        )
    signers = [Signer(origin, key.private_key) for key in checkpoint_keys]
    cosigner = (
        Signer(witness_name, cosign_keys[0].private_key, COSIGNATURE_V1) if cosign_keys else None
    )
    return LogKeys(
        signer=signers[0],
        verifiers=tuple(signer.verifier for signer in signers),
        cosigner=cosigner,
    )


@dataclass(frozen=True)
class SealResult:
    tree_size: int
    sealed: int


async def seal(engine: AsyncEngine, keys: LogKeys, *, batch: int = SEAL_BATCH) -> SealResult | None:
    """One run, in a REPEATABLE READ transaction of its own: integrate what has committed, sign
    the new tree head. None when another sealer holds the turn."""
    try:
        async with engine.connect() as pooled:
            connection = await pooled.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                return await seal_within(connection, keys, batch=batch)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == SERIALIZATION_FAILURE:
            return None  # another sealer committed first; its run sealed these
        raise


async def seal_within(
    connection: AsyncConnection, keys: LogKeys, *, batch: int = SEAL_BATCH
) -> SealResult | None:
    """One run in the caller's transaction, as the schema owner."""
    if not await repository.try_seal_lock(connection):
        return None
    state = await repository.tree_state(connection, for_update=True)
    horizon = await repository.snapshot_horizon(connection)
    loaded = await repository.fetch_nodes(
        connection, needed_nodes(lambda nodes: Frontier.of(nodes, state.size))
    )
    frontier = Frontier.of(lambda level, index: loaded[(level, index)], state.size)
    sealed = 0
    after = (state.xact_horizon, 0)
    while True:
        leaves = await repository.unsealed_events(connection, after, batch)
        if leaves:
            after = (leaves[-1].xact_id, leaves[-1].seq)
        completed = frontier.extend(leaf.leaf for leaf in leaves)
        await repository.add_leaves(connection, frontier.size - len(leaves), leaves, completed)
        sealed += len(leaves)
        if len(leaves) < batch:
            break
    if sealed or await repository.checkpoint(connection, frontier.size) is None:
        note = sign_checkpoint(Checkpoint(keys.origin, frontier.size, frontier.root()), keys.signer)
        await repository.add_checkpoint(connection, frontier.size, frontier.root(), note.render())
    await repository.save_tree_state(connection, frontier.size, max(horizon, state.xact_horizon))
    return SealResult(tree_size=frontier.size, sealed=sealed)


async def seal_periodically(engine: AsyncEngine, keys: LogKeys, delay_seconds: float) -> None:
    """Seal twice per `delay_seconds`: an event is sealed within it of its commit, as long as a
    run takes less than half of it."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            result = await seal(engine, keys)
            if result is not None and result.sealed:
                logger.debug(
                    "audit.sealed",
                    extra={"fields": {"events": result.sealed, "tree_size": result.tree_size}},
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("audit.seal_failed", extra={"fields": {"error_type": type(exc).__name__}})
        # The next run starts half the delay after this one started, however long this one took.
        await asyncio.sleep(max(0.0, started + delay_seconds / 2 - loop.time()))
