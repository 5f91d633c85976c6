"""Per-genre thresholds from validation scores (genre_pipeline.models.thresholds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit, logit

from genre_pipeline.models.metrics import f1_summary
from genre_pipeline.models.thresholds import (
    DEFAULT_THRESHOLD,
    SHRINK_GRID,
    Thresholds,
    apply_thresholds,
    best_f1_threshold,
    choose_shrinkage,
    fit_thresholds,
    top3,
)

LABELS = ["A", "B", "C", "D"]
INF = float("inf")


def test_best_f1_threshold_hand_example():
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.2])
    truth = np.array([1, 0, 1, 0, 0])
    threshold, f1 = best_f1_threshold(scores, truth)
    # keeping the top 3 (0.9, 0.8, 0.7) gives TP=2, predicted=3, F1 = 4/5: the best cut, half-way to 0.4
    assert f1 == pytest.approx(0.8)
    assert threshold == pytest.approx(0.55)
    assert ((scores >= threshold) == np.array([1, 1, 1, 0, 0], bool)).all()
    with pytest.raises(ValueError, match=r"^no positive example: F1 is undefined for every threshold$"):
        best_f1_threshold(scores, np.zeros(5))


def test_best_f1_threshold_ties_and_equal_scores():
    # keep 1 -> 2/3, keep 2 -> 2/4, keep 3 -> 2/5, keep 4 -> 4/6: the tie goes to the higher threshold
    assert best_f1_threshold([0.9, 0.8, 0.7, 0.6], [1, 0, 0, 1]) == pytest.approx((0.85, 2 / 3))
    # equal scores are kept or dropped together: {0.7, 0.7} -> TP=1 of 2 predictions, F1 = 2/3
    assert best_f1_threshold([0.7, 0.3, 0.7], [0, 0, 1]) == pytest.approx((0.5, 2 / 3))
    assert best_f1_threshold([[0.2, 0.9]], [[0, 1]]) == pytest.approx((0.55, 1.0))  # any shape, flattened


def test_integer_scores_are_thresholded_like_floats():
    counts = np.array([0, 3, 1, 2], dtype=np.uint8)  # e.g. votes: unsigned, and 0 must stay the lowest
    assert best_f1_threshold(counts, [0, 1, 0, 1]) == pytest.approx((1.5, 1.0))


def test_keeping_every_movie_cuts_just_below_the_smallest_score():
    # every movie positive: keep all; the cut sits half-way to 0.1% below the smallest score (at least 1e-6)
    threshold, f1 = best_f1_threshold([0.9, 0.5, 0.2], [1, 1, 1])
    assert f1 == 1.0
    assert threshold == pytest.approx(0.2 - 0.0002 / 2, abs=1e-12)
    threshold, _ = best_f1_threshold([0.6, 0.0], [1, 1])
    assert threshold == pytest.approx(-0.5e-6, abs=1e-15)
    threshold, _ = best_f1_threshold([0.9, 0.8], [1, 1])
    assert threshold == pytest.approx(0.8 - 0.0008 / 2, abs=1e-12)


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
    assert fitted.source == ["validation"] * 4
    assert f1_summary(truth, fitted.apply(scores))["macro_f1"] == pytest.approx(1.0)
    # one global threshold cannot separate all four genres
    single = fit_thresholds(scores, truth, LABELS, shrinkage=INF)
    assert single.source == ["global"] * 4
    assert single.values.tolist() == [single.global_threshold] * 4
    assert f1_summary(truth, single.apply(scores))["macro_f1"] < 0.95
    # cross-validated shrinkage sees that the per-genre cuts generalise
    chosen = fit_thresholds(scores, truth, LABELS)
    assert chosen.info["shrinkage_k"] != "inf"
    assert f1_summary(truth, chosen.apply(scores))["macro_f1"] > 0.97


def test_global_threshold_maximises_micro_f1_over_every_cell():
    scores = np.array([[0.9, 0.2], [0.6, 0.7], [0.3, 0.4]])
    truth = np.array([[1, 0], [0, 1], [0, 0]])
    # cells: 0.9 (+), 0.7 (+), 0.6, 0.4, 0.3, 0.2 -> keeping the two positives is best, cut half-way to 0.6
    fitted = fit_thresholds(scores, truth, ["A", "B"], shrinkage=INF)
    assert fitted.global_threshold == pytest.approx(0.65)
    assert fitted.values == pytest.approx([0.65, 0.65])
    assert fitted.info["shrinkage_k"] == "inf"
    json.dumps(fitted.to_dict(), allow_nan=False)  # strict JSON: k = inf is spelled "inf"
    # a single positive cell is enough to choose the global threshold
    one = fit_thresholds(np.array([[0.9, 0.2], [0.6, 0.1]]), np.array([[1, 0], [0, 0]]), ["A", "B"], shrinkage=INF)
    assert one.global_threshold == pytest.approx(0.75)


@pytest.mark.parametrize("k", [1.0, 10.0])
def test_shrinkage_moves_thresholds_toward_the_global_one_with_weight_n_over_n_plus_k(k):
    """Genre thresholds move toward the global one in logit space with weight n / (n + k), n = validation positives."""
    rng = np.random.default_rng(7)
    scores = rng.uniform(0, 1, size=(400, 2))
    truth = np.zeros((400, 2), dtype=np.uint8)
    truth[:, 0] = scores[:, 0] > 0.8  # common genre (~80 positives), own cut 0.8
    rare = np.flatnonzero(scores[:, 1] > 0.3)[:3]
    truth[rare, 1] = 1  # rare genre: 3 positives
    raw = fit_thresholds(scores, truth, ["common", "rare"], shrinkage=0)
    shrunk = fit_thresholds(scores, truth, ["common", "rare"], shrinkage=k)
    n = truth.sum(axis=0)
    weight = n / (n + k)
    expected = expit(weight * logit(raw.values) + (1 - weight) * logit(shrunk.global_threshold))
    assert np.allclose(shrunk.values, expected, rtol=0, atol=1e-9)
    assert shrunk.info["shrinkage_k"] == k and shrunk.source == ["validation", "validation"]
    if k == 10.0:
        distance = np.abs(shrunk.values - raw.values) / np.abs(shrunk.global_threshold - raw.values)
        assert distance[0] < 0.15 and distance[1] > 0.6  # the common genre keeps its cut, the rare one moves


def test_a_genre_with_one_validation_positive_keeps_its_own_threshold_without_shrinkage():
    scores = np.array([[0.6, 0.9], [0.55, 0.7], [0.1, 0.2], [0.2, 0.1]])
    truth = np.array([[1, 1], [1, 0], [0, 0], [0, 0]])  # B: one positive (0.9), best cut half-way to 0.7
    fitted = fit_thresholds(scores, truth, ["A", "B"], shrinkage=0)
    assert fitted.values == pytest.approx([0.375, 0.8])
    # cells 0.9 (+), 0.7, 0.6 (+), 0.55 (+), 0.2: keeping four (F1 6/7) is best, cut half-way to 0.2
    assert fitted.global_threshold == pytest.approx(0.375)
    assert fitted.source == ["validation", "validation"]
    assert fitted.info["validation_positives"] == [2, 1]


def _cv_example() -> tuple[np.ndarray, np.ndarray]:
    """Ten validation movies whose held-out decisions do not depend on the fold assignment (k = 0).

    A: positives 0.9, negatives 0.1 -> every fold cuts at 0.5, all right (TP 5).
    B: every movie 0.6, four positives -> every fold keeps everyone (TP 4, 10 predicted).
    C: no positive, every movie 0.2 -> the fold's global threshold (0.4 or 0.75): never predicted.
    D: one positive (0.95), others 0.05 -> cut 0.5, or the global threshold when the positive is held out: TP 1.
    micro = 2*10 / (16 + 10) = 10/13; macro over A, B, D = (1 + 8/14 + 1) / 3 = 6/7; objective 74/91.
    """
    scores = np.zeros((10, 4))
    truth = np.zeros((10, 4), dtype=np.uint8)
    scores[:, 0] = np.where(np.arange(10) < 5, 0.9, 0.1)
    truth[:5, 0] = 1
    scores[:, 1] = 0.6
    truth[[0, 2, 5, 7], 1] = 1
    scores[:, 2] = 0.2
    scores[:, 3] = 0.05
    scores[9, 3], truth[9, 3] = 0.95, 1
    return scores, truth


def test_cross_validation_objective_is_the_mean_of_micro_and_macro_f1_over_present_genres():
    scores, truth = _cv_example()
    assert choose_shrinkage(scores, truth, grid=(0.0,)) == (0.0, {"0.0": round(74 / 91, 5)})
    assert choose_shrinkage(scores, truth, grid=(0.0,), repeats=1, seed=3) == (0.0, {"0.0": round(74 / 91, 5)})
    assert round(74 / 91, 5) == 0.81319 and round(74 / 91, 6) == 0.813187


def test_a_held_out_score_equal_to_the_cut_is_a_positive_decision():
    # without movie 4 the cut is (0.8 + 0.2) / 2 = 0.5 exactly: held out, its 0.5 is kept (TP), so every k scores 1
    scores = np.array([0.8, 0.8, 0.8, 0.8, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2])[:, None]
    truth = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])[:, None]
    k, objective = choose_shrinkage(scores, truth, grid=(5.0, INF, 0.0))
    assert objective == {"5.0": 1.0, "inf": 1.0, "0.0": 1.0}
    assert k == INF  # a tie goes to the larger k


def test_shrinkage_is_chosen_inside_validation_deterministically():
    rng = np.random.default_rng(11)
    scores = rng.uniform(0, 1, (60, 4))
    truth = ((scores + rng.normal(0, 0.15, scores.shape)) > np.array([0.5, 0.6, 0.7, 0.8])).astype(np.uint8)
    k, objective = choose_shrinkage(scores, truth)
    assert (k, objective) == choose_shrinkage(scores, truth, SHRINK_GRID, folds=5, repeats=5, seed=0)
    assert set(objective) == {"0.0", "5.0", "10.0", "20.0", "40.0", "80.0", "inf"}
    assert k == 5.0 and objective["5.0"] == max(objective.values())
    # the fold assignment depends on the seed, the number of folds and of repeats (each asked for is used)
    others = [choose_shrinkage(scores, truth, seed=1)[1], choose_shrinkage(scores, truth, folds=6)[1],
              choose_shrinkage(scores, truth, repeats=6)[1], choose_shrinkage(scores, truth, folds=3)[1],
              choose_shrinkage(scores, truth, folds=2)[1]]
    assert all(other != objective for other in others)
    assert len({json.dumps(other) for other in others}) == len(others)
    assert choose_shrinkage(scores, truth, folds=1)[1] == others[-1]  # at least two folds
    # fit_thresholds runs the same search, with its seed, when shrinkage="cv"
    for seed in (0, 1):
        fitted = fit_thresholds(scores, truth, LABELS, seed=seed)
        assert fitted.info["cv_objective"] == choose_shrinkage(scores, truth, seed=seed)[1]
    assert fit_thresholds(scores, truth, LABELS).info["cv_objective"] == objective


def test_cross_validation_needs_ten_validation_movies():
    scores, truth = _cv_example()
    fitted = fit_thresholds(scores, truth, LABELS)
    assert fitted.info["cv_objective"] == choose_shrinkage(scores, truth)[1]
    assert fitted.info["shrinkage_k"] == 0.0
    assert fitted.values == pytest.approx([0.5, 0.5997, 0.4, 0.5])
    assert fitted.source == ["validation", "validation", "global", "validation"]
    few = fit_thresholds(scores[:9], truth[:9], LABELS)  # nine movies: too few to cross-validate, one global threshold
    assert few.info["shrinkage_k"] == "inf" and few.info["cv_objective"] == {}
    assert few.source == ["global"] * 4 and len(set(few.values.round(9))) == 1


def test_genre_without_validation_positive_gets_global_threshold():
    scores, truth, _ = _separable()
    truth[:, 3] = 0
    fitted = fit_thresholds(scores, truth, LABELS, shrinkage=0)
    assert fitted.source == ["validation", "validation", "validation", "global"]
    assert fitted.values[3] == pytest.approx(fitted.global_threshold)


def test_no_validation_movie_or_no_positive_means_default_thresholds():
    fitted = fit_thresholds(np.zeros((0, 4)), np.zeros((0, 4)), LABELS)
    assert fitted.labels == LABELS and fitted.values.tolist() == [DEFAULT_THRESHOLD] * 4
    assert fitted.source == ["default"] * 4 and fitted.info == {"validation_movies": 0}
    negatives = fit_thresholds(np.full((7, 4), 0.3), np.zeros((7, 4)), LABELS)
    assert negatives.values.tolist() == [DEFAULT_THRESHOLD] * 4
    assert negatives.source == ["default"] * 4 and negatives.info == {"validation_movies": 7}
    single = fit_thresholds([[0.9, 0.1]], [[1, 0]], ["A", "B"], shrinkage=0)  # one movie, one positive: fitted
    assert single.source == ["validation", "global"] and single.values[0] < 0.9


def test_fit_thresholds_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"^scores \(3, 3\) and truth \(3, 3\) must both be \(n_movies, 4\)$"):
        fit_thresholds(np.zeros((3, 3)), np.zeros((3, 3)), LABELS)
    with pytest.raises(ValueError, match=r"scores \(3, 4\) and truth \(3, 3\) must both be \(n_movies, 4\)"):
        fit_thresholds(np.zeros((3, 4)), np.zeros((3, 3)), LABELS)
    with pytest.raises(ValueError, match=r"scores \(4,\) and truth \(4,\) must both be \(n_movies, 4\)"):
        fit_thresholds(np.zeros(4), np.zeros(4), LABELS)


# A: cut (0.8 + 0.3) / 2 = 0.55; B: keep 0.7 -> 2/3 ties keep-all 4/6, the higher cut (0.7 + 0.5) / 2 = 0.6 wins.
# Movie 4 (B, scores 0.2 / 0.4) is then left without a genre.
AT_LEAST_ONE_SCORES = np.array([[0.9, 0.5], [0.8, 0.45], [0.3, 0.7], [0.2, 0.4]])
AT_LEAST_ONE_TRUTH = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])


def test_at_least_one_is_switched_on_when_it_raises_validation_micro_f1():
    fitted = fit_thresholds(AT_LEAST_ONE_SCORES, AT_LEAST_ONE_TRUTH, ["A", "B"], shrinkage=0)
    assert fitted.values == pytest.approx([0.55, 0.6])
    # movie 4 is closest to B (0.4 - 0.6 > 0.2 - 0.55): forcing it gains a TP, micro-F1 6/7 -> 1
    assert fitted.at_least_one is True
    assert fitted.apply(AT_LEAST_ONE_SCORES).tolist() == AT_LEAST_ONE_TRUTH.tolist()
    assert fitted.info == {"validation_movies": 4, "shrinkage_k": 0.0, "cv_objective": {}, "validation_positives": [2, 2],
                           "validation_micro_f1": 1.0}
    assert fitted.global_threshold == pytest.approx(0.6)
    never = fit_thresholds(AT_LEAST_ONE_SCORES, AT_LEAST_ONE_TRUTH, ["A", "B"], shrinkage=0, allow_at_least_one=False)
    assert never.at_least_one is False and never.info["validation_micro_f1"] == 0.85714  # 6/7


def test_at_least_one_stays_off_when_it_lowers_validation_micro_f1():
    scores = AT_LEAST_ONE_SCORES.copy()
    scores[3, 0] = 0.5  # A's cut becomes (0.8 + 0.5) / 2 = 0.65 and movie 4 is now closest to A: a false positive
    fitted = fit_thresholds(scores, AT_LEAST_ONE_TRUTH, ["A", "B"], shrinkage=0)
    assert fitted.at_least_one is False
    assert fitted.info["validation_micro_f1"] == 0.85714  # 6/7, not 6/8


def test_at_least_one_is_kept_when_it_changes_nothing():
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    truth = np.array([[1, 0], [1, 0], [0, 1]])  # every movie already gets a genre
    fitted = fit_thresholds(scores, truth, ["A", "B"], shrinkage=0)
    assert fitted.at_least_one is True and fitted.info["validation_micro_f1"] == 1.0


def test_at_least_one_gives_every_movie_its_closest_genre():
    thresholds = Thresholds(labels=LABELS, values=np.array([0.5, 0.5, 0.9, 0.5]), at_least_one=True)
    scores = np.array([[0.1, 0.2, 0.85, 0.3], [0.6, 0.1, 0.1, 0.1]])
    pred = apply_thresholds(scores, thresholds)
    # 0.85 - 0.9 = -0.05 is the closest to its threshold
    assert pred.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    assert pred.dtype == np.uint8
    closest = Thresholds(labels=["A", "B"], values=np.array([0.3, 0.9]), at_least_one=True)
    assert closest.apply([[0.1, 0.2]]).tolist() == [[1, 0]]  # 0.1 - 0.3 beats 0.2 - 0.9 (the higher score)
    assert closest.apply(np.zeros((0, 2))).shape == (0, 2)
    thresholds.at_least_one = False
    assert apply_thresholds(scores, thresholds)[0].sum() == 0


def test_a_score_equal_to_its_threshold_is_a_genre():
    thresholds = Thresholds(labels=["A", "B"], values=np.array([0.5, 0.25]))
    assert thresholds.apply([[0.5, 0.25], [0.49, 0.26]]).tolist() == [[1, 1], [0, 1]]


def test_to_dict_and_from_dict_round_trip():
    thresholds = Thresholds(labels=["A", "B"], values=np.array([0.25, 0.75]), global_threshold=0.4, at_least_one=True,
                            source=["validation", "global"], info={"shrinkage_k": "inf", "validation_movies": 9})
    data = thresholds.to_dict()
    assert data == {"format": 1, "labels": ["A", "B"], "values": [0.25, 0.75], "global_threshold": 0.4,
                    "at_least_one": True, "source": ["validation", "global"],
                    "info": {"shrinkage_k": "inf", "validation_movies": 9}}
    again = Thresholds.from_dict(json.loads(json.dumps(data)))
    assert again.labels == ["A", "B"] and again.values.tolist() == [0.25, 0.75]
    assert again.global_threshold == 0.4 and again.at_least_one is True
    assert again.source == ["validation", "global"] and again.info == {"shrinkage_k": "inf", "validation_movies": 9}
    assert again.to_dict() == data


def test_from_dict_fills_optional_fields_and_checks_format_and_shape():
    minimal = Thresholds.from_dict({"format": 1, "labels": ["A", "B"], "values": [1, 0], "global_threshold": 0.5})
    assert minimal.values.dtype == float and minimal.values.tolist() == [1.0, 0.0]
    assert minimal.at_least_one is False and minimal.source == [] and minimal.info == {}
    data = {"labels": ["A"], "values": [0.5], "global_threshold": 0.5}
    with pytest.raises(ValueError, match=r"^unsupported thresholds format None$"):
        Thresholds.from_dict(data)
    with pytest.raises(ValueError, match=r"^unsupported thresholds format 99$"):
        Thresholds.from_dict({**data, "format": 99})
    with pytest.raises(ValueError, match=r"^2 labels but \(3,\) threshold values$"):
        Thresholds.from_dict({**data, "format": 1, "labels": ["A", "B"], "values": [0.1, 0.2, 0.3]})


def test_round_trip_of_fitted_thresholds_and_shape_checks():
    scores, truth, _ = _separable()
    fitted = fit_thresholds(scores, truth, LABELS)
    again = Thresholds.from_dict(json.loads(json.dumps(fitted.to_dict(), allow_nan=False)))
    assert np.array_equal(again.apply(scores), fitted.apply(scores))
    assert again.labels == LABELS and again.info == fitted.info
    with pytest.raises(ValueError, match=r"scores must be \(n_movies, 4\), got \(3, 5\)"):
        fitted.apply(np.zeros((3, 5)))


def test_table_lists_every_genre_with_its_rounded_threshold_and_source():
    thresholds = Thresholds(labels=["A", "B"], values=np.array([0.123456, 0.5]), source=["validation", "global"])
    assert thresholds.table() == [{"genre": "A", "threshold": 0.1235, "source": "validation"},
                                  {"genre": "B", "threshold": 0.5, "source": "global"}]
    unknown = Thresholds(labels=["A", "B"], values=np.array([0.25, 0.75]))
    assert [row["source"] for row in unknown.table()] == ["?", "?"]


def test_top3_is_the_tutorial_rule():
    scores = np.array([[0.9, 0.1, 0.5, 0.7], [0.0, 0.2, 0.1, 0.3]])
    assert top3(scores).tolist() == [[1, 0, 1, 1], [0, 1, 1, 1]]
