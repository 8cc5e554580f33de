"""A token bucket per partner: stay under the partner's published rate (PDS: 5 a second)."""

import asyncio
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_second: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_second
        self._capacity = burst if burst is not None else max(1.0, per_second)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    async def acquire(self, *, deadline: float) -> bool:
        """Take a token, waiting for one if it arrives before `deadline`; False if it would not."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                wait = (1 - self._tokens) / self._rate
                if self._clock() + wait > deadline:
                    return False
                await asyncio.sleep(wait)
                self._refill()
            self._tokens -= 1
            return True
