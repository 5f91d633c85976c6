"""Metric functions against hand-computed cases (tutorial precision/recall, top-3, F1s, baseline)."""

import numpy as np
import pytest

from genre_pipeline.models import metrics


def test_tutorial_precision_recall_hand_computed():
    # genres: A B C D
    y_true = [[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]]
    y_pred = [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1]]
    # movie 1: TP=1, |pred|=2, |true|=2 -> P=1/2, R=1/2
    # movie 2: nothing predicted        -> P=0 (tutorial's rule), R=0/1
    # movie 3: exact                    -> P=1, R=1
    precision, recall = metrics.tutorial_precision_recall(y_true, y_pred)
    assert precision == pytest.approx((0.5 + 0 + 1) / 3)
    assert recall == pytest.approx((0.5 + 0 + 1) / 3)


def test_tutorial_precision_recall_movie_without_true_genre_has_recall_zero():
    precision, recall = metrics.tutorial_precision_recall([[0, 0]], [[1, 0]])
    assert (precision, recall) == (0.0, 0.0)
    assert metrics.tutorial_precision_recall(np.zeros((0, 3)), np.zeros((0, 3))) == (0.0, 0.0)
    with pytest.raises(ValueError, match="shape"):
        metrics.tutorial_precision_recall([[1, 0]], [[1, 0, 0]])


def test_top3_rule_marks_three_highest_and_breaks_ties_by_label_order():
    scores = np.array([[0.1, 0.9, 0.3, 0.8, 0.2], [0.5, 0.5, 0.5, 0.5, 0.1]])
    assert metrics.top_k(scores, 3).tolist() == [[0, 1, 1, 1, 0], [1, 1, 1, 0, 0]]
    assert metrics.apply_decision_rule(scores, "top3").tolist() == metrics.top_k(scores, 3).tolist()
    assert metrics.apply_decision_rule(scores, "labels").tolist() == [[0, 1, 0, 1, 0], [1, 1, 1, 1, 0]]
    assert metrics.top_k(np.array([[0.2, 0.1]]), 3).tolist() == [[1, 1]]  # k larger than the label count
    with pytest.raises(ValueError, match="decision rule"):
        metrics.apply_decision_rule(scores, "top5")


def test_f1_summary_hand_computed():
    y_true = [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    y_pred = [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    # micro: TP=2, FP=1, FN=2 -> 2*2 / (2*2 + 1 + 2) = 4/7
    # macro over genres present in y_true (A, B; C has no true movie):
    #   A: TP=1 FP=0 FN=1 -> F1 = 2/3; B: TP=1 FP=0 FN=1 -> 2/3 -> macro 2/3
    # samples: movie1 P=1 R=1/2 F1=2/3; movie2 P=1/2 R=1 F1=2/3; movie3 F1=0 -> 4/9
    scores = metrics.f1_summary(y_true, y_pred)
    assert scores["micro_f1"] == pytest.approx(4 / 7)
    assert scores["macro_f1"] == pytest.approx(2 / 3)
    assert scores["samples_f1"] == pytest.approx(4 / 9)


def test_per_genre_report_and_evaluate():
    labels = ["Action", "Comedy", "Drama"]
    y_true = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    y_pred = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1]])
    report = metrics.per_genre_report(y_true, y_pred, labels).set_index("genre")
    assert report.loc["Action", "precision"] == pytest.approx(2 / 3)
    assert report.loc["Action", "recall"] == pytest.approx(1.0)
    assert report.loc["Drama", "recall"] == pytest.approx(0.5)
    assert report["support"].tolist() == [2, 1, 2]
    assert report["predicted"].tolist() == [3, 1, 1]
    result = metrics.evaluate(y_true, y_pred, labels)
    assert result["n_movies"] == 4
    assert set(result) >= {"precision", "recall", "micro_f1", "macro_f1", "samples_f1", "per_genre"}


def test_most_frequent_baseline_predicts_the_top_training_genres_for_everyone():
    y_train = np.array([[1, 0, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]])  # counts 3, 1, 2, 1
    baseline = metrics.most_frequent_baseline(y_train, n_movies=2, k=2)
    assert baseline.tolist() == [[1, 0, 1, 0], [1, 0, 1, 0]]
    y_true = np.array([[1, 0, 0, 0], [1, 0, 0, 0]])
    best = metrics.best_baseline(y_train, y_true, ks=(1, 2, 3))
    assert best["k"] == 1 and best["micro_f1"] == pytest.approx(1.0)
