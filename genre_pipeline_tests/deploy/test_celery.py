"""The asset graph on a real distributed executor: dagster-celery, a Redis broker, two worker processes.

A throwaway ``redis-server`` on 127.0.0.1 (``genre_pipeline_tests/support/redis.py``) is the
broker and result backend; two Celery workers are started the documented way
(``dagster-celery worker start -A dagster_celery.app -y CONFIG``, one process each). The
same synthetic demo catalog is built twice, by ``genre-pipeline run`` (every step in the run
worker) and by ``genre-pipeline run --executor celery`` (the Celery code location: each step
a Celery task, the home held by the command), and the two published generations are compared
unit by unit: tables, poster indexes, feature matrices and poster embeddings (every
release-year partition), model files and every model's test scores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml
from dagster._core.snap import JobSnap
from dagster_celery.make_app import make_app

from genre_pipeline import celery_definitions, definitions
from genre_pipeline.cli import executors
from genre_pipeline.cli.main import main
from genre_pipeline.defs.storage import HomeResource
from genre_pipeline.storage.generations import Generation, GenerationStore
from genre_pipeline.storage.home import Home
from genre_pipeline.storage.lock import read_holder
from genre_pipeline_tests.support.postgres import free_port
from genre_pipeline_tests.support.redis import redis_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
N_MOVIES = 60
SETTINGS = {"GENRE_PIPELINE_VGG16_IMAGE_SIZE": "32"}  # the demo's small posters, embedded quickly
WORKERS = 2
WORKER_START_TIMEOUT = 180
# Values that name their own run or home, and bytes that are not canonical, compared by what they hold:
VOLATILE_COLUMNS = {"fetched_at"}  # when a record was read from the source
# the run that wrote a unit; the poster store of each home; a trained model's identity (new per fit)
VOLATILE_KEYS = {"run_id", "root", "uid"}
PICKLED = ".joblib"  # fitted scikit-learn objects: compared through the matrices and scores they produce


# --- the Celery code location ---------------------------------------------------------------

def test_the_celery_location_holds_the_same_assets_with_a_launcher_held_home():
    default, celery = definitions.defs(), celery_definitions.defs()
    assert celery.resolve_asset_graph().get_all_asset_keys() == default.resolve_asset_graph().get_all_asset_keys()
    assert celery.resolve_implicit_global_asset_job_def().executor_def.name == "celery"
    home = celery.resources["home"]
    assert isinstance(home, HomeResource) and home.writer == "launcher"
    # every resource that uses the home uses this one (so run config for `home` reaches them all)
    users = {key: r for key, r in celery.resources.items() if isinstance(getattr(r, "home", None), HomeResource)}
    assert set(users) == {"catalog_source", "io_manager"} and all(r.home is home for r in users.values())
    assert default.resources["home"].writer == "run"


def test_the_environment_cannot_change_the_celery_job_snapshot(monkeypatch):
    def snapshot_id() -> str:
        return JobSnap.from_job_def(celery_definitions.defs().resolve_implicit_global_asset_job_def()).snapshot_id

    before = snapshot_id()
    for name, value in {"GENRE_PIPELINE_HOME": "/nowhere", "GENRE_PIPELINE_SCHEDULES": "on", "DAGSTER_CELERY_BROKER_HOST": "x"}.items():
        monkeypatch.setenv(name, value)
    assert snapshot_id() == before


# --- workers --------------------------------------------------------------------------------

class CeleryWorkers:
    def __init__(self, processes: list[subprocess.Popen], logs: list[Path], broker: str):
        self.processes, self.logs, self.broker = processes, logs, broker

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs if log.exists())

    def names(self) -> set[str]:
        app = make_app({"broker": self.broker, "backend": self.broker})
        try:
            return {name for answer in app.control.ping(timeout=2.0) for name in answer}
        finally:
            app.close()

    def stop(self) -> None:
        for process in self.processes:  # each worker is the leader of its own process group
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def start_workers(broker: str, home: Home, folder: Path) -> CeleryWorkers:
    """``WORKERS`` Celery workers for ``home`` (one process each), ready when they answer a ping."""
    config = folder / "celery.yaml"
    config.write_text(yaml.safe_dump({"execution": {"config": {"broker": broker, "backend": broker}}}))
    home.ensure()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENRE_PIPELINE_", "DAGSTER_"))}
    env.update(SETTINGS, GENRE_PIPELINE_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")  # `celery` of this environment
    command = [str(Path(sys.executable).with_name("dagster-celery")), "worker", "start", "-A", "dagster_celery.app", "-y", str(config)]
    processes, logs = [], []
    for n in range(1, WORKERS + 1):
        logs.append(folder / f"worker{n}.log")
        with open(logs[-1], "wb") as out:
            processes.append(subprocess.Popen([*command, "-n", f"worker{n}", "--", "--concurrency", "1"], cwd=ROOT, env=env,
                                              stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    workers = CeleryWorkers(processes, logs, broker)
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while len(workers.names()) < WORKERS:
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            workers.stop()
            pytest.fail(f"{WORKERS} Celery workers did not come up:\n{workers.log_tail()}")
        time.sleep(1)
    return workers


# --- comparing two published generations ----------------------------------------------------

def _without(value, keys: set[str]):
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def assert_same_file(left: Path, right: Path, unit: str) -> None:
    where = f"{unit}: {left.name}"
    if left.suffix == ".parquet":
        a, b = pd.read_parquet(left), pd.read_parquet(right)
        pd.testing.assert_frame_equal(a.drop(columns=list(VOLATILE_COLUMNS & set(a.columns))),
                                      b.drop(columns=list(VOLATILE_COLUMNS & set(b.columns))), obj=where)
    elif left.suffix == ".json":
        a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (left, right))
        assert _without(a, VOLATILE_KEYS) == _without(b, VOLATILE_KEYS), where
    elif left.suffix == ".npz":
        with np.load(left, allow_pickle=False) as a, np.load(right, allow_pickle=False) as b:
            assert sorted(a.files) == sorted(b.files), where
            for name in a.files:
                np.testing.assert_array_equal(a[name], b[name], err_msg=f"{where}[{name}]")
    elif left.suffix != PICKLED:
        assert left.read_bytes() == right.read_bytes(), where


def _model_uid(generation: Generation, asset: str, *inner: str) -> str:
    return json.loads(generation.path(generation.unit(asset)).joinpath(*inner, "meta.json").read_text(encoding="utf-8"))["uid"]


def compare_generations(left: Generation, right: Generation) -> int:
    """Assert both hold the same units with the same contents; the number of files compared."""
    assert set(left.units) == set(right.units)
    compared = 0
    for key, unit in sorted(left.units.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        a, b = left.path(unit), right.path(right.units[key])
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file()) if a.is_dir() else [Path()]
        if a.is_dir():
            assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()), unit.path
        for relative in files:
            assert_same_file(a / relative, b / relative, unit.path)
            compared += 1
    return compared


# --- the run ----------------------------------------------------------------------------------

def _run(args: list[str], monkeypatch) -> tuple[int, float]:
    with monkeypatch.context() as patched:
        for name, value in SETTINGS.items():
            patched.setenv(name, value)
        patched.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        start = time.perf_counter()
        code = main(args)
        return code, time.perf_counter() - start


def _celery_workers_of(home: Home, run_id: str) -> set[str]:
    """The Celery workers that executed the run's steps (from the run's engine events)."""
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    names = set()
    for record in instance.get_records_for_run(run_id, limit=10000).records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.event_type_value == "ENGINE_EVENT":
            worker = event.engine_event_data.metadata.get("Celery worker") if event.engine_event_data else None
            if worker is not None:
                names.add(worker.value)
    return names


@pytest.mark.slow
def test_a_celery_run_publishes_what_the_in_process_run_publishes(redis_server, tmp_path, monkeypatch, capsys):  # noqa: F811
    in_process, on_celery = Home(tmp_path / "in_process"), Home(tmp_path / "celery")
    demo = ["run", "--source", "demo", "--demo-movies", str(N_MOVIES)]
    code, in_process_seconds = _run([*demo, "--home", str(in_process.root)], monkeypatch)
    assert code == 0

    broker = redis_server.url(db=1)
    # The instance's storage is created once, before the workers: two processes creating a fresh
    # SQLite run storage at the same moment can stamp its schema version twice.
    on_celery.ensure()
    dg.DagsterInstance.from_config(str(on_celery.dagster_home))
    workers = start_workers(broker, on_celery, tmp_path)
    try:
        capsys.readouterr()
        code, celery_seconds = _run([*demo, "--home", str(on_celery.root), "--executor", "celery", "--celery-broker", broker],
                                    monkeypatch)
        out = capsys.readouterr()
        assert code == 0, f"{out.out[-3000:]}\n{out.err[-3000:]}\n{workers.log_tail()}"
    finally:
        workers.stop()
    print(f"demo ({N_MOVIES} movies): in-process run {in_process_seconds:.1f}s, celery run ({WORKERS} workers) {celery_seconds:.1f}s")

    left, right = GenerationStore(in_process).current(), GenerationStore(on_celery).current()
    (celery_run,) = right.runs
    assert len(_celery_workers_of(on_celery, celery_run)) == WORKERS  # both workers took steps
    assert {"poster_embeddings", "movie_posters", "mlp_poster", "fusion", "model_evaluation"} <= set(right.assets())
    assert len(right.partitions("poster_embeddings")) == len(left.partitions("poster_embeddings")) > 100
    assert compare_generations(left, right) > 500
    for generation in (left, right):  # fusion's copy of text_plus keeps its identity, whichever worker saved it
        assert _model_uid(generation, "fusion", "text") == _model_uid(generation, "text_plus")
    # the command held the home for the run and let go of it; nothing was left staged
    assert read_holder(on_celery.lock_path) is None and not any(on_celery.staging_dir.iterdir())


@pytest.mark.slow
def test_a_celery_run_without_broker_or_workers_is_refused_before_it_starts(redis_server, tmp_path, capsys):  # noqa: F811
    home = Home(tmp_path / "home")
    for broker, reason in [(f"redis://127.0.0.1:{free_port()}/0", "cannot reach the Celery broker at redis://127.0.0.1:"),
                           (redis_server.url(db=2), "no Celery worker answers at redis://127.0.0.1:")]:
        code = main(["run", "--source", "demo", "--demo-movies", "20", "--home", str(home.root), "--select", "key:genre_vocabulary",
                     "--executor", "celery", "--celery-broker", broker])
        assert code == 1
        assert reason in capsys.readouterr().err
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    assert instance.get_runs() == [] and GenerationStore(home).current() is None


def test_a_broker_url_with_credentials_or_another_scheme_is_refused():
    with pytest.raises(ValueError, match="must not carry credentials"):
        executors.choose("celery", "redis://:secret@127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="must be a broker URL such as redis://127.0.0.1:6379/0") as refused:
        executors.choose("celery", "http://user:pw@example/0")
    assert "pw" not in str(refused.value)
    chosen = executors.choose("celery")
    assert chosen.location == celery_definitions.CODE_LOCATION and chosen.launcher_holds_home
    base = {"resources": {"home": {"config": {"root": "/h"}}}}
    assert chosen.run_config(base) == {
        "resources": {"home": {"config": {"root": "/h", "writer": "launcher"}}},
        "execution": {"config": {"broker": executors.DEFAULT_CELERY_BROKER, "backend": executors.DEFAULT_CELERY_BROKER}},
    }
    assert base == {"resources": {"home": {"config": {"root": "/h"}}}}
    assert executors.choose("in_process").run_config(base) == base
    assert not executors.choose("in_process").launcher_holds_home
    with pytest.raises(ValueError, match="--celery-broker goes with --executor celery"):
        executors.choose("in_process", executors.DEFAULT_CELERY_BROKER)

