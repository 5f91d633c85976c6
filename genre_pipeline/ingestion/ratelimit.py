"""A thread-safe token bucket: the politeness limit shared by every thread of a scrape.

Tutorial step "scraping TMDB": the tutorial called ``tmdbsimple`` in a loop and put a
fixed ``time.sleep`` between calls, which is both slow (one request at a time, and the
sleep is paid on top of the latency) and not a real limit (nothing stops two loops from
running at once). Here every request, from any thread, first takes a token from one
bucket that refills at ``rate`` tokens per second and holds at most ``capacity``. Many
threads may have requests in flight, so throughput approaches ``rate`` even when each
response is slow, and never exceeds it (beyond the initial ``capacity`` burst).

The bucket is a reservation scheduler: a caller takes its token immediately (the balance
may go negative) and then sleeps until its reservation is due, outside the lock. Callers
are therefore served in arrival order and nobody spins. ``pause`` lets a server's
``Retry-After`` hold back every thread, not only the one that got the 429.

The clock and the sleep function are injectable, so tests run without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` banked; ``acquire`` blocks."""

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate or rate <= 0:
            raise ValueError(f"rate must be > 0 tokens per second, got {rate!r}")
        cap = 1.0 if capacity is None else float(capacity)
        if cap < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity!r}")
        self.rate = float(rate)
        self.capacity = cap
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = cap  # starts full: the first `capacity` requests go at once
        self._last = clock()
        self.acquired = 0
        self.waited_s = 0.0

    def _refill(self, now: float) -> None:
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._last = now

    def reserve(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` now; return how many seconds the caller must wait before using them."""
        if tokens <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= tokens
            self.acquired += 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.waited_s += wait
            return wait

    def acquire(self, tokens: float = 1.0) -> float:
        """Block until ``tokens`` may be spent; returns the time waited (seconds)."""
        wait = self.reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        return wait

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` only if they are available right now (never blocks)."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= tokens:
                self._tokens -= tokens
                self.acquired += 1
                return True
            return False

    def pause(self, seconds: float) -> None:
        """Nobody gets a token for ``seconds`` from now (e.g. a server's Retry-After)."""
        if seconds <= 0:
            return
        with self._lock:
            self._refill(self._clock())
            # A balance of -seconds*rate is repaid exactly `seconds` from now.
            self._tokens = min(self._tokens, -seconds * self.rate)

    @property
    def available(self) -> float:
        """Tokens available now (negative while reservations are outstanding)."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens
