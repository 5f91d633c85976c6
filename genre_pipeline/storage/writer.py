"""A run's hold on its home: take the writer lock, clean up after dead runs, publish or discard.

:func:`open_run` is called when a run starts writing, :func:`close_run` when it ends; in
between, the run stages its units (:class:`~genre_pipeline.storage.generations.RunStaging`).
Both are re-entrant per process and run id, so several resources of one run may open the
same run without deadlocking on their own lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from genre_pipeline.storage.generations import Generation, GenerationStore, SweepReport
from genre_pipeline.storage.home import Home
from genre_pipeline.storage.lock import HomeLock


@dataclass
class OpenRun:
    """A run that holds its home's writer lock."""

    home: Home
    run_id: str
    lock: HomeLock
    sweep: SweepReport
    users: int = 1
    published: Generation | None = field(default=None)

    @property
    def store(self) -> GenerationStore:
        return GenerationStore(self.home)


_OPEN: dict[tuple[str, str], OpenRun] = {}
_GUARD = threading.Lock()


def open_run(home: Home, run_id: str, timeout: float = 0.0) -> OpenRun:
    """Take ``home``'s writer lock for ``run_id`` (or join it, within this process) and sweep.

    Raises :class:`~genre_pipeline.storage.lock.HomeBusy` naming the holder when another
    live writer has the home for longer than ``timeout`` seconds.
    """
    key = (str(home.root), run_id)
    with _GUARD:
        existing = _OPEN.get(key)
        if existing is not None:
            existing.users += 1
            return existing
        home.ensure()
        lock = HomeLock(home.lock_path, run_id=run_id, timeout=timeout).acquire()
        try:
            report = GenerationStore(home).sweep(live_run_id=run_id)
        except BaseException:
            lock.release()
            raise
        opened = OpenRun(home=home, run_id=run_id, lock=lock, sweep=report)
        _OPEN[key] = opened
        return opened


def close_run(opened: OpenRun, success: bool) -> Generation | None:
    """Publish the run's staging (``success``) or discard it, and release the lock when the
    last user of this run in the process closes it. Returns the new generation, if any."""
    key = (str(opened.home.root), opened.run_id)
    with _GUARD:
        opened.users -= 1
        if opened.users > 0:
            return None
        _OPEN.pop(key, None)
        try:
            if success:
                opened.published = opened.store.publish(opened.run_id)
            else:
                opened.store.discard(opened.run_id)
        finally:
            opened.lock.release()
        return opened.published
