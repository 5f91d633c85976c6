"""Politeness shared by every request of a scrape: a token bucket, one retry policy, counters.

Tutorial step "scraping TMDB": the tutorial called ``tmdbsimple`` in a loop and put a
fixed ``time.sleep`` between calls, which is both slow (one request at a time, and the
sleep is paid on top of the latency) and not a real limit (nothing stops two loops from
running at once). Here every request, from any thread, first takes a token from one
:class:`TokenBucket` that refills at ``rate`` tokens per second and holds at most
``capacity``. Many threads may have requests in flight, so throughput approaches ``rate``
even when each response is slow, and never exceeds it (beyond the initial ``capacity``
burst).

The bucket is a reservation scheduler: a caller takes its token immediately (the balance
may go negative) and then sleeps until its reservation is due, outside the lock. Callers
are therefore served in arrival order and nobody spins. ``pause`` lets a server's
``Retry-After`` hold back every thread, not only the one that got the 429.

Retries are urllib3's :class:`~urllib3.util.Retry` (:func:`retry_policy`: 408, 429 and
5xx, connection errors and timeouts; ``Retry-After`` honoured up to a cap; exponential
backoff with jitter otherwise). :class:`PoliteRetry` adds two things to it: each retry
takes a token from the scrape's bucket, and a ``Retry-After`` pauses that bucket, so every
thread of the scrape waits. The TMDB session mounts the policy on its ``HTTPAdapter``; the
httpx poster downloader drives the same object through ``is_retry`` / ``increment`` /
``sleep``.

Every attempt is counted into the :class:`RequestStats` made active for the current
thread with :func:`counting_into` (plain ints, never a URL or a header).

The clock and the sleep function are injectable, so tests run without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from urllib3.exceptions import HTTPError, InvalidHeader, NewConnectionError, ResponseError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry

# Statuses worth another try: request timeout, throttled, and the server-side failures.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


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
            self._refill(self._clock())
            self._tokens -= tokens
            self.acquired += 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self, tokens: float = 1.0) -> float:
        """Block until ``tokens`` may be spent; returns the time waited (seconds)."""
        wait = self.reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Nobody gets a token for ``seconds`` from now (e.g. a server's Retry-After)."""
        if seconds <= 0:
            return
        with self._lock:
            self._refill(self._clock())
            # A balance of -seconds*rate is repaid exactly `seconds` from now.
            self._tokens = min(self._tokens, -seconds * self.rate)


# ---------------------------------------------------------------------------------------
# request counters
class RequestStats:
    """Thread-safe request counters for one operation (no secrets, plain ints)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {k: int(v) for k, v in sorted(self._counts.items())}


_ACTIVE_STATS: ContextVar[tuple[RequestStats, ...]] = ContextVar("genre_pipeline_request_stats", default=())


@contextmanager
def counting_into(*sinks: RequestStats | None) -> Iterator[None]:
    """Inside the block, requests made by this thread are counted into ``sinks``."""
    token = _ACTIVE_STATS.set(tuple(s for s in sinks if s is not None))
    try:
        yield
    finally:
        _ACTIVE_STATS.reset(token)


def count(key: str) -> None:
    """Add one to ``key`` in every counter active for this thread."""
    for sink in _ACTIVE_STATS.get():
        sink.add(key)


def count_response(status: int) -> None:
    """One attempt that got an HTTP answer with ``status``."""
    count("requests")
    count(f"status_{status}")
    if status == 429:
        count("throttled")


class UnusableBody(HTTPError):
    """The status was fine but the body is not (malformed JSON, a broken image): retried."""


def failure_kind(error: BaseException | None) -> str:
    """The counter name of a failed attempt that got no usable answer."""
    if isinstance(error, UnusableBody):
        return "malformed"
    if isinstance(error, Urllib3Timeout) and not isinstance(error, NewConnectionError):
        return "timeout"
    return "connection"


def describe_failure(error: BaseException | None) -> str:
    """A short text for why the last attempt failed; never a library message that may hold a URL."""
    if isinstance(error, (UnusableBody, ResponseError)):
        return str(error)
    name = type(error).__name__ if error is not None else "no answer"
    return f"{failure_kind(error)} ({name})"


# ---------------------------------------------------------------------------------------
# the retry policy
class PoliteRetry(Retry):
    """urllib3's ``Retry`` whose waits go through a scrape's :class:`TokenBucket`.

    ``increment`` also counts the failed attempt (:func:`count`); ``sleep`` waits as
    urllib3 would (Retry-After, else backoff with jitter), but a Retry-After pauses the
    whole bucket, and every retry then takes its token like any other request.
    """

    def __init__(self, *args: Any, bucket: TokenBucket, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bucket = bucket
        self.sleep_for = sleep

    def new(self, **kw: Any) -> "PoliteRetry":
        kw.setdefault("bucket", self.bucket)
        kw.setdefault("sleep", self.sleep_for)
        return super().new(**kw)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        **kwargs: Any,
    ) -> "PoliteRetry":
        if response is not None:
            count_response(response.status)
        else:
            count("requests")
            count(failure_kind(error))
        return super().increment(method, url, response, error, **kwargs)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:  # neither seconds nor an HTTP date: back off instead
            return None

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        count("retries")
        retry_after = None
        if response is not None and self.respect_retry_after_header:
            retry_after = self.get_retry_after(response)
        if retry_after:
            self.bucket.pause(retry_after)  # every thread of the scrape backs off
        else:
            backoff = self.get_backoff_time()
            if backoff > 0:
                self.sleep_for(backoff)
        self.bucket.acquire()


def retry_policy(
    max_retries: int,
    bucket: TokenBucket,
    *,
    backoff_factor: float,
    backoff_max: float,
    retry_after_max: float,
    sleep: Callable[[float], None] = time.sleep,
) -> PoliteRetry:
    """The one retry policy of every scrape: ``max_retries`` retries of a GET in all.

    Retried: :data:`RETRY_STATUSES`, connection errors, timeouts. A ``Retry-After``
    (seconds or an HTTP date) is honoured up to ``retry_after_max`` seconds; otherwise the
    n-th consecutive retry waits ``backoff_factor * 2**(n-1)`` (the first one none), plus
    up to ``backoff_factor`` of jitter, at most ``backoff_max``.
    """
    return PoliteRetry(
        total=max(0, int(max_retries)), allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=True,
        status_forcelist=RETRY_STATUSES, respect_retry_after_header=True, retry_after_max=int(retry_after_max),
        backoff_factor=backoff_factor, backoff_jitter=backoff_factor, backoff_max=backoff_max,
        bucket=bucket, sleep=sleep,
    )
