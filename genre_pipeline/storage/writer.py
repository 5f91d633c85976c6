"""A run's hold on its home: take the writer lock, clean up after dead runs, publish or discard.

Two ways to hold a home for a run:

* the run itself (:func:`open_run` when it starts writing, :func:`close_run` when it ends),
  for executors that run every step in the run worker; re-entrant per process and run id,
  so several resources of one run may open the same run without deadlocking;
* its launcher (:func:`hold_for_launch`): the process that launches the run takes the lock
  for the run's id before the run starts and publishes when it succeeded, for executors
  that spread steps over other processes or machines; each step checks
  :func:`require_launcher`.

In between, the run stages its units (:class:`~genre_pipeline.storage.generations.RunStaging`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from genre_pipeline.storage.generations import Generation, GenerationStore, SweepReport
from genre_pipeline.storage.home import Home
from genre_pipeline.storage.lock import HomeBusy, HomeLock, read_holder


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


@contextmanager
def hold_for_launch(home: Home, run_id: str, timeout: float = 0.0) -> Iterator[OpenRun]:
    """Hold ``home`` for run ``run_id`` from outside the run; set ``.published`` by calling
    :func:`finish_launch` with the run's outcome before leaving (else the staging is discarded)."""
    home.ensure()
    lock = HomeLock(home.lock_path, run_id=run_id, timeout=timeout).acquire()
    opened = OpenRun(home=home, run_id=run_id, lock=lock, sweep=SweepReport())
    try:
        opened.sweep = GenerationStore(home).sweep(live_run_id=run_id)
        yield opened
    finally:
        if opened.published is None:
            GenerationStore(home).discard(run_id)
        lock.release()


def finish_launch(opened: OpenRun, success: bool) -> Generation | None:
    """Publish (``success``) or discard what the launched run staged; the lock stays held until
    :func:`hold_for_launch` exits."""
    store = GenerationStore(opened.home)
    if success:
        opened.published = store.publish(opened.run_id) or store.current()
    else:
        store.discard(opened.run_id)
    return opened.published


def require_launcher(home: Home, run_id: str) -> None:
    """Raise :class:`HomeBusy` unless the home's writer lock is held for ``run_id`` by its launcher."""
    holder = read_holder(home.lock_path)
    if holder is None or holder.run_id != run_id:
        who = holder.describe() if holder is not None else "nobody"
        raise HomeBusy(f"home {home.root} is not held for run {run_id} (held by {who}): runs with steps in other "
                       "processes are launched by `genre-pipeline run`, which holds the home for them")
