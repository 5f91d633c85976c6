"""Token bucket and retry policy: exact schedules on a virtual clock, no lost updates across threads."""

from __future__ import annotations

import threading

import pytest
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.response import HTTPResponse

from genre_pipeline.ingestion.ratelimit import (
    RequestStats,
    TokenBucket,
    UnusableBody,
    counting_into,
    describe_failure,
    retry_policy,
)
from genre_pipeline_tests.support.tmdb_fixtures import FakeClock


def test_burst_then_one_token_per_interval():
    clock = FakeClock()
    bucket = TokenBucket(10, capacity=3, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(6)]
    # Three banked tokens go at once; each later caller waits one interval (0.1 s) more
    # than the one before, measured from its own (advancing) clock.
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.1, 0.1])
    assert clock.now == pytest.approx(100.3)


def test_refill_is_capped_at_capacity():
    clock = FakeClock()
    bucket = TokenBucket(5, capacity=2, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.acquire()
    clock.now += 60  # a long idle period banks at most `capacity` tokens
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.2])


def test_reservations_are_exact_across_threads():
    clock = FakeClock(frozen=True)  # nobody advances it, so waits are pure reservations
    waits: list[float] = []
    lock = threading.Lock()
    bucket = TokenBucket(20, capacity=4, clock=clock, sleep=clock.sleep)

    def worker() -> None:
        for _ in range(25):
            wait = bucket.acquire()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(waits) == 200 and bucket.acquired == 200
    # Token k (0-based) is due (k - capacity + 1) / rate seconds from now: no two
    # threads got the same slot and none was skipped.
    expected = [max(0.0, (k - 4 + 1) / 20) for k in range(200)]
    assert sorted(waits) == pytest.approx(expected)


def test_pause_holds_back_every_caller():
    clock = FakeClock()
    bucket = TokenBucket(10, capacity=5, clock=clock, sleep=clock.sleep)
    bucket.pause(2.0)
    assert bucket.acquire() == pytest.approx(2.1)  # the pause, then its own token
    assert bucket.reserve() == pytest.approx(0.1)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="rate must be > 0"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        TokenBucket(5, capacity=0.5)


def response(status: int, **headers: str) -> HTTPResponse:
    return HTTPResponse(body=b"", headers=headers, status=status, preload_content=False)


def policy(clock: FakeClock, max_retries: int = 3):
    bucket = TokenBucket(10, capacity=10, clock=clock, sleep=clock.sleep)
    return retry_policy(max_retries, bucket, backoff_factor=0.5, backoff_max=10, retry_after_max=30, sleep=clock.sleep)


def test_retry_after_pauses_the_bucket_up_to_the_cap_and_counts_the_attempt():
    clock = FakeClock(frozen=True)
    retry = policy(clock)
    stats = RequestStats()
    throttled = response(429, **{"Retry-After": "3600"})
    with counting_into(stats):
        retry = retry.increment("GET", "/x", response=throttled)
        retry.sleep(throttled)
    assert clock.sleeps == pytest.approx([30.1])  # capped at 30 s, then the retry's own token
    assert retry.bucket.reserve() == pytest.approx(30.2)  # every other caller waits too
    assert stats.as_dict() == {"requests": 1, "retries": 1, "status_429": 1, "throttled": 1}


def test_unreadable_retry_after_falls_back_to_backoff():
    clock = FakeClock(frozen=True)
    retry = policy(clock)
    odd = response(503, **{"Retry-After": "soon"})
    for _ in range(3):
        retry = retry.increment("GET", "/x", response=odd)
        retry.sleep(odd)
    # backoff: none for the first retry, then 0.5 * 2**(n-1) plus up to 0.5 of jitter
    first, second = clock.sleeps
    assert 1.0 <= first <= 1.5 and 2.0 <= second <= 2.5


def test_the_policy_gives_up_after_max_retries_and_names_the_last_failure():
    clock = FakeClock()
    retry = policy(clock, max_retries=2)
    stats = RequestStats()
    failures = [UnusableBody("malformed JSON body"), ReadTimeoutError(None, "/x?api_key=secret", "read timed out")]
    with counting_into(stats):
        retry = retry.increment("GET", "/x", error=failures[0])
        retry = retry.increment("GET", "/x", error=failures[1])
        with pytest.raises(MaxRetryError) as caught:
            retry.increment("GET", "/x", response=response(500))
    assert describe_failure(caught.value.reason) == "too many 500 error responses"
    assert [describe_failure(f) for f in failures] == ["malformed JSON body", "timeout (ReadTimeoutError)"]
    assert stats.as_dict() == {"malformed": 1, "requests": 3, "status_500": 1, "timeout": 1}
