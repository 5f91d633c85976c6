"""Live-TMDB ingestion through Dagster, against the fake TMDB on 127.0.0.1 (never the internet).

`genre-pipeline run --source tmdb` into temp homes: a faulty run still yields every movie
exactly once; a run killed midway and restarted re-downloads no poster it already has;
the daily changes asset touches only changed movies; the key is never logged or written.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from genre_pipeline.catalog.posters import PosterIndex
from genre_pipeline.cli.main import main
from genre_pipeline.defs.ingestion.assets import movie_changes, raw_movie_records
from genre_pipeline.defs.ingestion.resources import CatalogSourceResource, TmdbResource
from genre_pipeline.defs.storage import HomeIOManager, HomeResource
from genre_pipeline.storage.generations import GenerationStore
from genre_pipeline.storage.home import Home
from genre_pipeline.ingestion.snapshot import SnapshotCatalogSource
from genre_pipeline.ingestion.replay import TmdbReplayServer as FakeTmdb
from genre_pipeline_tests.support.tmdb_fixtures import TMDB_GENRES, make_movies, make_posters, tiny_jpeg

KEY = "v3key-DO-NOT-LEAK-5f1e2d3c4b5a"
CATALOG = "key:raw_movie_records or key:genre_vocabulary or key:movies or key:movie_posters"
SELECT = CATALOG + " or key:imdb_title_basics or key:imdb_tmdb_genre_comparison"
TO_IMDB = {"Science Fiction": "Sci-Fi"}


@pytest.fixture(scope="module")
def catalog():
    movies = make_movies(36, seed=21, years=(2015, 2016))
    return movies, make_posters(movies)


@pytest.fixture
def fake(catalog):
    movies, posters = catalog
    with FakeTmdb(movies, TMDB_GENRES, posters, api_key=KEY) as server:
        yield server


@pytest.fixture
def tmdb_env(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("TMDB_API_KEY", KEY)
    monkeypatch.delenv("TMDB_READ_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("TMDB_API_BASE_URL", fake.api_base_url)
    monkeypatch.setenv("TMDB_IMAGE_BASE_URL", fake.image_base_url)
    monkeypatch.setenv("TMDB_RATE_LIMIT", "500")
    monkeypatch.setenv("TMDB_CONCURRENCY", "4")
    monkeypatch.setenv("TMDB_TIMEOUT", "0.5")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused-dagster-home"))
    monkeypatch.delenv("GENRE_PIPELINE_IMDB_BASICS", raising=False)
    monkeypatch.delenv("GENRE_PIPELINE_SCHEDULES", raising=False)
    return fake


def imdb_file(movies, folder: Path) -> Path:
    """title.basics rows for the catalog's movies: IMDb names, two deliberate disagreements."""
    lines = ["tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\truntimeMinutes\tgenres"]
    with_imdb = [m for m in movies if m["imdb_id"]]
    for index, movie in enumerate(with_imdb):
        names = [TO_IMDB.get(g["name"], g["name"]) for g in movie["genres"] if g["name"] != "TV Movie"]
        if index < 2:
            names = ["Biography"]  # unmapped on the TMDB side: a disagreement
        genres = ",".join(names) or "\\N"
        lines.append(f"{movie['imdb_id']}\tmovie\tT{index}\tT{index}\t0\t2015\t\\N\t90\t{genres}")
    path = folder / "title.basics.tsv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def assert_key_nowhere(home: Path, *texts: str) -> None:
    for text in texts:
        assert KEY not in text
    needle = KEY.encode()
    for path in home.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"the API key was written to {path}"


def movie_table(home: Home) -> pd.DataFrame:
    return GenerationStore(home).current().read("movies")


def poster_index(home: Home) -> pd.DataFrame:
    return PosterIndex.combine(GenerationStore(home).current().read_partitions("movie_posters")).frame


@pytest.mark.slow
def test_faulty_run_yields_every_movie_once_and_never_leaks_the_key(tmdb_env, catalog, tmp_path, capsys, caplog, monkeypatch):
    movies, posters = catalog
    fake = tmdb_env
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GENRE_PIPELINE_IMDB_BASICS", str(imdb_file(movies, tmp_path)))
    fake.add_fault("/3/discover/movie", "500", count=2)
    fake.add_fault("/3/movie/*", "429", count=2, retry_after=0.2)
    fake.add_fault("/3/movie/*", "malformed", count=2)
    fake.add_fault("/3/movie/*", "slow", count=1, delay=1.0)
    first_poster = next(name for name in sorted(posters))
    fake.add_fault(f"/t/p/w500/{first_poster}", "truncate", count=1)

    home = Home(tmp_path / "home")
    code = main(["run", "--source", "tmdb", "--years", "2015-2016", "--home", str(home.root), "--select", SELECT])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err

    table = movie_table(home)
    assert sorted(table["id"]) == sorted(m["id"] for m in movies)  # every movie exactly once
    assert table["id"].is_unique
    index = poster_index(home)
    assert set(index.loc[index["poster_path"].notna(), "status"]) == {"fetched"}
    assert sorted(p.name for p in home.posters_dir.iterdir()) == sorted(posters)
    assert all((home.posters_dir / name).read_bytes() == data for name, data in posters.items())
    assert fake.count("/3/discover/movie") == 2 + 2  # two years of one page each, plus two 500s

    comparison = GenerationStore(home).current().read("imdb_tmdb_genre_comparison")
    assert len(comparison) == sum(1 for m in movies if m["imdb_id"])
    disagreeing = set(comparison.loc[~comparison["agree"], "imdb_id"])
    assert {m["imdb_id"] for m in movies if m["imdb_id"]}.__len__() >= 2 and len(disagreeing) >= 2

    assert_key_nowhere(home.root, out.out, out.err, caplog.text)  # home: tables, generations, the instance's event log


@pytest.mark.slow
def test_rejected_key_is_one_clear_error(tmdb_env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TMDB_API_KEY", "wrong-key-123456")
    home = Home(tmp_path / "home")
    code = main(["run", "--source", "tmdb", "--years", "2015", "--home", str(home.root), "--select", "key:raw_movie_records"])
    out = capsys.readouterr()
    assert code == 1 and "TMDB rejected the API key" in out.err
    assert tmdb_env.count("/3/*") == 1  # no retries
    assert "wrong-key-123456" not in out.out + out.err


@pytest.mark.slow
def test_killed_run_restarts_without_losing_movies_or_refetching_posters(tmdb_env, catalog, tmp_path):
    movies, posters = catalog
    fake = tmdb_env
    fake.image_latency = 0.15
    home = Home(tmp_path / "home")
    env = dict(os.environ, TMDB_POSTER_CONCURRENCY="1", GENRE_PIPELINE_HOME=str(home.root))
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "genre_pipeline.cli", "run", "--source", "tmdb", "--years", "2015-2016",
               "--home", str(home.root), "--select", CATALOG]
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if home.posters_dir.is_dir() and sum(1 for p in home.posters_dir.iterdir() if not p.name.startswith(".")) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    on_disk = {p.name for p in home.posters_dir.iterdir() if not p.name.startswith(".")}
    assert 3 <= len(on_disk) < len(posters)

    from genre_pipeline.storage.lock import busy_holder

    deadline = time.monotonic() + 30
    while busy_holder(home.lock_path) is not None and time.monotonic() < deadline:
        time.sleep(0.05)  # the run worker dies with the killed command (its parent-death signal)
    assert busy_holder(home.lock_path) is None
    fake.wait_idle()  # the killed client's last request may still be in the server's hands
    fake.reset_log()
    fake.image_latency = 0.0
    assert main(["run", "--source", "tmdb", "--years", "2015-2016", "--home", str(home.root),
                 "--select", CATALOG]) == 0
    fetched = sorted(r.path.rsplit("/", 1)[-1] for r in fake.requests if r.path.startswith("/t/p/"))
    assert fetched == sorted(set(posters) - on_disk)  # nothing it already had
    table = movie_table(home)
    assert sorted(table["id"]) == sorted(m["id"] for m in movies) and table["id"].is_unique
    index = poster_index(home)
    assert sorted(index.loc[index["status"] == "present", "poster_file"]) == sorted(on_disk)
    assert sorted(p.name for p in home.posters_dir.iterdir() if not p.name.startswith(".")) == sorted(posters)


@pytest.mark.slow
def test_changes_asset_touches_only_changed_movies_and_export_replays(tmdb_env, catalog, tmp_path, caplog):
    movies, posters = catalog
    fake = tmdb_env
    home = Home(tmp_path / "home")
    assert main(["run", "--source", "tmdb", "--years", "2015-2016", "--home", str(home.root), "--select", SELECT]) == 0
    before = movie_table(home).set_index("id")

    ids = sorted(m["id"] for m in movies)
    retitled, new_poster, untouched_change = ids[0], ids[1], ids[2]
    fake.update_movie(retitled, title="A New Title")
    fake.update_movie(new_poster, poster_path="/brand-new-poster.jpg")
    fake.set_poster("brand-new-poster.jpg", tiny_jpeg(99))
    fake.mark_changed([retitled, new_poster, untouched_change, 424242, 424243], "2025-03-02")
    fake.mark_changed([ids[3]], "2025-03-01")
    fake.reset_log()

    home_resource = HomeResource(root=str(home.root))
    tmdb = TmdbResource()
    resources = {"home": home_resource, "tmdb": tmdb, "io_manager": HomeIOManager(home=home_resource),
                 "catalog_source": CatalogSourceResource(home=home_resource, tmdb=tmdb)}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([movie_changes, raw_movie_records], selection=[movie_changes], partition_key="2025-03-02",
                            resources=resources, instance=instance)
    assert result.success
    paths = sorted(r.path for r in fake.requests)
    assert paths == sorted(["/3/movie/changes", *(f"/3/movie/{i}" for i in (retitled, new_poster, untouched_change))])
    assert before.loc[retitled, "title"] != "A New Title"  # not merged until movies rebuilds from the changes
    assert main(["run", "--source", "tmdb", "--home", str(home.root), "--select", "key:movies or key:movie_posters"]) == 0
    assert sorted(r.path for r in fake.requests if r.path.startswith("/t/p/")) == ["/t/p/w500/brand-new-poster.jpg"]
    after = movie_table(home).set_index("id")
    assert after.loc[retitled, "title"] == "A New Title" and after.loc[new_poster, "poster_path"] == "/brand-new-poster.jpg"
    unchanged = [i for i in ids if i not in (retitled, new_poster, untouched_change)]
    pd.testing.assert_frame_equal(after.loc[unchanged], before.loc[unchanged])
    assert (home.posters_dir / "brand-new-poster.jpg").read_bytes() == tiny_jpeg(99)
    index = poster_index(home).set_index("id")
    assert index.loc[new_poster, "poster_file"] == "brand-new-poster.jpg"
    mat = result.asset_materializations_for_node("movie_changes")[0]
    assert mat.metadata["changed_in_catalog"].value == 3 and mat.metadata["changed_on_tmdb"].value == 5

    # a missed day is backfilled on its own partition; re-running a day overwrites it
    fake.reset_log()
    assert dg.materialize([movie_changes, raw_movie_records], selection=[movie_changes], partition_key="2025-03-01",
                          resources=resources, instance=instance).success
    assert sorted(r.path for r in fake.requests) == sorted(["/3/movie/changes", f"/3/movie/{ids[3]}"])
    assert sorted(GenerationStore(home).current().partitions("movie_changes")) == ["2025-03-01", "2025-03-02"]

    # a later rebuild of the movie table keeps the merged changes (latest record wins)
    assert main(["run", "--source", "tmdb", "--home", str(home.root), "--select", "key:movies"]) == 0
    rebuilt = movie_table(home).set_index("id")
    assert rebuilt.loc[retitled, "title"] == "A New Title" and rebuilt.index.is_unique

    # export the live catalog as a snapshot and read it back offline
    export_dir = tmp_path / "export"
    assert main(["snapshot", "export", str(export_dir), "--home", str(home.root)]) == 0
    replay = SnapshotCatalogSource(export_dir)
    replayed = {r["id"]: r for key in replay.years() for r in replay.fetch_year(key).records}
    assert sorted(replayed) == ids and replayed[retitled]["title"] == "A New Title"
    assert sorted(p.name for p in (export_dir / "posters").iterdir()) == sorted(set(posters) - {  # old poster of new_poster
        next(m for m in movies if m["id"] == new_poster)["poster_path"].lstrip("/")} | {"brand-new-poster.jpg"})
    assert main(["snapshot", "export", str(export_dir), "--home", str(home.root)]) == 2  # a previous export: needs --force
    assert_key_nowhere(home.root, caplog.text)
    assert_key_nowhere(export_dir)


def test_changes_run_nightly_for_the_previous_day():
    condition = movie_changes.automation_conditions_by_key[dg.AssetKey("movie_changes")]
    assert "on_cron(15 2 * * *" in condition.get_label() or "15 2 * * *" in str(condition)


def test_resource_reads_credentials_at_run_time_and_never_shows_them(monkeypatch):
    monkeypatch.setenv("TMDB_API_KEY", KEY)
    monkeypatch.setenv("TMDB_API_BASE_URL", "http://127.0.0.1:9/3")
    monkeypatch.setenv("TMDB_RATE_LIMIT", "12.5")
    resource = TmdbResource(poster_size="w185")
    assert KEY not in repr(resource)
    with dg.build_resources({"tmdb": resource}) as built:
        settings = built.tmdb.settings()
        assert settings.api_key == KEY and settings.api_base_url == "http://127.0.0.1:9/3"
        assert settings.rate_limit == 12.5 and settings.poster_size == "w185"
        assert KEY not in repr(settings) and KEY not in str(settings.describe())
    monkeypatch.setenv("TMDB_CONCURRENCY", "many")
    with pytest.raises(ValueError, match="TMDB_CONCURRENCY must be a whole number, got 'many'"):
        resource.settings()


def test_source_kind_comes_from_the_environment_when_not_configured(monkeypatch, tmp_path):
    from genre_pipeline.defs.settings import SettingsError

    source = CatalogSourceResource(home=HomeResource(root=str(tmp_path)), tmdb=TmdbResource())
    monkeypatch.setenv("GENRE_PIPELINE_SOURCE", "bogus")
    with pytest.raises(SettingsError, match="GENRE_PIPELINE_SOURCE must be one of demo, snapshot, tmdb, got 'bogus'"):
        source.resolved_kind()
    monkeypatch.setenv("GENRE_PIPELINE_SOURCE", "snapshot")
    monkeypatch.delenv("GENRE_PIPELINE_SNAPSHOT", raising=False)
    from genre_pipeline.ingestion.records import SourceError

    with pytest.raises(SourceError, match="needs a snapshot directory"):
        source.open()
