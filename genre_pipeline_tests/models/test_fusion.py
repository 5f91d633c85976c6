"""The multimodal fusion model (genre_pipeline.models.fusion) on a synthetic demo catalog.

The demo posters carry genre signal (palettes / motifs for Animation, Horror, Western,
Documentary, Science Fiction) that overviews lack, so fusion has something to add.
"""

from __future__ import annotations

import numpy as np
import pytest

from genre_pipeline.features.sentence import SentenceEncoderConfig, encode_texts
from genre_pipeline.models.fusion import (
    combine,
    fit_gmu,
    per_movie_log_loss,
    select_candidate,
    train_fusion,
)
from genre_pipeline.models.metrics import f1_summary
from genre_pipeline.models.text_plus import compose_texts, ranking_quality
from genre_pipeline.models.thresholds import fit_thresholds
from genre_pipeline_tests.support.fusion_helpers import demo_arrays


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_arrays(tmp_path_factory.mktemp("demo_fusion") / "catalog", n_movies=600, seed=0)


@pytest.fixture(scope="module")
def sentence(demo):
    """Sentence embeddings of the composed texts, as the ``sentence_embeddings`` asset stores them."""
    return encode_texts(compose_texts(demo.overviews, demo.titles))


@pytest.fixture(scope="module")
def model(demo, sentence):
    return train_fusion(demo.overviews, demo.titles, demo.posters, demo.has_poster, demo.Y, demo.split, demo.labels,
                        sentence=sentence, sentence_config=SentenceEncoderConfig())


def _rows(demo, split):
    return (demo.split == split) & (demo.Y.sum(axis=1) > 0)


def test_fusion_beats_each_single_modality_on_demo_test_split(demo, model, sentence):
    assert model.method == "late"
    assert "svm+sentence" in model.text.info["stack_selection"]["mean_log_loss"]  # the text side measured the encoder
    val, test = _rows(demo, "validation"), _rows(demo, "test")
    X = model.text.transform(demo.overviews, demo.titles, sentence=sentence)
    has_text = X.has_text
    p_text = model.text.predict_proba_X(X)
    p_poster = model.poster.predict_proba(demo.posters)
    fused = model.predict_proba(demo.overviews, demo.titles, demo.posters, demo.has_poster, sentence)
    fused_f1 = f1_summary(demo.Y[test], model.predict(demo.overviews, demo.titles, demo.posters, demo.has_poster, sentence)[test])
    for single in ("text", "poster"):
        scores = combine(single, p_text, p_poster, has_text, demo.has_poster, model.prior)
        thresholds = fit_thresholds(scores[val], demo.Y[val], demo.labels)
        single_f1 = f1_summary(demo.Y[test], thresholds.apply(scores[test]))
        assert fused_f1["micro_f1"] > single_f1["micro_f1"] + 0.02, single
        assert fused_f1["macro_f1"] > single_f1["macro_f1"] + 0.02, single
        assert ranking_quality(demo.Y[test], fused[test]) > ranking_quality(demo.Y[test], scores[test]), single
    # the poster weight is large exactly where the posters carry the genre
    weights = dict(zip(demo.labels, model.late.weights[:, 1]))
    assert np.mean([weights[g] for g in ("Animation", "Horror", "Western")]) > np.mean([weights[g] for g in ("Comedy", "Drama", "Romance")])


def test_test_labels_are_never_read(demo, model, sentence):
    """Scramble every test-split label: the fitted model (text side included) must not change at all."""
    garbage = demo.Y.copy()
    test = demo.split == "test"
    rng = np.random.default_rng(123)
    garbage[test] = rng.integers(0, 2, size=garbage[test].shape)
    other = train_fusion(demo.overviews, demo.titles, demo.posters, demo.has_poster, garbage, demo.split, demo.labels,
                         sentence=sentence, sentence_config=SentenceEncoderConfig())
    assert other.method == model.method and other.text.sources == model.text.sources
    assert np.array_equal(other.thresholds.values, model.thresholds.values)
    assert np.array_equal(
        other.predict_proba(demo.overviews, demo.titles, demo.posters, demo.has_poster, sentence),
        model.predict_proba(demo.overviews, demo.titles, demo.posters, demo.has_poster, sentence),
    )


def test_missing_modalities_still_get_predictions(demo, model):
    overview, title, poster = demo.overviews[0], demo.titles[0], demo.posters[0]
    overviews = [overview, overview, "", ""]
    titles = [title, title, "", ""]
    posters = np.stack([poster, np.zeros_like(poster), poster, np.zeros_like(poster)])
    has_poster = np.array([True, False, True, False])
    proba = model.predict_proba(overviews, titles, posters, has_poster)
    pred = model.predict(overviews, titles, posters, has_poster)
    assert proba.shape == (4, len(demo.labels)) and np.isfinite(proba).all()
    text_only = model.text.predict_proba([overview], [title])[0]
    poster_only = model.poster.predict_proba(poster[None, :])[0]
    assert np.allclose(proba[1], text_only)  # no poster: the text model
    assert np.allclose(proba[2], poster_only)  # no text: the poster model
    assert np.allclose(proba[3], model.prior)  # neither: training genre frequencies
    assert not np.allclose(proba[0], text_only)  # both: the combiner
    if model.thresholds.at_least_one:
        assert (pred.sum(axis=1) >= 1).all()
    # no poster embeddings at all (text-only prediction, as `predict --overview` without --poster)
    assert np.allclose(model.predict_proba([overview], [title])[0], text_only)


def test_selection_needs_a_significant_gain_over_the_best_single_modality():
    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, size=(80, 3))
    good = np.where(Y == 1, 0.8, 0.2)
    poster = np.full(good.shape, 0.5)
    slightly = good.copy()  # better on two movies only: a gain, but not a significant one
    slightly[:2] = np.where(Y[:2] == 1, 0.9, 0.1)
    chosen, report = select_candidate(Y, {"text": good, "poster": poster, "late": slightly})
    assert per_movie_log_loss(Y, slightly).mean() < per_movie_log_loss(Y, good).mean()
    assert chosen == "text" and report["best_single"] == "text" and 0 < report["z_vs_best_single"]["late"] < 1.645
    better = np.where(Y == 1, 0.95, 0.05)
    chosen, report = select_candidate(Y, {"text": good, "poster": poster, "late": better})
    assert chosen == "late" and report["z_vs_best_single"]["late"] > 1.645
    assert per_movie_log_loss(Y, better).mean() < per_movie_log_loss(Y, good).mean()


def test_gmu_trains_and_routes_missing_modalities(demo, model, sentence):
    train = np.flatnonzero(_rows(demo, "train"))
    X = model.text.transform(demo.overviews, demo.titles, sentence=sentence)
    has_text = X.has_text
    p_text = model.text.predict_proba_X(X)
    gmu = fit_gmu(p_text[train], demo.posters[train], has_text[train], demo.has_poster[train], demo.Y[train], max_epochs=5)
    rows = train[:4]
    with_poster = gmu.predict_proba(p_text[rows], demo.posters[rows], np.ones(4, bool), np.ones(4, bool))
    without = gmu.predict_proba(p_text[rows], demo.posters[rows], np.ones(4, bool), np.zeros(4, bool))
    poster_changed = gmu.predict_proba(p_text[rows], demo.posters[rows][::-1], np.ones(4, bool), np.zeros(4, bool))
    assert with_poster.shape == (4, len(demo.labels)) and np.isfinite(with_poster).all()
    assert np.allclose(without, poster_changed)  # a missing poster is ignored entirely
    assert not np.allclose(with_poster, without)
