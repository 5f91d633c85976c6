"""The tutorial's networks (torch): word2vec and poster MLPs on the demo catalog."""

import numpy as np
import pytest

from genre_pipeline.features.vgg16 import PosterFeatures
from genre_pipeline.models.base import PredictionError, TooFewTrainingMovies
from genre_pipeline.models.evaluation import evaluate_model
from genre_pipeline.models.mlp import MLPSettings, train_mlp_poster, train_mlp_word2vec
from genre_pipeline_tests.models.conftest import VGG16

FAST = MLPSettings(max_epochs=8)


def test_the_word2vec_network_beats_the_baseline_under_the_top3_rule(trained, demo):
    entry = trained["mlp_word2vec"]
    result = evaluate_model(entry.model, entry.X, demo.data, entry.available)
    assert result["decision_rule"] == "top3" and result["coverage"] > 0.9 and result["n_evaluated"] >= 40
    assert result["micro_f1"] > result["baseline"]["micro_f1"] + 0.02, result
    assert result["macro_f1"] > result["baseline"]["macro_f1"]
    pred = entry.model.predict(entry.X[:10])
    assert (pred.sum(axis=1) == 3).all()  # the tutorial's rule: exactly three genres each
    assert entry.model.info["epochs_run"] <= MLPSettings().max_epochs and 1 <= entry.model.info["best_epoch"]


def test_training_is_seeded(demo, features):
    first = train_mlp_word2vec(features.word2vec, demo.data, FAST)
    again = train_mlp_word2vec(features.word2vec, demo.data, FAST)
    other = train_mlp_word2vec(features.word2vec, demo.data, MLPSettings(max_epochs=8, seed=1))
    X = features.word2vec.matrix[:20]
    assert np.array_equal(first.predict_proba(X), again.predict_proba(X))
    assert not np.allclose(first.predict_proba(X), other.predict_proba(X))


def test_a_new_poster_is_embedded_exactly_like_the_training_posters(trained, demo, features):
    entry = trained["mlp_poster"]
    row = int(np.flatnonzero(demo.data.rows("test", entry.available))[0])
    X = entry.model.featurize(None, None, demo.poster_files[row])
    assert np.allclose(X, entry.X[row : row + 1], atol=1e-5)
    assert np.allclose(entry.model.predict_proba(X), entry.model.predict_proba(entry.X[row : row + 1]), atol=1e-6)
    assert entry.model.notes(poster_given=True) == ["poster features come from RANDOM VGG16 weights (demo / tests), not ImageNet"]
    with pytest.raises(PredictionError, match="model 'mlp_poster' classifies posters: give --poster FILE"):
        entry.model.featurize("an overview", "a title", None)


def test_an_overview_without_a_known_word_cannot_be_featurised(trained):
    with pytest.raises(PredictionError, match="none of the overview's words is in its word2vec vocabulary"):
        trained["mlp_word2vec"].model.featurize("zzqx qqzx", None)


def test_too_few_posters_is_a_named_error(demo, features):
    train_ids = demo.ids[demo.data.rows("train")][:1]
    one = PosterFeatures(ids=train_ids, matrix=np.ones((1, features.posters.dim), np.float32), info={})
    with pytest.raises(TooFewTrainingMovies, match="only 1 training movies have a poster"):
        train_mlp_poster(one, VGG16, demo.data, FAST)
