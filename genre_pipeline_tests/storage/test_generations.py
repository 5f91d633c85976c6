"""Generations: staged units become visible all at once; dead runs leave nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from genre_pipeline.storage import codecs
from genre_pipeline.storage.generations import GenerationStore, StorageError, Unit
from genre_pipeline.storage.home import Home, HomeError


def stage_table(store: GenerationStore, run_id: str, asset: str, frame: pd.DataFrame, partition: str | None = None) -> None:
    staging = store.staging(run_id)
    path = f"tables/{asset}.parquet" if partition is None else f"tables/{asset}/{partition}.parquet"
    codecs.write(frame, staging.target(path), codecs.PARQUET)
    staging.record(Unit(path=path, asset=asset, partition=partition, codec=codecs.PARQUET, run_id=run_id))


def read_table(store: GenerationStore, asset: str, run_id: str | None = None) -> pd.DataFrame:
    unit, path = store.resolve(run_id, asset)
    return codecs.read(path, unit.codec)


@pytest.fixture
def store(tmp_path) -> GenerationStore:
    return GenerationStore(Home(tmp_path / "home").ensure())


def test_nothing_is_visible_before_publish_and_everything_after(store):
    stage_table(store, "run-a", "movies", pd.DataFrame({"id": [1, 2]}))
    stage_table(store, "run-a", "genres", pd.DataFrame({"id": [28]}))
    assert store.current() is None
    assert store.resolve(None, "movies") is None
    assert list(read_table(store, "movies", run_id="run-a")["id"]) == [1, 2]  # the run sees its own writes

    generation = store.publish("run-a")
    assert generation is not None and store.current().id == generation.id
    assert list(read_table(store, "movies")["id"]) == [1, 2]
    assert list(read_table(store, "genres")["id"]) == [28]
    assert not store.staging("run-a").root.exists()
    assert generation.runs == ["run-a"]


def test_a_new_generation_keeps_unchanged_units_and_replaces_staged_ones(store):
    stage_table(store, "run-a", "movies", pd.DataFrame({"id": [1, 2]}))
    stage_table(store, "run-a", "genres", pd.DataFrame({"id": [28]}))
    first = store.publish("run-a")
    stage_table(store, "run-b", "movies", pd.DataFrame({"id": [3]}))
    second = store.publish("run-b")
    assert list(read_table(store, "movies")["id"]) == [3]
    assert list(read_table(store, "genres")["id"]) == [28]
    # the old generation is still complete and unchanged (a reader that resolved it keeps reading it)
    old = first.unit("movies")
    assert list(pd.read_parquet(first.path(old))["id"]) == [1, 2]
    # unchanged units are hard links, not copies
    genres_old, genres_new = first.path(first.unit("genres")), second.path(second.unit("genres"))
    assert os.stat(genres_old).st_ino == os.stat(genres_new).st_ino


def test_partitions_overlay_and_tombstones(store):
    for year in ("1999", "2000"):
        stage_table(store, "run-a", "raw", pd.DataFrame({"id": [int(year)]}), partition=year)
    store.publish("run-a")
    stage_table(store, "run-b", "raw", pd.DataFrame({"id": [7]}), partition="2000")
    seen = store.resolve_partitions("run-b", "raw")
    assert sorted(seen) == ["1999", "2000"]
    assert list(codecs.read(seen["2000"][1], codecs.PARQUET)["id"]) == [7]
    assert sorted(store.resolve_partitions(None, "raw")) == ["1999", "2000"]  # others still see the published one
    store.staging("run-b").record(Unit(path="tables/raw/1999.parquet", asset="raw", partition="1999", deleted=True))
    assert sorted(store.resolve_partitions("run-b", "raw")) == ["2000"]
    store.publish("run-b")
    assert sorted(store.resolve_partitions(None, "raw")) == ["2000"]


def test_discard_leaves_the_published_generation_untouched(store):
    stage_table(store, "run-a", "movies", pd.DataFrame({"id": [1]}))
    store.publish("run-a")
    stage_table(store, "run-b", "movies", pd.DataFrame({"id": []}, dtype="int64"))
    store.discard("run-b")
    assert list(read_table(store, "movies")["id"]) == [1]
    assert not store.staging("run-b").root.exists()


def test_publish_is_idempotent_and_refuses_a_recorded_but_missing_unit(store):
    stage_table(store, "run-a", "movies", pd.DataFrame({"id": [1]}))
    assert store.publish("run-a") is not None
    assert store.publish("run-a") is None  # nothing staged any more
    store.staging("run-b").record(Unit(path="tables/ghost.parquet", asset="ghost", codec=codecs.PARQUET))
    with pytest.raises(StorageError, match="run run-b recorded tables/ghost.parquet for ghost but did not write it"):
        store.publish("run-b")
    assert list(read_table(store, "movies")["id"]) == [1]


def test_only_the_last_generations_are_kept(store):
    for n in range(6):
        stage_table(store, f"run-{n}", "movies", pd.DataFrame({"id": [n]}))
        store.publish(f"run-{n}")
    kept = [p for p in store.home.generations_dir.iterdir() if not p.name.startswith(".")]
    assert len(kept) == 3
    assert list(read_table(store, "movies")["id"]) == [5]


def test_sweep_removes_what_dead_runs_left(store):
    stage_table(store, "run-a", "movies", pd.DataFrame({"id": [1]}))
    store.publish("run-a")
    stage_table(store, "dead-run", "movies", pd.DataFrame({"id": [9]}))
    (store.home.generations_dir / ".20990101T000000000000Z-deadbeef.building").mkdir()
    stage_table(store, "live-run", "movies", pd.DataFrame({"id": [2]}))
    report = store.sweep(live_run_id="live-run")
    assert report.abandoned_runs == ["dead-run"]
    assert not store.staging("dead-run").root.exists()
    assert store.staging("live-run").root.exists()
    assert not any(p.name.startswith(".") for p in store.home.generations_dir.iterdir())
    assert list(read_table(store, "movies")["id"]) == [1]


def test_a_home_that_is_a_file_or_an_old_layout_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(HomeError, match="is a file, not a directory"):
        Home(tmp_path / "file").ensure()
    (tmp_path / "old" / "tables").mkdir(parents=True)
    with pytest.raises(HomeError, match="older genre-pipeline"):
        Home(tmp_path / "old").ensure()


PUBLISHER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from genre_pipeline.storage import codecs
    from genre_pipeline.storage.generations import GenerationStore, Unit
    from genre_pipeline.storage.home import Home

    store = GenerationStore(Home.at(sys.argv[1]))
    n = int(sys.argv[2])
    staging = store.staging(f"run-{n}")
    for i in range(40):
        path = f"tables/part/{i}.parquet"
        codecs.write(pd.DataFrame({"v": [n] * 200}), staging.target(path), codecs.PARQUET)
        staging.record(Unit(path=path, asset="part", partition=str(i), codec=codecs.PARQUET))
    print("staged", flush=True)
    store.publish(f"run-{n}")
    print("published", flush=True)
    """
)


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2])
def test_kill_9_during_publish_leaves_one_consistent_generation(tmp_path, delay):
    """kill -9 a publishing process at several moments: readers see the old or the new generation, whole."""
    home = Home(tmp_path / "home").ensure()
    store = GenerationStore(home)
    script = tmp_path / "publish.py"
    script.write_text(PUBLISHER)
    subprocess.run([sys.executable, str(script), str(home.root), "1"], check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, str(script), str(home.root), "2"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "staged"
    if delay:
        import time

        time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    current = store.current()
    values = {int(codecs.read(current.path(u), codecs.PARQUET)["v"].iloc[0]) for u in current.partitions("part").values()}
    assert len(current.partitions("part")) == 40
    assert values in ({1}, {2})  # never a mix
    store.sweep()
    assert not any(store.home.staging_dir.iterdir())
    manifest = json.loads((current.root / "manifest.json").read_text())
    assert {u["path"] for u in manifest["units"]} == {f"tables/part/{i}.parquet" for i in range(40)}
    assert Path(os.readlink(home.current_link)).parent.name == "generations"
