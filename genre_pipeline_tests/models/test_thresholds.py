"""Per-genre thresholds from validation scores (genre_pipeline.models.thresholds)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from genre_pipeline.models.metrics import f1_summary
from genre_pipeline.models.thresholds import (
    DEFAULT_THRESHOLD,
    Thresholds,
    apply_thresholds,
    best_f1_threshold,
    choose_shrinkage,
    fit_thresholds,
    top3,
)

LABELS = ["A", "B", "C", "D"]


def test_best_f1_threshold_hand_example():
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.2])
    truth = np.array([1, 0, 1, 0, 0])
    threshold, f1 = best_f1_threshold(scores, truth)
    # keeping the top 3 (0.9, 0.8, 0.7) gives TP=2, predicted=3, F1 = 4/5: the best cut
    assert f1 == pytest.approx(0.8)
    assert 0.4 < threshold < 0.7
    assert ((scores >= threshold) == np.array([1, 1, 1, 0, 0], bool)).all()
    with pytest.raises(ValueError, match="no positive example"):
        best_f1_threshold(scores, np.zeros(5))


def _separable(n=200, seed=0):
    """Genre g is positive iff its score exceeds a genre-specific cut (0.2, 0.4, 0.6, 0.8)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 1, size=(n, 4))
    cuts = np.array([0.2, 0.4, 0.6, 0.8])
    return scores, (scores > cuts).astype(np.uint8), cuts


def test_per_genre_thresholds_recover_genre_specific_cuts():
    scores, truth, cuts = _separable()
    fitted = fit_thresholds(scores, truth, LABELS, shrinkage=0)
    assert np.abs(fitted.values - cuts).max() < 0.02
    assert f1_summary(truth, fitted.apply(scores))["macro_f1"] == pytest.approx(1.0)
    # one global threshold cannot separate all four genres
    single = fit_thresholds(scores, truth, LABELS, shrinkage=float("inf"))
    assert len(set(np.round(single.values, 9))) == 1
    assert f1_summary(truth, single.apply(scores))["macro_f1"] < 0.95
    # cross-validated shrinkage sees that the per-genre cuts generalise
    chosen = fit_thresholds(scores, truth, LABELS)
    assert chosen.info["shrinkage_k"] != "inf"
    assert f1_summary(truth, chosen.apply(scores))["macro_f1"] > 0.97


def test_shrinkage_pulls_rare_genres_toward_the_global_threshold_and_leaves_common_ones():
    """Genre thresholds move toward the global one in logit space with weight n / (n + k), n = validation positives."""
    rng = np.random.default_rng(7)
    scores = rng.uniform(0, 1, size=(400, 2))
    truth = np.zeros((400, 2), dtype=np.uint8)
    truth[:, 0] = scores[:, 0] > 0.8  # common genre (~80 positives), own cut 0.8
    rare = np.flatnonzero(scores[:, 1] > 0.3)[:3]
    truth[rare, 1] = 1  # rare genre: 3 positives
    raw = fit_thresholds(scores, truth, ["common", "rare"], shrinkage=0)
    k = 10.0
    shrunk = fit_thresholds(scores, truth, ["common", "rare"], shrinkage=k)
    n = truth.sum(axis=0)
    weight = n / (n + k)
    expected = expit(weight * logit(raw.values) + (1 - weight) * logit(shrunk.global_threshold))
    assert np.allclose(shrunk.values, expected)
    distance = np.abs(shrunk.values - raw.values) / np.abs(shrunk.global_threshold - raw.values)
    assert distance[0] < 0.15 and distance[1] > 0.6  # the common genre keeps its cut, the rare one moves


def test_shrinkage_is_chosen_inside_validation_deterministically():
    scores, truth, _ = _separable(n=80, seed=3)
    k1, objective1 = choose_shrinkage(scores, truth, seed=0)
    k2, objective2 = choose_shrinkage(scores, truth, seed=0)
    assert (k1, objective1) == (k2, objective2)
    assert set(objective1) == {"0.0", "5.0", "10.0", "20.0", "40.0", "80.0", "inf"}


def test_genre_without_validation_positive_gets_global_threshold():
    scores, truth, _ = _separable()
    truth[:, 3] = 0
    fitted = fit_thresholds(scores, truth, LABELS, shrinkage=0)
    assert fitted.source[3] == "global"
    assert fitted.values[3] == pytest.approx(fitted.global_threshold)


def test_no_validation_movies_means_default_thresholds():
    fitted = fit_thresholds(np.zeros((0, 4)), np.zeros((0, 4)), LABELS)
    assert np.allclose(fitted.values, DEFAULT_THRESHOLD)
    assert fitted.source == ["default"] * 4


def test_at_least_one_gives_every_movie_its_closest_genre():
    thresholds = Thresholds(labels=LABELS, values=np.array([0.5, 0.5, 0.9, 0.5]), at_least_one=True)
    scores = np.array([[0.1, 0.2, 0.85, 0.3], [0.6, 0.1, 0.1, 0.1]])
    pred = apply_thresholds(scores, thresholds)
    # 0.85 - 0.9 = -0.05 is the closest to its threshold
    assert pred.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    thresholds.at_least_one = False
    assert apply_thresholds(scores, thresholds)[0].sum() == 0


def test_round_trip_and_shape_checks():
    scores, truth, _ = _separable()
    fitted = fit_thresholds(scores, truth, LABELS)
    again = Thresholds.from_dict(fitted.to_dict())
    assert np.array_equal(again.apply(scores), fitted.apply(scores))
    assert again.labels == LABELS
    with pytest.raises(ValueError, match=r"scores must be \(n_movies, 4\), got \(3, 5\)"):
        fitted.apply(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="unsupported thresholds format 99"):
        Thresholds.from_dict({**fitted.to_dict(), "format": 99})


def test_top3_is_the_tutorial_rule():
    scores = np.array([[0.9, 0.1, 0.5, 0.7], [0.0, 0.2, 0.1, 0.3]])
    assert top3(scores).tolist() == [[1, 0, 1, 1], [0, 1, 1, 1]]
