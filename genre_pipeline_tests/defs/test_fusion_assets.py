"""Issue 5 through Dagster: text_plus + fusion assets on a 600-movie synthetic demo catalog.

Materializes the fusion model's upstream graph (plus ``mlp_poster``, the tutorial's poster
model) in a temp home with the CLI, then checks what a user sees: the fusion model beats each
single modality on the test split, every movie (with or without poster / overview) has a
prediction, thresholds are stored with the models, ``predict`` defaults to fusion when given
an overview and a poster, and the comparison / report list old and new models side by side.
Poster embeddings use random VGG16 weights at 32 px (the demo posters' palettes survive).
"""

import json
import os

import numpy as np
import pandas as pd
import pytest

from genre_pipeline.cli.main import main
from genre_pipeline.storage.home import Home

pytestmark = pytest.mark.slow

N_MOVIES = 600


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("fusion_assets") / "home"
    previous = os.environ.get("GENRE_PIPELINE_VGG16_IMAGE_SIZE")
    os.environ["GENRE_PIPELINE_VGG16_IMAGE_SIZE"] = "32"
    try:
        selection = '+key:"fusion" or key:"mlp_poster" or key:"model_evaluation"'
        code = main(["run", "--source", "demo", "--demo-movies", str(N_MOVIES), "--home", str(root), "--select", selection])
    finally:
        if previous is None:
            os.environ.pop("GENRE_PIPELINE_VGG16_IMAGE_SIZE", None)
        else:
            os.environ["GENRE_PIPELINE_VGG16_IMAGE_SIZE"] = previous
    assert code == 0
    return Home(root)


def _evaluation(home: Home, name: str) -> dict:
    return json.loads((home.reports_dir / "evaluation" / f"{name}.json").read_text())


def test_fusion_beats_each_single_modality(home):
    fusion, text, poster = (_evaluation(home, n) for n in ("fusion", "text_plus", "mlp_poster"))
    assert fusion["status"] == text["status"] == poster["status"] == "trained"
    assert fusion["method"] == "late"
    assert fusion["n_evaluated"] == text["n_evaluated"] >= poster["n_evaluated"] > 50
    for single in (text, poster):
        best_micro = max(single["micro_f1"], *(d["micro_f1"] for d in single["decisions"].values()))
        best_macro = max(single["macro_f1"], *(d["macro_f1"] for d in single["decisions"].values()))
        assert fusion["micro_f1"] > best_micro + 0.02, single["model"]
        assert fusion["macro_f1"] > best_macro + 0.02, single["model"]


def test_every_movie_gets_a_fusion_prediction_even_without_poster_or_overview(home):
    scores = pd.read_parquet(home.tables_dir / "model_scores" / "fusion.parquet")
    labels = pd.read_parquet(home.table_path("genre_labels"))
    assert set(scores["id"]) == set(labels["id"])
    with np.load(home.features_dir / "poster_embeddings.npz") as data:
        with_poster = set(int(i) for i in data["ids"])
    movies = pd.read_parquet(home.table_path("movies"), columns=["id", "overview"])
    no_poster = set(movies["id"]) - with_poster
    no_overview = set(movies.loc[movies["overview"].fillna("").str.strip() == "", "id"])
    assert no_poster and no_overview  # the demo catalog has both quirks
    matrix = np.array(scores["scores"].tolist())
    assert np.isfinite(matrix).all() and matrix.shape[1] > 10
    by_id = scores.set_index("id")
    for movie_id in list(no_poster)[:5] + list(no_overview)[:5]:
        assert len(by_id.loc[movie_id, "scores"]) == matrix.shape[1]
    # thresholds stored with the model decide; every movie gets at least one genre when enabled
    meta = json.loads(next((home.models_dir / "fusion").glob("*/meta.json")).read_text())
    assert meta["decision_rule"] == "thresholds" and len(meta["info"]["thresholds"]["values"]) == matrix.shape[1]
    if meta["info"]["thresholds"]["at_least_one"]:
        assert all(len(p) >= 1 for p in scores["predicted"])


def test_thresholds_are_stored_with_every_probabilistic_model(home):
    for name in ("text_plus", "fusion", "mlp_poster"):
        folder = home.models_dir / name / (home.models_dir / name / "LATEST").read_text().strip()
        info = json.loads((folder / "meta.json").read_text())["info"]
        thresholds = info["thresholds"]
        assert thresholds["info"]["validation_movies"] > 0, name
        assert all(0.0 < v < 1.0 for v in thresholds["values"]), name


def test_predict_uses_fusion_when_overview_and_poster_are_given(home, capsys):
    movies = pd.read_parquet(home.table_path("movies"), columns=["id", "overview", "poster_path"])
    posters = pd.read_parquet(home.table_path("movie_posters"))
    row = posters[posters["poster_file"].notna()].iloc[0]
    overview = movies.set_index("id").loc[row["id"], "overview"] or "A lonely robot explores a deserted planet."
    poster = home.posters_dir / row["poster_file"]
    assert main(["predict", "--overview", overview, "--poster", str(poster), "--home", str(home.root), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    predictions = answer["predictions"] if isinstance(answer, dict) else answer
    assert [p["model"] for p in predictions] == ["fusion"]
    assert predictions[0]["decision_rule"] == "thresholds" and predictions[0]["predicted"]
    # overview only: fusion answers from the text (no poster needed)
    assert main(["predict", "--overview", overview, "--model", "fusion", "--home", str(home.root), "--json"]) == 0
    text_only = json.loads(capsys.readouterr().out)
    text_only = text_only["predictions"] if isinstance(text_only, dict) else text_only
    assert text_only[0]["model"] == "fusion" and text_only[0]["ranked"]


def test_comparison_and_report_show_old_and_new_models(home, capsys):
    comparison = json.loads((home.reports_dir / "model_comparison.json").read_text())
    assert {"fusion", "text_plus", "mlp_poster"} <= set(comparison["models"])
    assert main(["report", "--json", "--home", str(home.root)]) == 0
    report = json.loads(capsys.readouterr().out)
    fusion = report["models"]["fusion"]
    assert {"thresholds", "top3"} <= set(fusion["decisions"])
    assert main(["report", "--home", str(home.root)]) == 0
    table = capsys.readouterr().out
    assert "fusion" in table and "text_plus" in table and "mlp_poster" in table
