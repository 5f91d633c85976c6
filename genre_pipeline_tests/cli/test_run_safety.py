"""Runs that never lose data: real `genre-pipeline run` processes, real files, real kill -9.

A run is held inside ``raw_movie_records`` deterministically by giving it a snapshot whose
``movies.jsonl`` is a named pipe: the source blocks reading it until the test writes (and
closes) the pipe. While it blocks, the run holds the home's writer lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from genre_pipeline.storage.generations import GenerationStore
from genre_pipeline.storage.home import Home
from genre_pipeline.storage.lock import read_holder
from genre_pipeline_tests.support.snapshots import GENRES, movie, write_snapshot

CATALOG = "key:raw_movie_records or key:genre_vocabulary or key:movies"
ROOT = Path(__file__).resolve().parents[2]


def movies_x() -> list[dict]:
    return [movie(100 + i, f"X movie {i}", f"{2000 + i % 5}-01-01", [28 if i % 2 else 35]) for i in range(30)]


def movies_y() -> list[dict]:
    return [movie(900 + i, f"Y movie {i}", f"{2001 + i % 3}-06-01", [18]) for i in range(24)]


def cli(*args: str, env: dict | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "genre_pipeline.cli", *args], cwd=ROOT, env=env or os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genre_pipeline.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def published_movies(home: Home) -> pd.DataFrame:
    return GenerationStore(home).current().read("movies")


def piped_snapshot(folder: Path) -> Path:
    """A snapshot directory whose movies.jsonl is a named pipe (the run blocks reading it)."""
    write_snapshot(folder, [])
    (folder / "movies.jsonl").unlink()
    os.mkfifo(folder / "movies.jsonl")
    return folder / "movies.jsonl"


def wait_for_holder(home: Home, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = read_holder(home.lock_path)
        if holder is not None and holder.run_id:
            return holder
        time.sleep(0.05)
    raise AssertionError("no run took the home's writer lock")


def feed(pipe: Path, records: list[dict]) -> None:
    with open(pipe, "w", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def filled_home(tmp_path) -> Home:
    home = Home(tmp_path / "home")
    snapshot = write_snapshot(tmp_path / "x", movies_x())
    done = run_cli("run", "--snapshot", str(snapshot), "--home", str(home.root), "--select", CATALOG)
    assert done.returncode == 0, done.stderr
    assert len(published_movies(home)) == 30
    return home


@contextlib.contextmanager
def run_held_in_raw_records(home: Home, folder: Path):
    """A `run` blocked inside raw_movie_records (its snapshot is a pipe): yields (process, pipe, lock holder)."""
    pipe = piped_snapshot(folder)
    process = cli("run", "--snapshot", str(pipe.parent), "--home", str(home.root), "--select", CATALOG)
    try:
        yield process, pipe, wait_for_holder(home)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_a_second_writer_is_refused_naming_the_holder_and_nothing_mixes(filled_home, tmp_path):
    home = filled_home
    with run_held_in_raw_records(home, tmp_path / "y") as (first, pipe, holder):
        other = write_snapshot(tmp_path / "other", movies_x()[:5])
        second = run_cli("run", "--snapshot", str(other), "--home", str(home.root), "--select", CATALOG)
        assert second.returncode == 1
        assert f"in use by run {holder.run_id}, pid {holder.pid} since " in second.stderr
        assert "Traceback" not in second.stderr
        export = run_cli("snapshot", "export", str(tmp_path / "export"), "--home", str(home.root))
        assert export.returncode == 1 and f"run {holder.run_id}" in export.stderr
        demo = run_cli("demo-catalog", "--home", str(home.root), "--movies", "5")
        assert demo.returncode == 1 and f"run {holder.run_id}" in demo.stderr
        assert len(published_movies(home)) == 30  # readers never block and see the published catalog
        feed(pipe, movies_y())
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    table = published_movies(home)
    assert sorted(table["id"]) == sorted(m["id"] for m in movies_y())  # all of Y, nothing of X or of the refused run


@pytest.mark.slow
def test_a_second_writer_with_wait_runs_after_the_first(filled_home, tmp_path):
    home = filled_home
    with run_held_in_raw_records(home, tmp_path / "y") as (first, pipe, _holder):
        later = write_snapshot(tmp_path / "later", movies_x()[:20])
        second = cli("run", "--snapshot", str(later), "--home", str(home.root), "--select", CATALOG, "--wait", "240")
        time.sleep(1.0)
        assert second.poll() is None  # waiting, not failed
        feed(pipe, movies_y())
        assert first.wait(timeout=300) == 0
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
    assert sorted(published_movies(home)["id"]) == sorted(m["id"] for m in movies_x()[:20])


@pytest.mark.slow
def test_a_multiprocess_run_runs_each_step_in_its_own_process_with_the_home_held_by_the_command(filled_home, tmp_path):
    home = filled_home
    pipe = piped_snapshot(tmp_path / "y")
    first = cli("run", "--snapshot", str(pipe.parent), "--home", str(home.root), "--select", CATALOG,
                "--executor", "multiprocess")
    try:
        holder = wait_for_holder(home)
        assert holder.pid == first.pid  # the launching command holds the home, not a step's process
        second = run_cli("run", "--snapshot", str(pipe.parent), "--home", str(home.root), "--select", CATALOG)
        assert second.returncode == 1 and f"in use by run {holder.run_id}, pid {holder.pid}" in second.stderr
        feed(pipe, movies_y())
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err
    assert sorted(published_movies(home)["id"]) == sorted(m["id"] for m in movies_y())
    assert holder.run_id in GenerationStore(home).current().runs and read_holder(home.lock_path) is None
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    run = instance.get_run_by_id(holder.run_id)
    assert run.remote_job_origin.location_name == "genre_pipeline_multiprocess"
    events = [e.dagster_event for e in instance.all_logs(holder.run_id) if e.dagster_event is not None]
    (worker,) = {e.pid for e in events if e.event_type == dg.DagsterEventType.RUN_START}
    step_pids = {e.step_key: e.pid for e in events if e.event_type == dg.DagsterEventType.STEP_START}
    assert set(step_pids) == {"raw_movie_records", "genre_vocabulary", "movies"}
    assert len(set(step_pids.values())) == 3 and worker not in step_pids.values()


@pytest.mark.slow
def test_kill_9_inside_raw_movie_records_keeps_the_previous_catalog(filled_home, tmp_path):
    home = filled_home
    before = GenerationStore(home).current()
    pipe = piped_snapshot(tmp_path / "y")
    first = cli("run", "--snapshot", str(pipe.parent), "--home", str(home.root), "--select", CATALOG)
    holder = wait_for_holder(home)
    writer = open(pipe, "w", encoding="utf-8")  # half a catalog arrives, then the worker dies mid-read
    writer.write("".join(json.dumps(r) + "\n" for r in movies_y()[:6]))
    writer.flush()
    os.kill(holder.pid, signal.SIGKILL)
    out, err = first.communicate(timeout=120)
    writer.close()
    assert first.returncode == 1
    assert "killed by signal 9" in err or "run worker died" in err, err
    assert "Nothing of this run was published" in err

    current = GenerationStore(home).current()
    assert current.id == before.id
    assert sorted(published_movies(home)["id"]) == sorted(m["id"] for m in movies_x())
    assert not any(home.staging_dir.iterdir())  # cleaned right away by the command
    assert not list(home.root.rglob("*.tmp")) and not list(home.generations_dir.glob(".*"))
    instance = dg.DagsterInstance.from_ref(dg.DagsterInstance.from_config(str(home.dagster_home)).get_ref())
    assert instance.get_run_by_id(holder.run_id).status == dg.DagsterRunStatus.FAILURE

    downstream = run_cli("run", "--home", str(home.root), "--select", "key:movies")
    assert downstream.returncode == 0, downstream.stderr
    assert sorted(published_movies(home)["id"]) == sorted(m["id"] for m in movies_x())  # no mix of X and half of Y


@pytest.mark.slow
def test_an_empty_source_does_not_replace_a_filled_catalog(filled_home, tmp_path):
    home = filled_home
    before = GenerationStore(home).current().id
    empty = write_snapshot(tmp_path / "empty", [])
    done = run_cli("run", "--snapshot", str(empty), "--home", str(home.root), "--select", CATALOG)
    assert done.returncode == 1
    assert "refusing to replace the catalog: the source yielded no good record" in done.stderr
    assert "--allow-shrink" in done.stderr and "Traceback" not in done.stderr
    all_bad = write_snapshot(tmp_path / "bad", ["not json", '{"id": -1}', '{"title": "no id"}'])
    done = run_cli("run", "--snapshot", str(all_bad), "--home", str(home.root), "--select", CATALOG)
    assert done.returncode == 1 and "no good record" in done.stderr
    shrunk = write_snapshot(tmp_path / "few", movies_x()[:8])
    done = run_cli("run", "--snapshot", str(shrunk), "--home", str(home.root), "--select", CATALOG)
    assert done.returncode == 1 and "8 good records" in done.stderr and "now hold 30" in done.stderr
    assert GenerationStore(home).current().id == before
    assert len(published_movies(home)) == 30
    done = run_cli("run", "--snapshot", str(shrunk), "--home", str(home.root), "--select", CATALOG, "--allow-shrink")
    assert done.returncode == 0, done.stderr
    assert len(published_movies(home)) == 8


@pytest.mark.slow
def test_a_failing_blocking_check_stops_downstream_and_the_run(filled_home, tmp_path):
    home = filled_home
    before = GenerationStore(home).current().id
    records = movies_x()
    records[3]["genres"] = [{"id": 4242, "name": "Mystery Genre"}]  # not in genres.json, not a legacy id
    records[7]["genres"] = [{"id": 4242, "name": "Mystery Genre"}]
    bad = write_snapshot(tmp_path / "bad", records, genres=GENRES)
    done = run_cli("run", "--snapshot", str(bad), "--home", str(home.root),
                   "--select", CATALOG + " or key:genre_cooccurrence")
    assert done.returncode == 1
    assert "FAILED check movies:genre_ids_known (offending ids: [103, 107])" in done.stderr
    assert "✓ genre_cooccurrence" not in done.stdout and "▶ genre_cooccurrence" not in done.stdout
    assert GenerationStore(home).current().id == before  # the bad table was not published


@pytest.mark.slow
def test_every_run_is_a_run_of_the_code_location(filled_home):
    instance = dg.DagsterInstance.from_config(str(filled_home.dagster_home))
    runs = instance.get_runs()
    assert runs
    for run in runs:
        assert run.remote_job_origin is not None
        assert run.remote_job_origin.location_name == "genre_pipeline"
        assert run.job_name == "__ASSET_JOB"


def test_export_never_touches_the_home_or_foreign_files(tmp_path):
    home = Home(tmp_path / "home").ensure()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep me")
    for target in (home.root, tmp_path, home.root / "inside"):
        done = run_cli("snapshot", "export", str(target), "--force", "--home", str(home.root))
        assert done.returncode == 2 and "it is, contains or lies inside the home" in done.stderr, done.stderr
    done = run_cli("snapshot", "export", str(tmp_path / "mine"), "--force", "--home", str(home.root))
    assert done.returncode == 2 and "holds no previous export" in done.stderr
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep me"
    assert home.dagster_home.is_dir()


def wait_for_step(home: Home, run_id: str, step: str, timeout: float = 300) -> None:
    from dagster._core.events import DagsterEventType

    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
        if any(r.event_log_entry.step_key == step for r in records):
            return
        time.sleep(0.05)
    raise AssertionError(f"step {step} never started")


@pytest.mark.slow
def test_kill_9_during_model_training_then_a_downstream_run_and_a_full_rerun(tmp_path):
    """Kill the run worker while text_plus trains: nothing of the run is visible; later runs build on the old generation."""
    from genre_pipeline.demo.generator import write_demo_catalog

    env = {**os.environ, "GENRE_PIPELINE_SENTENCE_ENCODER": "none", "GENRE_PIPELINE_VGG16_IMAGE_SIZE": "32",
           "GENRE_PIPELINE_VGG16_WEIGHTS": "random"}
    home = Home(tmp_path / "home")
    catalog = tmp_path / "demo"
    write_demo_catalog(catalog, n_movies=300, seed=5)
    base = ["run", "--snapshot", str(catalog), "--home", str(home.root)]
    first = subprocess.run([sys.executable, "-m", "genre_pipeline.cli", *base], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    before = GenerationStore(home).current()
    old_model = before.read("text_plus")

    retrain = cli(*base, "--select", "key:text_plus or key:fusion or key:model_evaluation", env=env)
    holder = wait_for_holder(home)
    wait_for_step(home, holder.run_id, "text_plus")
    os.kill(holder.pid, signal.SIGKILL)
    out, err = retrain.communicate(timeout=120)
    assert retrain.returncode == 1 and "Nothing of this run was published" in err
    assert GenerationStore(home).current().id == before.id
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    assert instance.get_run_by_id(holder.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not any(home.staging_dir.iterdir())

    downstream = subprocess.run([sys.executable, "-m", "genre_pipeline.cli", *base, "--select", "text_plus+"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=900)
    assert downstream.returncode == 0, downstream.stderr
    after = GenerationStore(home).current()
    assert after.id != before.id
    assert after.unit("movies").run_id == before.unit("movies").run_id  # the catalog was not touched
    assert after.unit("text_plus").run_id == instance.get_runs(limit=1)[0].run_id
    evaluation = after.read("model_evaluation").records
    assert evaluation["text_plus"]["micro_f1"] == pytest.approx(old_model.info["evaluation"]["micro_f1"])  # same inputs, same seed

    rerun = subprocess.run([sys.executable, "-m", "genre_pipeline.cli", *base], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert set(GenerationStore(home).current().assets()) == set(before.assets())
