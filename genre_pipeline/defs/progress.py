"""Progress of a long step as log lines: one every few seconds, in the run's logs and the CLI.

The plain code takes a ``progress(done, total)`` callable and knows nothing of Dagster; an
asset passes it :func:`step_progress`, which turns the calls into lines such as
``progress: 120/600 posters (8.1/s, ETA 59s)`` in the step's log (the UI shows them in the
run's logs). The command line follows the run's event log and reads them back with
:func:`parse_progress` to draw a live bar under the step's line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

PREFIX = "progress: "
EVERY_SECONDS = 3.0
_LINE = re.compile(
    r"^progress: (?P<done>\d+)/(?P<total>\d+) (?P<unit>[^\s(]+)"
    r"(?: \((?:(?P<rate>[\d.]+)/s, ETA (?P<eta>[^)]+)|starting)\))?$"
)


@dataclass(frozen=True)
class ProgressReport:
    """How far a step is: ``done`` of ``total`` ``unit``, at ``rate`` per second (``None`` before it is known)."""

    done: int
    total: int
    unit: str
    rate: float | None = None
    eta: str | None = None

    def speed(self) -> str:
        """``8.1/s, ETA 59s``, or ``starting`` before the rate is known."""
        if self.rate is None:
            return "starting"
        return f"{self.rate:.1f}/s, ETA {self.eta}" if self.rate >= 1 else f"{self.rate:.3f}/s, ETA {self.eta}"

    def message(self) -> str:
        return f"{PREFIX}{self.done}/{self.total} {self.unit} ({self.speed()})"


def format_duration(seconds: float) -> str:
    """``59s``, ``4m05s``, ``2h03m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def parse_progress(message: str | None) -> ProgressReport | None:
    """The report in a progress line, or ``None`` for any other message."""
    match = _LINE.match((message or "").strip())
    if match is None:
        return None
    rate = match["rate"]
    return ProgressReport(int(match["done"]), int(match["total"]), match["unit"],
                          float(rate) if rate is not None else None, match["eta"])


class ProgressLog:
    """A ``progress(done, total)`` callable that writes a progress line to ``log`` every ``every`` seconds.

    The first call, the last (``done == total``) and then one call per ``every`` seconds are
    written; the rate counts only what was done since the first call (items found in a store
    at the start do not inflate it). ``clock`` is injectable for tests.
    """

    def __init__(self, log: Callable[[str], None], unit: str, every: float = EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        if not unit or any(c.isspace() for c in unit) or "(" in unit:
            raise ValueError(f"progress unit must be one word, got {unit!r}")
        self.log, self.unit, self.every, self.clock = log, unit, float(every), clock
        self._start: tuple[float, int] | None = None
        self._last_written: float | None = None
        self.last: ProgressReport | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self._start is None:
            self._start = (now, done)
        finished = total > 0 and done >= total
        if self._last_written is not None and not finished and now - self._last_written < self.every:
            return
        if self.last is not None and self.last.done == done and self.last.total == total:
            return
        started_at, started_done = self._start
        elapsed = now - started_at
        rate = (done - started_done) / elapsed if elapsed > 0 and done > started_done else None
        eta = format_duration((total - done) / rate) if rate else None
        self.last = ProgressReport(int(done), int(total), self.unit, rate, eta)
        self._last_written = now
        self.log(self.last.message())


def step_progress(context: dg.AssetExecutionContext, unit: str) -> ProgressLog:
    """Progress lines of ``unit`` (``posters``, ``texts``, ``epochs``) in the step's log."""
    return ProgressLog(context.log.info, unit)
