"""Progress lines: written every few seconds with rate and ETA, read back by the command line."""

import pytest

from genre_pipeline.defs.progress import ProgressLog, ProgressReport, format_duration, parse_progress


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def follow(unit: str = "posters", every: float = 3.0):
    clock, lines = Clock(), []
    return ProgressLog(lines.append, unit, every=every, clock=clock), clock, lines


def test_first_call_then_one_line_per_interval_then_the_last():
    progress, clock, lines = follow()
    progress(0, 600)
    for done in range(16, 121, 16):  # 7 calls within the first 3 seconds
        clock.now += 0.4
        progress(done, 600)
    clock.now = 103.0
    progress(120, 600)
    clock.now = 104.0
    progress(600, 600)  # the end is always written, whatever the interval
    progress(600, 600)  # and only once
    assert lines == [
        "progress: 0/600 posters (starting)",
        "progress: 120/600 posters (40.0/s, ETA 12s)",
        "progress: 600/600 posters (150.0/s, ETA 0s)",
    ]


def test_rate_counts_only_work_done_since_the_first_call():
    progress, clock, lines = follow("texts")
    progress(100, 400)  # 100 found in the store: not part of the rate
    clock.now += 5
    progress(150, 400)
    assert lines[-1] == "progress: 150/400 texts (10.0/s, ETA 25s)"
    assert progress.last == ProgressReport(150, 400, "texts", 10.0, "25s")


def test_slow_steps_keep_a_readable_rate():
    progress, clock, lines = follow("epochs", every=0)
    progress(0, 60)
    clock.now += 30
    progress(2, 60)
    assert lines[-1] == "progress: 2/60 epochs (0.067/s, ETA 14m30s)"


def test_lines_read_back_as_the_reports_written():
    progress, clock, lines = follow()
    progress(0, 50)
    clock.now += 4
    progress(20, 50)
    assert [parse_progress(line) for line in lines] == [ProgressReport(0, 50, "posters"),
                                                        ProgressReport(20, 50, "posters", 5.0, "6s")]
    for other in ("IMDb basics not configured", "progress: soon", "", None, "progress: 3/4 posters (fast)"):
        assert parse_progress(other) is None


def test_unit_must_be_one_word():
    with pytest.raises(ValueError, match="progress unit must be one word, got 'poster files'"):
        ProgressLog(print, "poster files")


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0s"), (59.4, "59s"), (60, "1m00s"), (245, "4m05s"),
                                                 (7380, "2h03m"), (-3, "0s")])
def test_durations(seconds, shown):
    assert format_duration(seconds) == shown
