"""The code location loads, and every asset the README promises is in it."""

import dagster as dg

from genre_pipeline.definitions import build_definitions
from genre_pipeline.defs.partitions import release_year_partitions, year_keys_between
from genre_pipeline.defs.settings import PipelineSettings


def _readme_asset_table() -> set[str]:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| group | asset |"):].split("\n\n", 1)[0]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        names |= set(re.findall(r"`([a-z_0-9]+)`", row.split("|")[2]))
    return names


def test_code_location_loads_with_env_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("GENRE_PIPELINE_HOME", str(tmp_path / "home"))
    import importlib

    import genre_pipeline.definitions as module

    module = importlib.reload(module)
    defs = module.defs
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    readme_assets = {
        "raw_movie_records", "movies", "genre_vocabulary", "genre_cooccurrence", "movie_posters",
        "movie_changes", "imdb_title_basics", "imdb_tmdb_genre_comparison",
        "genre_labels", "data_split", "bow_features", "tfidf_features", "word2vec_embeddings", "sentence_embeddings",
        "poster_embeddings",
        "svc_tfidf", "naive_bayes_counts", "mlp_word2vec", "mlp_poster", "text_plus", "fusion", "model_evaluation",
    }
    assert readme_assets <= keys, readme_assets - keys
    # ... and the README's asset table lists exactly the assets of the code location
    assert _readme_asset_table() == keys, (_readme_asset_table() ^ keys)
    # the implicit job must resolve (this fails on mismatched partitions or missing resources)
    defs.resolve_implicit_global_asset_job_def()
    assert graph.get(dg.AssetKey("raw_movie_records")).partitions_def == release_year_partitions


def test_movies_has_its_checks(tmp_path):
    defs = build_definitions(PipelineSettings(home=str(tmp_path)))
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key == dg.AssetKey("movies")}
    assert checks == {"unique_id", "non_empty_title", "genre_ids_known"}


def test_release_year_partitions():
    keys = release_year_partitions.get_partition_keys()
    assert keys[0] == "1874" and keys[-2] == "2030" and keys[-1] == "undated"
    assert len(keys) == 158
    assert year_keys_between(2015, 2016) == ["2015", "2016"]


def test_settings_reject_bad_source(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="unknown source"):
        PipelineSettings(home=str(tmp_path), source="imdb")
    with pytest.raises(ValueError, match="snapshot directory"):
        PipelineSettings(home=str(tmp_path), source="snapshot")
