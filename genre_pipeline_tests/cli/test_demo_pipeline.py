"""The whole graph through the CLI on the synthetic demo catalog, then what a user reads back.

One 600-movie demo home (posters at 32 px with random VGG16 weights) and one poster-less
snapshot home (sentence encoder switched off) are shared by the tests of this module.
"""

import gzip
import json
import os
import shutil

import dagster as dg
import numpy as np
import pytest

from genre_pipeline.catalog.posters import PosterIndex
from genre_pipeline.cli.main import main
from genre_pipeline.demo.generator import write_demo_catalog
from genre_pipeline.features.sentence import ENCODER_ENV as SENTENCE_ENV
from genre_pipeline.features.vgg16 import PosterFeatures
from genre_pipeline.models import fusion as fusion_mod, labels
from genre_pipeline.models.registry import MODEL_NAMES
from genre_pipeline.storage.generations import GenerationStore
from genre_pipeline.storage.home import Home

TRAINED_IN_DEMO = tuple(name for name in MODEL_NAMES if name != "text_finetuned")  # the demo leaves fine-tuning off

pytestmark = pytest.mark.slow

N_MOVIES = 600


def current(home: Home):
    return GenerationStore(home).current()


def latest_metadata(home: Home, asset: str) -> dict:
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None, asset
    return event.asset_materialization.metadata


def record(home: Home, name: str) -> dict:
    return current(home).read("model_evaluation").records[name]


def with_env(name: str, value: str):
    previous = os.environ.get(name)
    os.environ[name] = value

    def restore() -> None:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous

    return restore


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("demo") / "home")
    restore = with_env("GENRE_PIPELINE_VGG16_IMAGE_SIZE", "32")
    try:
        code = main(["run", "--source", "demo", "--demo-movies", str(N_MOVIES), "--home", str(home.root)])
    finally:
        restore()
    assert code == 0
    return home


@pytest.fixture(scope="module")
def posterless_home(tmp_path_factory):
    """A snapshot without posters (poster_path null, no posters/) and an empty overview; no sentence encoder."""
    folder = tmp_path_factory.mktemp("posterless") / "snapshot"
    write_demo_catalog(folder, n_movies=100, seed=3)
    shutil.rmtree(folder / "posters")
    records = [json.loads(line) for line in gzip.open(folder / "movies.jsonl.gz", "rt", encoding="utf-8").read().splitlines()]
    for movie in records:
        movie["poster_path"] = None
    records[0]["overview"] = ""
    with gzip.open(folder / "movies.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in records))
    home = Home(folder.parent / "home")
    restore = with_env(SENTENCE_ENV, "none")
    try:
        code = main(["run", "--source", "snapshot", "--snapshot", str(folder), "--home", str(home.root),
                     "--select", "*model_evaluation"])
    finally:
        restore()
    assert code == 0
    return home


def test_every_asset_is_published_and_the_summary_names_the_synthetic_source(demo_home, capsys):
    generation = current(demo_home)
    published = set(generation.assets())
    graph_assets = {"raw_movie_records", "genre_vocabulary", "movies", "genre_cooccurrence", "movie_posters", "genre_labels",
                    "data_split", "bow_features", "tfidf_features", "word2vec_embeddings", "sentence_embeddings",
                    "poster_embeddings", *MODEL_NAMES, "model_evaluation"}
    assert graph_assets <= published
    assert "imdb_title_basics" not in published  # not configured: nothing materialized, not shown as fresh
    instance = dg.DagsterInstance.from_config(str(demo_home.dagster_home))
    assert instance.get_latest_materialization_event(dg.AssetKey("imdb_title_basics")) is None
    capsys.readouterr()
    assert main(["run", "--source", "demo", "--home", str(demo_home.root), "--select", "key:genre_vocabulary"]) == 0
    out = capsys.readouterr().out
    assert "source: demo (synthetic)" in out and "genre_vocabulary" in out


@pytest.mark.parametrize("name", TRAINED_IN_DEMO)
def test_each_model_beats_the_most_frequent_baseline(demo_home, name):
    figures = record(demo_home, name)
    assert figures["status"] == "trained"
    assert figures["micro_f1"] > figures["baseline"]["micro_f1"] + 0.02, figures
    assert figures["beats_baseline"] is True
    assert figures["split_sizes"]["test"] > 40 and figures["n_evaluated"] > 40
    metadata = latest_metadata(demo_home, name)
    assert metadata["micro_f1"].value == pytest.approx(figures["micro_f1"], abs=1e-4)
    assert [c.name for c in metadata["per_genre"].schema.columns] == ["genre", "precision", "recall", "f1", "support", "predicted"]
    assert "most frequent" in metadata["evaluation"].records[1].data["model"]
    model = current(demo_home).read(name)
    assert model.thresholds is not None and model.thresholds.info["validation_movies"] > 0
    assert all(0.0 < v < 1.0 for v in model.thresholds.values)


def test_every_model_uses_the_same_recorded_split(demo_home):
    generation = current(demo_home)
    split = generation.read("data_split")
    genre_labels = generation.read("genre_labels")
    assert list(split["id"]) == list(genre_labels.table["id"]) and set(split["split"]) == {"train", "validation", "test"}
    sizes = {json.dumps(record(demo_home, name)["split_sizes"], sort_keys=True) for name in TRAINED_IN_DEMO}
    assert len(sizes) == 1


def test_fusion_beats_each_single_modality(demo_home):
    fusion, text, poster = (record(demo_home, n) for n in ("fusion", "text_plus", "mlp_poster"))
    assert fusion["method"] == "late"
    assert fusion["n_evaluated"] == text["n_evaluated"] >= poster["n_evaluated"] > 50
    for single in (text, poster):
        best_micro = max(single["micro_f1"], *(d["micro_f1"] for d in single["decisions"].values()))
        best_macro = max(single["macro_f1"], *(d["macro_f1"] for d in single["decisions"].values()))
        assert fusion["micro_f1"] > best_micro + 0.02, single["model"]
        assert fusion["macro_f1"] > best_macro + 0.02, single["model"]


def test_every_movie_gets_a_fusion_score_even_without_poster_or_overview(demo_home):
    generation = current(demo_home)
    genre_labels = generation.read("genre_labels")
    data = labels.labelled_data(genre_labels, generation.read("data_split"))
    posters = PosterFeatures.combine(generation.read_partitions("poster_embeddings"))
    sentence = generation.read("sentence_embeddings").aligned(data.ids)
    model = generation.read("fusion")
    matrix, has_poster = posters.align(data.ids)
    texts = [f"{t}. {o}" if o else t for t, o in zip(genre_labels.table["title"], genre_labels.table["overview"])]
    scores = model.predict_proba(fusion_mod.FusionInput(texts, matrix, has_poster, sentence))
    no_overview = (genre_labels.table["overview"].str.strip() == "").to_numpy()
    assert (~has_poster).any() and no_overview.any()  # the demo catalog has both quirks
    assert scores.shape == (len(data.ids), len(data.labels)) and np.isfinite(scores).all()
    assert model.decision_rule == "thresholds" and len(model.thresholds.values) == len(data.labels)


def test_comparison_table_chart_and_report(demo_home, capsys):
    metadata = latest_metadata(demo_home, "model_evaluation")
    listed = [row.data["model"] for row in metadata["comparison"].records]
    assert all(name in listed or f"{name}:" in metadata["skipped"].value for name in MODEL_NAMES)
    best = max(listed, key=lambda name: record(demo_home, name)["micro_f1"])
    assert metadata["best_micro_f1"].value == pytest.approx(record(demo_home, best)["micro_f1"], abs=1e-4)
    assert metadata["chart"].value.startswith("![model comparison](data:image/png;base64,")
    assert (current(demo_home).root / "models" / "model_evaluation" / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["report", "--json", "--home", str(demo_home.root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["models"]) == list(MODEL_NAMES)  # display order
    assert report["models"]["text_finetuned"]["status"] == "skipped"
    for entry in (report["models"][name] for name in TRAINED_IN_DEMO):
        for key in ("micro_f1", "macro_f1", "samples_f1", "precision", "recall"):
            assert 0.0 < entry[key] <= 1.0
        assert set(entry["split_sizes"]) == {"train", "validation", "test"}
        assert entry["source"].startswith("demo (SYNTHETIC")
        assert entry["baseline"]["micro_f1"] < entry["micro_f1"]
    assert report["models"]["mlp_poster"]["weights"].startswith("random")
    assert {"thresholds", "top3"} <= set(report["models"]["fusion"]["decisions"])
    assert main(["report", "--home", str(demo_home.root)]) == 0
    text = capsys.readouterr().out
    assert "svc_tfidf" in text and "baseline" in text and "RANDOM VGG16 weights" in text


def test_rerun_embeds_and_encodes_nothing_again(demo_home):
    before = latest_metadata(demo_home, "poster_embeddings")
    restore = with_env("GENRE_PIPELINE_VGG16_IMAGE_SIZE", "32")  # the settings the posters were embedded with
    try:
        code = main(["run", "--source", "demo", "--home", str(demo_home.root),
                     "--select", "key:poster_embeddings or key:sentence_embeddings"])
    finally:
        restore()
    assert code == 0
    after = latest_metadata(demo_home, "poster_embeddings")
    assert after["embedded_now"].value == 0 and after["from_store"].value == before["posters"].value - before["failed"].value
    sentence = latest_metadata(demo_home, "sentence_embeddings")
    assert sentence["encoded_now"].value == 0 and sentence["from_store"].value == N_MOVIES
    assert "all-MiniLM-L6-v2" in sentence["encoder"].value and sentence["dim"].value == 384


def test_predict(demo_home, capsys, tmp_path):
    capsys.readouterr()
    poster = PosterIndex.combine(current(demo_home).read_partitions("movie_posters"))
    poster_file = poster.path(poster.usable()["poster_file"].iloc[0])
    overview = "A ghost haunts an old house and a family hears screams at night."
    assert main(["predict", "--overview", overview, "--poster", str(poster_file), "--model", "all", "--json",
                 "--home", str(demo_home.root)]) == 0
    predictions = {p["model"]: p for p in json.loads(capsys.readouterr().out)["predictions"]}
    assert set(predictions) == set(TRAINED_IN_DEMO)
    for p in predictions.values():
        probabilities = [r["probability"] for r in p["ranked"]]
        assert probabilities == sorted(probabilities, reverse=True)
    assert len(predictions["mlp_poster"]["top3"]) == 3
    assert main(["predict", "--overview", overview, "--poster", str(poster_file), "--json", "--home", str(demo_home.root)]) == 0
    assert [p["model"] for p in json.loads(capsys.readouterr().out)["predictions"]] == ["fusion"]  # both modalities
    long_overview = tmp_path / "overview.txt"
    long_overview.write_text(overview * 4000)  # far past what a shell argument may hold
    assert main(["predict", "--overview-file", str(long_overview), "--model", "naive_bayes_counts",
                 "--home", str(demo_home.root)]) == 0
    assert capsys.readouterr().out.startswith("naive_bayes_counts (counts; predicted:")
    assert main(["predict", "--overview", overview, "--model", "svm", "--home", str(demo_home.root)]) == 1
    assert "unknown model 'svm'; available models:" in capsys.readouterr().err
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    assert main(["predict", "--poster", str(broken), "--model", "mlp_poster", "--home", str(demo_home.root)]) == 1
    assert "cannot read poster" in capsys.readouterr().err
    assert main(["predict", "--overview", "   ", "--home", str(demo_home.root)]) == 2
    assert "blank" in capsys.readouterr().err


def test_a_posterless_catalog_skips_the_poster_model_and_classifies_every_movie(posterless_home, capsys):
    generation = current(posterless_home)
    assert record(posterless_home, "mlp_poster")["status"] == "skipped"
    assert record(posterless_home, "mlp_poster")["reason"] == "no posters in this catalog"
    assert generation.read("mlp_poster").reason == "no posters in this catalog"
    assert latest_metadata(posterless_home, "poster_embeddings")["partition_rows"].value == 0
    capsys.readouterr()
    assert main(["report", "--json", "--home", str(posterless_home.root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["models"]["mlp_poster"]["status"] == "skipped"
    assert report["models"]["svc_tfidf"]["source"].startswith("snapshot ")
    assert "mlp_poster: no posters in this catalog" in latest_metadata(posterless_home, "model_evaluation")["skipped"].value
    assert main(["predict", "--overview", "A heist goes wrong.", "--home", str(posterless_home.root), "--json"]) == 0
    answered = {p["model"] for p in json.loads(capsys.readouterr().out)["predictions"]}
    assert "mlp_poster" not in answered and {"svc_tfidf", "naive_bayes_counts", "text_plus"} <= answered


def test_sentence_encoder_switched_off_trains_text_plus_without_it(posterless_home):
    assert latest_metadata(posterless_home, "sentence_embeddings")["encoder"].value == "none (switched off)"
    model = current(posterless_home).read("text_plus")
    assert "sentence" not in model.info.get("sources", ["svm"])
    assert record(posterless_home, "text_plus")["status"] == "trained"


def test_the_demo_leaves_fine_tuning_off_and_says_so(demo_home, capsys):
    figures = record(demo_home, "text_finetuned")
    assert figures["status"] == "skipped" and "fine-tuning off in the demo" in figures["reason"]
    capsys.readouterr()
    assert main(["run", "--source", "demo", "--home", str(demo_home.root), "--select", "key:text_finetuned"]) == 0
    summary = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("text_finetuned ")]
    assert len(summary) == 1 and "not trained: fine-tuning off in the demo" in summary[0], summary


def test_predict_many_movies_from_a_json_lines_file(demo_home, capsys, tmp_path):
    haunted = {"id": 7, "title": "Night Terror", "overview": "A ghost haunts the old house and the family hears screams."}
    movies = tmp_path / "movies.jsonl"
    movies.write_text(json.dumps(haunted) + "\n\nnot json\n" + json.dumps({"overview": "Two strangers fall in love in Paris."}) + "\n")
    capsys.readouterr()
    assert main(["predict", "--input", str(movies), "--home", str(demo_home.root)]) == 1  # a line could not be read
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line.get("line") for line in lines] == [1, None, 4] and lines[0]["id"] == 7
    assert lines[1]["error"].startswith(f"{movies}:3: not a JSON object")
    assert "1 of 3 movies could not be classified" in captured.err
    assert main(["predict", "--overview", haunted["overview"], "--title", haunted["title"], "--json",
                 "--home", str(demo_home.root)]) == 0
    alone = json.loads(capsys.readouterr().out)["predictions"]
    assert [p["model"] for p in lines[0]["predictions"]] == [p["model"] for p in alone]
    assert [p["predicted"] for p in lines[0]["predictions"]] == [p["predicted"] for p in alone]
    assert main(["predict", "--input", str(movies), "--overview", "x", "--home", str(demo_home.root)]) == 2
