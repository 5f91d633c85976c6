"""The whole asset graph, every partition, on a small synthetic demo catalog (~80 movies)."""

import dagster as dg
import pandas as pd
import pytest

from genre_pipeline.cli.main import main
from genre_pipeline.definitions import build_definitions
from genre_pipeline.defs.settings import PipelineSettings
from genre_pipeline.storage.home import Home

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """One full demo materialization shared by the tests in this module."""
    home = Home(tmp_path_factory.mktemp("demo") / "home")
    code = main(["run", "--source", "demo", "--demo-movies", "80", "--home", str(home.root)])
    assert code == 0
    return home


def test_every_asset_is_materialized(demo_home):
    defs = build_definitions(PipelineSettings(home=str(demo_home.root), demo_movies=80))
    graph = defs.resolve_asset_graph()
    instance = dg.DagsterInstance.from_config(str(demo_home.dagster_home))
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.partitions_def is None:
            assert instance.get_latest_materialization_event(key) is not None, key
        elif key == dg.AssetKey("raw_movie_records"):
            assert len(instance.get_materialized_partitions(key)) == 158


def test_demo_catalog_flows_into_the_movie_table(demo_home):
    catalog = demo_home.demo_catalog_dir
    assert (catalog / "SYNTHETIC.md").is_file()
    movies = pd.read_parquet(demo_home.table_path("movies"))
    raw_rows = sum(len(pd.read_parquet(p)) for p in demo_home.partition_paths("raw_movie_records"))
    assert movies["id"].is_unique
    assert 70 <= len(movies) <= 80 < raw_rows + 1  # duplicates across partitions were merged
    assert movies["title"].str.startswith("Synthetic").all()
    posters = pd.read_parquet(demo_home.table_path("movie_posters"))
    fetched = posters[posters["status"].isin(["fetched", "present"])]
    assert len(fetched) > 0.8 * len(movies)
    assert all((demo_home.posters_dir / name).is_file() for name in fetched["poster_file"])


def test_rerun_fetches_no_poster_twice(demo_home, capsys):
    code = main(["run", "--source", "demo", "--home", str(demo_home.root), "--select", "movie_posters"])
    assert code == 0
    posters = pd.read_parquet(demo_home.table_path("movie_posters"))
    assert (posters["status"] != "fetched").all()
    assert (posters["status"] == "present").sum() > 0
