"""A circuit breaker per partner: after repeated failures, stop asking for a while."""

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitBreaker:
    """Closed until `threshold` failures in a row; then open for `reset_seconds`, when one trial
    call is let through (half-open): success closes it, failure opens it again."""

    def __init__(
        self,
        *,
        threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.closed
        if self._clock() - self._opened_at >= self._reset_seconds:
            return BreakerState.half_open
        return BreakerState.open

    def allow(self) -> bool:
        """Whether a call may go ahead now; a half-open breaker lets exactly one through."""
        state = self.state
        if state == BreakerState.closed:
            return True
        if state == BreakerState.half_open and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def release(self) -> None:
        """A call let through ended with neither answer (cancelled at its caller's deadline):
        the breaker stays as it was, and a half-open one lets the next call try."""
        self._trial_running = False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._trial_running = False
        if self._opened_at is not None:
            self._opened_at = self._clock()  # a failed trial opens it for another period
            return
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._clock()
