"""Predicting a new movie's genres with saved models, found by name through a loader."""

import dataclasses
import json

import pytest

from genre_pipeline.models.predict import PredictionError, predict_genres
from genre_pipeline.models.registry import load_model, save_model

OVERVIEW = "A haunted house, a ghost and a scream in the night: terror for a family."


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved_models")
    for name, entry in trained.items():
        save_model(entry.model, folder / name)
    return folder, sorted(trained)


def _ask(saved, overview, **kwargs):
    folder, names = saved
    return predict_genres(lambda name: load_model(folder / name), names, overview, **kwargs)


def test_every_text_model_ranks_every_genre(saved, demo):
    results = _ask(saved, OVERVIEW, title="House of Screams")
    assert {r.model for r in results} == {"svc_tfidf", "naive_bayes_counts", "mlp_word2vec", "text_plus", "fusion"}
    for result in results:
        probabilities = [p for _, p in result.ranked]
        assert probabilities == sorted(probabilities, reverse=True) and len(result.ranked) == len(demo.labels)
        assert all(0 <= p <= 1 for p in probabilities)
        assert result.decision_rule == "thresholds"  # every trained model carries validation thresholds
        assert result.predicted == [g for g, _ in result.ranked if g in result.predicted]  # in rank order
        assert result.top3 == [g for g, _ in result.ranked[:3]]
    json.dumps([r.as_dict() for r in results])


def test_a_poster_and_a_text_ask_the_fusion_model_and_a_poster_alone_the_poster_model(saved, demo):
    poster = next(f for f in demo.poster_files if f is not None)
    (fusion,) = _ask(saved, OVERVIEW, poster=poster)
    assert fusion.model == "fusion" and "RANDOM VGG16" in " ".join(fusion.notes)
    (alone,) = _ask(saved, None, poster=poster)
    assert alone.model == "mlp_poster" and "RANDOM VGG16" in " ".join(alone.notes)
    everyone = _ask(saved, OVERVIEW, poster=poster, model="all")
    assert len(everyone) == 6


def test_prediction_errors_are_clear(saved, tmp_path):
    with pytest.raises(PredictionError, match="unknown model 'svm'; available models: fusion, mlp_poster"):
        _ask(saved, "text", model="svm")
    broken = tmp_path / "poster.jpg"
    broken.write_bytes(b"\x00\x01 not an image")
    with pytest.raises(PredictionError, match="model 'mlp_poster': cannot read poster .*poster.jpg"):
        _ask(saved, None, poster=broken, model="mlp_poster")
    with pytest.raises(PredictionError, match="cannot read poster .*absent.jpg: no such file"):
        _ask(saved, "text", poster=tmp_path / "absent.jpg")
    with pytest.raises(PredictionError, match="model 'mlp_poster' classifies posters: give --poster FILE"):
        _ask(saved, "text", model="mlp_poster")
    with pytest.raises(PredictionError, match="no trained model is available"):
        predict_genres(lambda name: load_model(tmp_path / name), [], "text")
    with pytest.raises(PredictionError, match="model 'svc_tfidf' cannot be loaded: cannot load the model in .*: no such folder"):
        predict_genres(lambda name: load_model(tmp_path / name), ["svc_tfidf"], "text")


def test_a_missing_imagenet_weights_file_is_a_clear_error(trained, demo, tmp_path):
    model = trained["mlp_poster"].model
    imagenet = {**model.vgg16, "weights": "imagenet", "weights_file": str(tmp_path / "vgg16-397923af.pth")}
    folder = save_model(dataclasses.replace(model, vgg16=imagenet), tmp_path / "mlp_poster")
    poster = next(f for f in demo.poster_files if f is not None)
    with pytest.raises(PredictionError, match="mlp_poster.*vgg16-397923af.pth"):
        predict_genres(lambda name: load_model(folder), ["mlp_poster"], None, poster=poster, model="mlp_poster")
