"""The stronger text model (genre_pipeline.models.text_plus) on a synthetic demo catalog."""

from __future__ import annotations

import numpy as np
import pytest

from genre_pipeline.models.metrics import f1_summary, most_frequent_baseline
from genre_pipeline.models.text_plus import compose_text, compose_texts, ranking_quality, train_text_plus
from genre_pipeline.models.thresholds import fit_thresholds
from genre_pipeline_tests.fusion_helpers import demo_arrays


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_arrays(tmp_path_factory.mktemp("demo_text") / "catalog", n_movies=300, seed=1)


def _rows(demo, split):
    return np.flatnonzero((demo.split == split) & (demo.Y.sum(axis=1) > 0))


def test_compose_text():
    assert compose_text("A heist.", "Big Job") == "Big Job. A heist."
    assert compose_text("", None) == ""
    assert compose_text(None, "Only Title") == "Only Title"
    assert compose_texts(["x"], None) == ["x"]


def test_text_plus_learns_calibrated_genres_and_is_deterministic(demo):
    texts = compose_texts(demo.overviews, demo.titles)
    train, val, test = _rows(demo, "train"), _rows(demo, "validation"), _rows(demo, "test")
    pick = lambda rows: [texts[i] for i in rows]  # noqa: E731
    model = train_text_plus(pick(train), demo.Y[train], demo.labels, pick(val), demo.Y[val])
    assert model.C in (0.01, 0.03, 0.1, 0.3) and set(model.info["C_grid_validation_quality"]) == {"0.01", "0.03", "0.1", "0.3"}
    assert model.oof_proba.shape == (len(train), len(demo.labels))
    proba = model.predict_proba([demo.overviews[i] for i in test], [demo.titles[i] for i in test])
    assert proba.shape == (len(test), len(demo.labels))
    assert np.isfinite(proba).all() and proba.min() >= 0 and proba.max() <= 1
    # decisions from validation thresholds beat "always the most frequent genres" on test
    thresholds = fit_thresholds(model.predict_proba(pick(val)), demo.Y[val], demo.labels)
    ours = f1_summary(demo.Y[test], thresholds.apply(proba))["micro_f1"]
    baseline = max(f1_summary(demo.Y[test], most_frequent_baseline(demo.Y[train], len(test), k))["micro_f1"] for k in (1, 2, 3))
    assert ours > baseline + 0.05
    assert ranking_quality(demo.Y[test], proba) > ranking_quality(demo.Y[test], np.tile(demo.Y[train].mean(axis=0), (len(test), 1)))
    again = train_text_plus(pick(train), demo.Y[train], demo.labels, pick(val), demo.Y[val])
    assert np.array_equal(again.predict_proba(pick(test)), model.predict_proba(pick(test)))


def test_empty_text_still_gets_probabilities(demo):
    texts = compose_texts(demo.overviews, demo.titles)
    train = _rows(demo, "train")
    model = train_text_plus([texts[i] for i in train], demo.Y[train], demo.labels, folds=3)
    proba = model.predict_proba(["", "   "])
    assert proba.shape == (2, len(demo.labels)) and np.isfinite(proba).all()
    assert model.predict_proba([]).shape == (0, len(demo.labels))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        train_text_plus(["a b", "c d"], np.zeros((3, 2)), ["X", "Y"])


def test_word2vec_learner_is_measured_and_unknown_words_fall_back_to_the_svms(demo):
    from genre_pipeline.features.text import tokenize
    from genre_pipeline.features.word2vec import Word2VecSettings, train_word2vec

    texts = compose_texts(demo.overviews, demo.titles)
    train, val = _rows(demo, "train"), _rows(demo, "validation")
    vectors = train_word2vec([tokenize(texts[i]) for i in train], Word2VecSettings(vector_size=16, epochs=5, min_count=2))
    model = train_text_plus([texts[i] for i in train], demo.Y[train], demo.labels, [texts[i] for i in val], demo.Y[val],
                            Cs=(0.1,), word_vectors=vectors, min_z=-1e9)  # min_z: always keep, to exercise the stack
    assert model.info["word2vec"] == "stacked" and model.stack is not None
    selection = model.info["word2vec_selection"]
    assert set(selection["mean_log_loss"]) == {"svm", "svm+word2vec"}
    inputs = model.transform(["zzzqx unknownword", demo.overviews[train[0]]], ["", demo.titles[train[0]]])
    assert inputs.has_vectors.tolist() == [False, True]
    proba = model.predict_proba_X(inputs)
    svm_only = model.svm_proba(inputs)
    assert np.allclose(proba[0], svm_only[0])  # no known word: the SVMs alone
    assert not np.allclose(proba[1], svm_only[1])  # known words: the stacked model
    strict = train_text_plus([texts[i] for i in train], demo.Y[train], demo.labels, [texts[i] for i in val], demo.Y[val],
                             Cs=(0.1,), word_vectors=vectors, min_z=1e9)  # never significant enough
    assert strict.stack is None and strict.info["word2vec"].startswith("measured, not kept")
