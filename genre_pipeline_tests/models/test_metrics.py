"""Metric functions against hand-computed cases (tutorial precision/recall, top-3, F1s, baseline)."""

import math
import warnings

import numpy as np
import pytest

from genre_pipeline.models import metrics

LABELS = ["A", "B", "C", "D"]
# genres:        A  B  C  D
F1_TRUTH = [[1, 0, 1, 0],  # movie 1
            [1, 1, 0, 0],  # movie 2
            [0, 0, 0, 0],  # movie 3: no genre
            [1, 0, 0, 0]]  # movie 4
F1_PRED = [[1, 0, 0, 0],
           [0, 1, 0, 0],
           [0, 0, 0, 0],
           [1, 0, 0, 1]]


def test_tutorial_precision_recall_hand_computed():
    y_true = [[1, 1, 1, 0], [0, 0, 1, 0], [1, 0, 0, 1], [0, 0, 0, 1]]
    y_pred = [[1, 0, 0, 1], [0, 0, 0, 0], [1, 0, 0, 1], [0, 0, 0, 1]]
    # movie 1: TP=1, |pred|=2, |true|=3 -> P=1/2, R=1/3
    # movie 2: nothing predicted        -> P=0 (tutorial's rule), R=0/1
    # movie 3: exact                    -> P=1, R=1
    # movie 4: one genre, right         -> P=1, R=1
    precision, recall = metrics.tutorial_precision_recall(y_true, y_pred)
    assert precision == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert recall == pytest.approx((1 / 3 + 0 + 1 + 1) / 4)


@pytest.mark.parametrize("shape", [(2, 2), (3, 2), (8, 5), (64, 5), (200, 2), (200, 20), (5000, 20)])
def test_tutorial_precision_recall_is_exactly_zero_for_empty_sets(shape):
    genre = np.zeros(shape, np.uint8)
    genre[:, 1] = 1
    nothing = np.zeros(shape, np.uint8)
    half = genre.copy()
    half[::2] = 0  # the even movies lose their genre
    share = (shape[0] // 2) / shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.tutorial_precision_recall(genre, nothing) == (0.0, 0.0)  # nothing predicted: P = 0
        assert metrics.tutorial_precision_recall(nothing, genre) == (0.0, 0.0)  # no true genre: R = 0
        assert metrics.tutorial_precision_recall(half, genre) == (share, share)
        assert metrics.tutorial_precision_recall(genre, half) == (share, share)


def test_tutorial_precision_recall_of_no_movie_is_zero():
    assert metrics.tutorial_precision_recall([[0, 0]], [[1, 0]]) == (0.0, 0.0)
    assert metrics.tutorial_precision_recall(np.zeros((0, 3)), np.zeros((0, 3))) == (0.0, 0.0)


def test_inputs_must_be_movie_by_genre_matrices_of_one_shape():
    with pytest.raises(ValueError, match=r"^shape mismatch: \(1, 2\) vs \(1, 3\)$"):
        metrics.tutorial_precision_recall([[1, 0]], [[1, 0, 0]])
    with pytest.raises(ValueError, match=r"^expected a 2-d \(movies x genres\) matrix, got shape \(2,\)$"):
        metrics.f1_summary([1, 0], [1, 0])


def test_clipped_logit_is_finite_at_zero_and_one():
    bound = math.log((1 - metrics.EPS) / metrics.EPS)
    assert metrics.clipped_logit([0, 0.5, 1]).tolist() == pytest.approx([-bound, 0.0, bound], abs=1e-9)
    assert metrics.clipped_logit(0.25) == pytest.approx(math.log(1 / 3))


def test_top3_rule_marks_three_highest_and_breaks_ties_by_label_order():
    scores = np.array([[0.1, 0.9, 0.3, 0.8, 0.2], [0.5, 0.5, 0.5, 0.5, 0.1], [0.2, 0.2, 0.2, 0.2, 0.5]])
    top = metrics.top_k(scores)  # k = 3 by default
    assert top.dtype == np.uint8
    assert top.tolist() == [[0, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 0, 0, 1]]
    assert metrics.top_k([[0.2, 0.2, 0.5, 0.5]], 1).tolist() == [[0, 0, 1, 0]]  # the earlier label wins
    assert metrics.apply_decision_rule(scores, "top3").tolist() == top.tolist()
    assert metrics.top_k(np.array([[0.2, 0.1]]), 3).tolist() == [[1, 1]]  # k larger than the label count
    assert metrics.top_k([[0.4]], 1).tolist() == [[1]]
    assert metrics.top_k(scores, 0).tolist() == np.zeros((3, 5), int).tolist()
    assert metrics.top_k(np.zeros((0, 5)), 3).shape == (0, 5)
    # unsigned counts: a genre never seen ranks last, not first
    assert metrics.top_k(np.array([[0, 3, 1]], dtype=np.uint64), 2).tolist() == [[0, 1, 1]]


def test_labels_rule_is_score_at_least_threshold():
    scores = np.array([[0.1, 0.9, 0.3, 0.5, 0.2], [0.5, 0.5, 0.5, 0.7, 0.1]])
    decided = metrics.apply_decision_rule(scores, "labels")
    assert decided.dtype == np.uint8
    assert decided.tolist() == [[0, 1, 0, 1, 0], [1, 1, 1, 1, 0]]  # 0.5 >= 0.5
    assert metrics.apply_decision_rule(scores, "labels", threshold=0.7).tolist() == [[0, 1, 0, 0, 0], [0, 0, 0, 1, 0]]
    with pytest.raises(ValueError, match=r"^unknown decision rule 'top5'; expected one of \('labels', 'top3'\)$"):
        metrics.apply_decision_rule(scores, "top5")


def test_f1_summary_hand_computed():
    y_true = [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    y_pred = [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    # micro: TP=2, FP=1, FN=2 -> 2*2 / (2*2 + 1 + 2) = 4/7
    # macro over genres present in y_true (A, B; C has no true movie):
    #   A: TP=1 FP=0 FN=1 -> F1 = 2/3; B: TP=1 FP=0 FN=1 -> 2/3 -> macro 2/3
    # samples: movie1 P=1 R=1/2 F1=2/3; movie2 P=1/2 R=1 F1=2/3; movie3 F1=0 -> 4/9
    scores = metrics.f1_summary(y_true, y_pred)
    assert scores == pytest.approx({"micro_f1": 4 / 7, "macro_f1": 2 / 3, "samples_f1": 4 / 9})


def test_f1_summary_macro_over_present_genres_and_empty_movies():
    # per genre: A TP=2 FP=0 FN=1 -> 4/5; B (one true movie) TP=1 -> 1; C (one true movie) missed -> 0;
    # D has no true movie (one false prediction): left out of macro -> (4/5 + 1 + 0) / 3 = 0.6
    # micro: TP=3, FP=1, FN=2 -> 6/9
    # samples: movies 1, 2, 4 -> 2/3 each; movie 3 (nothing true, nothing predicted) -> 0 -> (3 * 2/3) / 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division is decided, sklearn has nothing to warn about
        scores = metrics.f1_summary(F1_TRUTH, F1_PRED)
        nothing = metrics.f1_summary(np.zeros((2, 3)), np.zeros((2, 3)))
    assert scores == pytest.approx({"micro_f1": 2 / 3, "macro_f1": 0.6, "samples_f1": 0.5})
    assert nothing == {"micro_f1": 0.0, "macro_f1": 0.0, "samples_f1": 0.0}
    assert metrics.f1_summary([[0, 0, 0]], [[0, 1, 0]]) == {"micro_f1": 0.0, "macro_f1": 0.0, "samples_f1": 0.0}
    assert metrics.f1_summary([[1, 0]], [[1, 1]]) == pytest.approx({"micro_f1": 2 / 3, "macro_f1": 1.0, "samples_f1": 2 / 3})
    assert metrics.f1_summary(np.zeros((0, 3)), np.zeros((0, 3))) == {"micro_f1": 0.0, "macro_f1": 0.0, "samples_f1": 0.0}


def test_per_genre_report_and_evaluate():
    labels = ["Action", "Comedy", "Drama"]
    y_true = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    y_pred = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1]])
    report = metrics.per_genre_report(y_true, y_pred, labels)
    assert list(report.columns) == ["genre", "precision", "recall", "f1", "support", "predicted"]
    report = report.set_index("genre")
    # Action: TP=2 FP=1 FN=0; Comedy: TP=1; Drama: TP=1 FN=1
    assert report["precision"].tolist() == pytest.approx([2 / 3, 1.0, 1.0])
    assert report["recall"].tolist() == pytest.approx([1.0, 1.0, 0.5])
    assert report["f1"].tolist() == pytest.approx([0.8, 1.0, 2 / 3])
    assert report["support"].tolist() == [2, 1, 2]
    assert report["predicted"].tolist() == [3, 1, 1]
    result = metrics.evaluate(y_true, y_pred, labels)
    assert result["n_movies"] == 4
    # tutorial: movie 1 P=1 R=1/2; movie 2 P=1/2 R=1; movie 3 P=R=1; movie 4 P=R=1
    assert result["precision"] == pytest.approx(3.5 / 4) and result["recall"] == pytest.approx(3.5 / 4)
    # micro: TP=4 FP=1 FN=1 -> 8/10
    assert result["micro_f1"] == pytest.approx(0.8)
    assert result["macro_f1"] == pytest.approx((0.8 + 1.0 + 2 / 3) / 3)
    assert result["samples_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1 + 1) / 4)
    assert result["per_genre"].equals(metrics.per_genre_report(y_true, y_pred, labels))


def test_per_genre_report_scores_zero_where_nothing_is_predicted_or_true():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = metrics.per_genre_report(F1_TRUTH, F1_PRED, LABELS)
    assert report.to_dict("records") == [
        {"genre": "A", "precision": 1.0, "recall": pytest.approx(2 / 3), "f1": pytest.approx(0.8), "support": 3, "predicted": 2},
        {"genre": "B", "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1, "predicted": 1},
        {"genre": "C", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0},  # nothing predicted
        {"genre": "D", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 1},  # nothing true
    ]
    assert report["support"].dtype.kind == "i" and report["predicted"].dtype.kind == "i"
    silent = metrics.per_genre_report([[1, 0]], [[1, 0]], ["A", "B"])  # B: nothing true, nothing predicted
    assert silent.to_dict("records")[1] == {"genre": "B", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0}
    assert silent.to_dict("records")[0] == {"genre": "A", "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1, "predicted": 1}


def test_per_genre_report_of_no_movie_is_all_zero():
    report = metrics.per_genre_report(np.zeros((0, 2)), np.zeros((0, 2)), ["A", "B"])
    assert report.to_dict("records") == [
        {"genre": "A", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0},
        {"genre": "B", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0},
    ]


def test_most_frequent_baseline_predicts_the_top_training_genres_for_everyone():
    y_train = np.array([[1, 0, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]])  # counts 3, 1, 2, 1
    baseline = metrics.most_frequent_baseline(y_train, n_movies=2, k=2)
    assert baseline.tolist() == [[1, 0, 1, 0], [1, 0, 1, 0]]
    never_first = np.array([[0, 1, 1], [0, 1, 0]])  # counts 0, 2, 1: the unseen genre comes last
    assert metrics.most_frequent_baseline(never_first, n_movies=1, k=2).tolist() == [[0, 1, 1]]
    y_true = np.array([[1, 0, 0, 0], [1, 0, 0, 0]])
    best = metrics.best_baseline(y_train, y_true, ks=(1, 2, 3))
    assert best["k"] == 1 and best["micro_f1"] == pytest.approx(1.0)


def test_best_baseline_reports_every_figure_and_keeps_the_smallest_k_on_a_tie():
    y_train = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1]])  # counts 3, 2, 1
    y_true = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    # k=1 (A for all): TP=2 FP=1 FN=1 -> micro 4/6; k=2 (A, B): TP=3 FP=3 FN=0 -> 6/9: a tie, k=1 kept
    # k=1 figures: tutorial P = R = (1 + 1 + 0) / 3; macro over A (4/5) and B (0) = 0.4; samples (1 + 1 + 0) / 3
    best = metrics.best_baseline(y_train, y_true)
    assert best == pytest.approx({"k": 1, "precision": 2 / 3, "recall": 2 / 3, "micro_f1": 2 / 3,
                                  "macro_f1": 0.4, "samples_f1": 2 / 3})
    assert metrics.best_baseline(y_train, y_true, ks=(3, 2))["k"] == 2  # 6/9 beats 6/12
    unseen = metrics.best_baseline(y_train, np.array([[0, 0, 0]]), ks=(2, 1, 3))  # nothing can score
    assert unseen["k"] == 2 and unseen["micro_f1"] == 0.0
