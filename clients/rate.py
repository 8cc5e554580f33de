"""A token bucket per partner: stay under the partner's published rate (PDS: 5 a second)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol


class Limiter(Protocol):
    async def acquire(self, *, deadline: float) -> bool: ...


class RateLimiter:
    """This process's own token bucket."""

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


class RateUnavailable(Exception):
    """The shared rate could not be asked (its store is down); the caller falls back."""


# Reserve a slot: (interval seconds, burst tolerance seconds, longest wait) -> seconds to wait
# before calling, or None when the slot would come later than the longest wait.
Reserve = Callable[[float, float, float], Awaitable[float | None]]


class SharedRateLimiter:
    """A partner's rate held across every worker and replica (GCRA on a shared store).

    Each call reserves its slot in one round trip and then waits, holding nothing, until it
    comes. If the store cannot be asked, this process's own bucket holds the rate instead.
    """

    def __init__(
        self,
        per_second: float,
        reserve: Reserve,
        *,
        burst: float | None = None,
        fallback: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        capacity = burst if burst is not None else max(1.0, per_second)
        self._interval = 1.0 / per_second
        self._tolerance = (capacity - 1) * self._interval
        self._reserve = reserve
        self._fallback = fallback or RateLimiter(per_second, burst=burst, clock=clock)
        self._clock = clock

    async def acquire(self, *, deadline: float) -> bool:
        """Take a slot, waiting for it if it comes before `deadline`; False if it would not."""
        longest = deadline - self._clock()
        if longest < 0:
            return False
        try:
            wait = await self._reserve(self._interval, self._tolerance, longest)
        except RateUnavailable:
            return await self._fallback.acquire(deadline=deadline)
        if wait is None:
            return False
        if wait > 0:
            await asyncio.sleep(wait)
        return True
