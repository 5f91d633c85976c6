"""End to end through Dagster into a temp home: the CLI's `run` and the home's instance."""

import json

import dagster as dg
import pandas as pd
import pytest

from genre_pipeline.cli.main import main
from genre_pipeline.storage.home import Home
from genre_pipeline_tests.support.snapshots import movie

CATALOG_ONLY = "group:ingestion or group:catalog"


@pytest.fixture
def quirky_snapshot(snapshot_factory):
    return snapshot_factory(
        [
            movie(1, "Harbor Lights", "1999-04-01", [28, 12], overview="A sailor fights."),
            movie(2, "Quiet Laughs", "1999-06-01", [35, 10749]),
            movie(3, "Lost Reel", "1999-07-01", [18, 10769]),  # legacy "Foreign" id
            '{"id": 4, "title": "torn',  # line 4: malformed JSON
            movie(5, "Late Release", "2001-01-01", [27], overview=""),
            movie(1, "Harbor Lights (Director's Cut)", "2003-04-01", [28, 12]),  # same id, later line, other year
            movie(6, "Someday", "", [18]),  # undated
        ]
    )


def test_snapshot_run_dedups_and_quarantines(quirky_snapshot, tmp_path, capsys):
    home = Home(tmp_path / "home")
    code = main(["run", "--source", "snapshot", "--snapshot", str(quirky_snapshot), "--home", str(home.root), "--select", CATALOG_ONLY])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Materialized" in out and "movies" in out

    table = pd.read_parquet(home.table_path("movies")).set_index("id")
    assert sorted(table.index) == [1, 2, 3, 5, 6]
    assert table.loc[1, "title"] == "Harbor Lights (Director's Cut)" and table.loc[1, "partition"] == "2003"
    assert list(table.loc[3, "genres"]) == ["Drama", "Foreign"]
    assert table.loc[5, "overview"] == "" and pd.isna(table.loc[6, "release_year"]) and table.loc[6, "partition"] == "undated"
    # movie 1 is stored in two partitions, but only once in the movie table
    assert 1 in set(pd.read_parquet(home.partition_path("raw_movie_records", "1999"))["id"])
    assert 1 in set(pd.read_parquet(home.partition_path("raw_movie_records", "2003"))["id"])

    quarantine = [json.loads(line) for line in (home.quarantine_dir / "raw_movie_records.jsonl").read_text().splitlines()]
    assert [(q["line"], q["reason"].split(":")[0]) for q in quarantine] == [(4, "malformed JSON")]
    assert quarantine[0]["file"].endswith("movies.jsonl")

    vocab = pd.read_parquet(home.table_path("genre_vocabulary")).set_index("id")
    assert vocab.loc[10769, "name"] == "Foreign" and bool(vocab.loc[10769, "legacy"])

    cooc = pd.read_parquet(home.table_path("genre_cooccurrence")).set_index("genre")
    assert cooc.loc["Action", "Adventure"] == 1 and cooc.loc["Action", "Action"] == 1 and cooc.loc["Drama", "Drama"] == 2
    assert (home.reports_dir / "genre_coclusters.png").stat().st_size > 1000

    # runs, materializations and check results are in the home's Dagster instance
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    runs = instance.get_runs()
    assert len(runs) == 2 and all(r.is_success for r in runs)
    latest = instance.get_latest_materialization_event(dg.AssetKey("movies"))
    meta = latest.asset_materialization.metadata
    assert meta["dagster/row_count"].value == 5 and meta["quarantined_lines"].value == 1 and meta["duplicates_merged"].value == 1
    partitions = instance.get_materialized_partitions(dg.AssetKey("raw_movie_records"))
    assert {"1999", "2001", "2003", "undated", "1874", "2030"} <= partitions and len(partitions) == 158
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("movies"), "genre_ids_known")]
    )
    assert check[dg.AssetCheckKey(dg.AssetKey("movies"), "genre_ids_known")].status.value == "SUCCEEDED"


def test_unknown_genre_id_fails_its_check_but_keeps_the_movie(snapshot_factory, tmp_path, capsys):
    folder = snapshot_factory([movie(1, "Mystery Box", "2010-01-01", [18, 4242]), movie(2, "Fine", "2010-02-01", [18])])
    home = Home(tmp_path / "home")
    code = main(["run", "--snapshot", str(folder), "--home", str(home.root), "--years", "2010-2010", "--select", CATALOG_ONLY])
    out = capsys.readouterr().out
    assert code == 0
    assert "check movies:genre_ids_known FAILED" in out
    table = pd.read_parquet(home.table_path("movies")).set_index("id")
    assert list(table.loc[1, "genres"]) == ["Drama", "Unknown (4242)"]
    assert home.partition_paths("raw_movie_records") == [home.partition_path("raw_movie_records", "2010")]


def test_rerunning_a_partition_overwrites_it(snapshot_factory, tmp_path, capsys):
    home = Home(tmp_path / "home")
    first = snapshot_factory([movie(1, "A", "2010-01-01", [18]), movie(2, "B", "2010-01-01", [18])], name="v1")
    assert main(["run", "--snapshot", str(first), "--home", str(home.root), "--years", "2010", "--select", CATALOG_ONLY]) == 0
    second = snapshot_factory([movie(2, "B2", "2010-01-01", [18])], name="v2")
    assert main(["run", "--snapshot", str(second), "--home", str(home.root), "--years", "2010", "--select", CATALOG_ONLY]) == 0
    raw = pd.read_parquet(home.partition_path("raw_movie_records", "2010"))
    assert list(raw["id"]) == [2]
    assert list(pd.read_parquet(home.table_path("movies"))["title"]) == ["B2"]
    assert not list(home.partition_path("raw_movie_records", "2010").parent.glob(".*.tmp"))


def test_failure_exits_nonzero_and_names_asset_and_partitions(tmp_path, capsys):
    code = main(["run", "--snapshot", str(tmp_path / "missing"), "--home", str(tmp_path / "home"), "--years", "1990-1991"])
    err = capsys.readouterr().err
    assert code == 1
    assert "raw_movie_records" in err and "1990" in err and "1991" in err and "does not exist" in err


def test_bad_years_argument(tmp_path, capsys):
    assert main(["run", "--home", str(tmp_path), "--years", "abc"]) == 2
    assert "--years" in capsys.readouterr().err


def test_two_homes_do_not_interfere(snapshot_factory, tmp_path, capsys):
    a = snapshot_factory([movie(1, "Only In A", "2011-01-01", [18])], name="a")
    b = snapshot_factory([movie(2, "Only In B", "2011-01-01", [35])], name="b")
    home_a, home_b = Home(tmp_path / "ha"), Home(tmp_path / "hb")
    for snap, home in ((a, home_a), (b, home_b)):
        assert main(["run", "--snapshot", str(snap), "--home", str(home.root), "--years", "2011", "--select", CATALOG_ONLY]) == 0
    assert list(pd.read_parquet(home_a.table_path("movies"))["id"]) == [1]
    assert list(pd.read_parquet(home_b.table_path("movies"))["id"]) == [2]
    assert len(dg.DagsterInstance.from_config(str(home_a.dagster_home)).get_runs()) == 2
