"""Token bucket: exact schedules with an injected clock, and no lost updates across threads."""

from __future__ import annotations

import threading

import pytest

from genre_pipeline.ingestion.ratelimit import TokenBucket


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


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
    assert bucket.available == pytest.approx(2)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]


def test_reservations_are_exact_across_threads():
    clock = FakeClock()  # frozen: nobody advances it, so waits are pure reservations
    waits: list[float] = []
    lock = threading.Lock()
    bucket = TokenBucket(20, capacity=4, clock=clock, sleep=lambda s: None)

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
    first = bucket.acquire()
    assert first >= 2.0
    assert bucket.try_acquire() is False


def test_invalid_arguments():
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(5, capacity=0.5)
