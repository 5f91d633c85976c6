"""One writer per home: an advisory ``flock`` on ``<home>/.lock`` that says who holds it.

The holder writes one JSON line into the locked file (its pid, host, what it is — a run id
or a command — and since when), so a second writer can say exactly who is in the way:
``home in use by run RUN_ID, pid PID since TIME``. The kernel drops a ``flock`` when its
process dies, so a lock left by a killed process is simply free again; the stale holder
line it leaves behind is what the next writer reports as "taken over" (and what the
generation store uses to clean up after it). Readers never take the lock.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


class HomeBusy(RuntimeError):
    """Another live process writes this home; the message names it."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a home's writer lock."""

    pid: int
    host: str
    since: str  # ISO timestamp, UTC
    run_id: str | None = None  # a Dagster run, or None for a command such as snapshot export
    command: str = ""

    def describe(self) -> str:
        what = f"run {self.run_id}" if self.run_id else (self.command or "another command")
        return f"{what}, pid {self.pid} since {self.since}"

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(pid=int(data["pid"]), host=str(data["host"]), since=str(data["since"]),
                       run_id=data.get("run_id"), command=str(data.get("command", "")))
        except (ValueError, KeyError, TypeError):
            return None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def read_holder(lock_path: Path) -> Holder | None:
    """The holder line in the lock file (current or stale), or ``None``."""
    try:
        return Holder.parse(lock_path.read_text(encoding="utf-8"))
    except OSError:
        return None


class HomeLock:
    """The writer lock of one home. ``acquire`` / ``release`` or use it as a context manager.

    ``timeout``: seconds to wait for a busy lock (0: fail at once). ``clock`` and ``sleep``
    are injectable for tests.
    """

    def __init__(self, lock_path: Path, *, run_id: str | None = None, command: str = "", timeout: float = 0.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 poll: float = 0.2):
        self.path = Path(lock_path)
        self.run_id = run_id
        self.command = command
        self.timeout = float(timeout)
        self._clock = clock
        self._sleep = sleep
        self._poll = poll
        self._fd: int | None = None
        self.previous: Holder | None = None  # the stale holder this lock took over, if any

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> HomeLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = self._clock() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self._clock() >= deadline:
                    holder = read_holder(self.path)
                    os.close(fd)
                    who = holder.describe() if holder else "another process"
                    raise HomeBusy(f"home {self.path.parent} in use by {who}") from None
                self._sleep(self._poll)
        self.previous = read_holder(self.path)
        me = Holder(pid=os.getpid(), host=socket.gethostname(), since=_now(), run_id=self.run_id, command=self.command)
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(asdict(me)) + "\n").encode("utf-8"), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # no holder line: nobody to report as stale
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HomeLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def busy_holder(lock_path: Path) -> Holder | None:
    """The live holder of the lock, or ``None`` when it looks free (never blocks, never takes it).

    A pre-check for commands that want to fail before doing any work; ``HomeLock.acquire``
    stays the authority (the kernel's ``flock``).
    """
    holder = read_holder(lock_path)
    if holder is None or holder.host != socket.gethostname():
        return holder
    return holder if process_alive(holder.pid) else None
