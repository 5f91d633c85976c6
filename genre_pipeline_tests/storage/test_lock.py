"""One writer per home: the second writer is told who holds it; a dead holder's lock is free."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from genre_pipeline.storage.generations import GenerationStore
from genre_pipeline.storage.home import Home
from genre_pipeline.storage.lock import HomeBusy, HomeLock, busy_holder, read_holder
from genre_pipeline.storage.writer import close_run, open_run

HOLDER = textwrap.dedent(
    """
    import sys, time
    from genre_pipeline.storage.lock import HomeLock
    lock = HomeLock(__import__("pathlib").Path(sys.argv[1]), run_id="run-held-elsewhere").acquire()
    print("locked", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def holder(tmp_path):
    lock_path = tmp_path / "home" / ".lock"
    script = tmp_path / "hold.py"
    script.write_text(HOLDER)
    proc = subprocess.Popen([sys.executable, str(script), str(lock_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc, lock_path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_second_writer_fails_at_once_naming_the_holder(holder):
    proc, lock_path = holder
    with pytest.raises(HomeBusy, match=rf"in use by run run-held-elsewhere, pid {proc.pid} since 20\d\d-"):
        HomeLock(lock_path, command="snapshot export").acquire()
    assert busy_holder(lock_path).pid == proc.pid


def test_second_writer_waits_a_bounded_time(holder):
    _proc, lock_path = holder
    clock = iter(range(100))
    slept: list[float] = []
    lock = HomeLock(lock_path, timeout=5, clock=lambda: float(next(clock)), sleep=slept.append, poll=1.0)
    with pytest.raises(HomeBusy, match="run-held-elsewhere"):
        lock.acquire()
    assert slept == [1.0] * 4  # polled at t = 1, 2, 3, 4; at t = 5 the deadline passed


def test_a_lock_left_by_a_killed_process_is_taken_over(holder):
    proc, lock_path = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert busy_holder(lock_path) is None  # the pid is gone
    lock = HomeLock(lock_path, run_id="next-run").acquire()
    try:
        assert lock.previous is not None and lock.previous.run_id == "run-held-elsewhere"
        assert read_holder(lock_path).run_id == "next-run"
        assert read_holder(lock_path).pid == os.getpid()
    finally:
        lock.release()
    assert read_holder(lock_path) is None  # a clean release leaves no holder line


def test_open_run_is_reentrant_for_one_run_and_sweeps_dead_runs(tmp_path):
    home = Home(tmp_path / "home").ensure()
    (home.staging_dir / "dead-run").mkdir(parents=True)
    first = open_run(home, "run-1")
    second = open_run(home, "run-1")  # a second resource of the same run
    assert first is second and first.sweep.abandoned_runs == ["dead-run"]
    with pytest.raises(HomeBusy, match="in use by run run-1"):
        open_run(home, "run-2")
    assert close_run(second, success=True) is None  # still used by the first
    assert read_holder(home.lock_path).run_id == "run-1"
    close_run(first, success=False)
    assert read_holder(home.lock_path) is None
    assert GenerationStore(home).current() is None


def test_a_launcher_holds_the_home_for_its_run_and_publishes_only_on_success(tmp_path):
    import pandas as pd

    from genre_pipeline.storage import codecs
    from genre_pipeline.storage.generations import Unit
    from genre_pipeline.storage.writer import finish_launch, hold_for_launch, require_launcher

    home = Home(tmp_path / "home").ensure()
    store = GenerationStore(home)

    def stage(run_id: str) -> None:  # what a step in another process writes for the run
        staging = store.staging(run_id)
        codecs.write(pd.DataFrame({"id": [1]}), staging.target("tables/t.parquet"), codecs.PARQUET)
        staging.record(Unit(path="tables/t.parquet", asset="t", codec=codecs.PARQUET))

    with hold_for_launch(home, "run-ok") as held:
        require_launcher(home, "run-ok")  # a step of this run may write
        with pytest.raises(HomeBusy, match="not held for run other"):
            require_launcher(home, "other")
        stage("run-ok")
        assert store.current() is None  # nothing visible while the run runs
        finish_launch(held, success=True)
    assert store.current().runs == ["run-ok"]
    with hold_for_launch(home, "run-failed") as held:
        stage("run-failed")
        finish_launch(held, success=False)
    assert store.current().runs == ["run-ok"] and not any(home.staging_dir.iterdir())
    with pytest.raises(HomeBusy, match="held by nobody"):
        require_launcher(home, "run-ok")  # released
