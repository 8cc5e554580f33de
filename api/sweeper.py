"""Deleting what has expired, for the app's lifetime: each sweep at start-up and every interval.

A failed sweep is logged and tried again at the next interval; the app runs on.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

logger = logging.getLogger(__name__)

Sweep = tuple[str, Callable[[], Awaitable[int]]]


async def sweep_periodically(sweeps: Sequence[Sweep], interval: timedelta) -> None:
    """Run each `(name, delete)` in turn, logging `<name>.expired` with how many rows went."""
    while True:
        for name, delete in sweeps:
            try:
                deleted = await delete()
                if deleted:
                    logger.info(f"{name}.expired", extra={"fields": {"deleted": deleted}})
            except Exception as exc:
                logger.error(
                    f"{name}.sweep_failed", extra={"fields": {"error.type": type(exc).__name__}}
                )
        await asyncio.sleep(interval.total_seconds())
