"""Evaluation: the tutorial's per-movie precision / recall plus F1 and a per-genre report.

Tutorial step: "Section 7/8 — evaluation". The tutorial scores each test movie by the
precision and recall of its predicted genre set against the true one and averages over
movies. For the SVM and naive Bayes the predicted set is what the classifier predicts;
for the neural networks it is the three highest-scoring genres (the "top-3 rule").

Kept exactly: :func:`tutorial_precision_recall` (a movie with no predicted genre has
precision 0, a movie with no true genre recall 0, as the tutorial's function returns).
Added: micro / macro / samples F1 (macro over the genres that occur in the evaluated
movies, so a genre absent from a small test split does not count as a zero), a per-genre
report, and :func:`most_frequent_baseline` so every figure can be read against the trivial
"always predict the most frequent genres" answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.metrics import f1_score, precision_recall_fscore_support

__all__ = [
    "DECISION_RULES",
    "EPS",
    "apply_decision_rule",
    "best_baseline",
    "clipped_logit",
    "evaluate",
    "f1_summary",
    "most_frequent_baseline",
    "per_genre_report",
    "top_k",
    "tutorial_precision_recall",
]

DECISION_RULES = ("labels", "top3")
EPS = 1e-6  # probabilities are clipped to [EPS, 1 - EPS] before a logit or a log


def clipped_logit(p) -> np.ndarray:
    """``log(p / (1 - p))`` of probabilities clipped to ``[EPS, 1 - EPS]`` (finite for 0 and 1)."""
    return logit(np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS))


def _as_binary(matrix) -> np.ndarray:
    array = np.asarray(matrix)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-d (movies x genres) matrix, got shape {array.shape}")
    return (array > 0).astype(np.uint8)


def tutorial_precision_recall(y_true, y_pred) -> tuple[float, float]:
    """Mean over movies of per-movie precision and recall (the tutorial's ``precision_recall``).

    Per movie: TP = predicted genres that are true; precision = TP / |predicted| (0 when
    nothing is predicted); recall = TP / |true| (0 when the movie has no genre).
    Returns ``(0.0, 0.0)`` for zero movies.
    """
    truth, pred = _as_binary(y_true), _as_binary(y_pred)
    if truth.shape != pred.shape:
        raise ValueError(f"shape mismatch: {truth.shape} vs {pred.shape}")
    if truth.shape[0] == 0:
        return 0.0, 0.0
    tp = (truth & pred).sum(axis=1).astype(float)
    n_pred = pred.sum(axis=1).astype(float)
    n_true = truth.sum(axis=1).astype(float)
    precision = np.divide(tp, n_pred, out=np.zeros_like(tp), where=n_pred > 0)
    recall = np.divide(tp, n_true, out=np.zeros_like(tp), where=n_true > 0)
    return float(precision.mean()), float(recall.mean())


def top_k(scores, k: int = 3) -> np.ndarray:
    """Binary matrix marking each row's ``k`` highest scores (ties: the earlier label wins)."""
    values = np.asarray(scores, dtype=float)
    out = np.zeros(values.shape, dtype=np.uint8)
    if values.size == 0:
        return out
    k = max(0, min(int(k), values.shape[1]))
    if k == 0:
        return out
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    np.put_along_axis(out, order, 1, axis=1)
    return out


def apply_decision_rule(scores, rule: str, threshold: float = 0.5) -> np.ndarray:
    """Predicted label sets from scores: ``"top3"`` (tutorial's MLP rule) or ``"labels"`` (score >= threshold)."""
    if rule == "top3":
        return top_k(scores, 3)
    if rule == "labels":
        return (np.asarray(scores, dtype=float) >= threshold).astype(np.uint8)
    raise ValueError(f"unknown decision rule {rule!r}; expected one of {DECISION_RULES}")


def f1_summary(y_true, y_pred) -> dict[str, float]:
    """Micro, macro and samples F1. Macro averages over genres present in ``y_true``."""
    truth, pred = _as_binary(y_true), _as_binary(y_pred)
    if truth.shape[0] == 0:
        return {"micro_f1": 0.0, "macro_f1": 0.0, "samples_f1": 0.0}
    present = np.flatnonzero(truth.sum(axis=0) > 0)
    kwargs = {"zero_division": 0}
    return {
        "micro_f1": float(f1_score(truth, pred, average="micro", **kwargs)),
        "macro_f1": float(f1_score(truth, pred, average="macro", labels=present, **kwargs)) if len(present) else 0.0,
        "samples_f1": float(f1_score(truth, pred, average="samples", **kwargs)),
    }


def per_genre_report(y_true, y_pred, labels: Sequence[str]) -> pd.DataFrame:
    """One row per genre: precision, recall, F1, support (true movies) and predicted count."""
    truth, pred = _as_binary(y_true), _as_binary(y_pred)
    if truth.shape[0] == 0:
        return pd.DataFrame({"genre": list(labels), "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0})
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=np.arange(len(labels)), average=None, zero_division=0
    )
    return pd.DataFrame(
        {
            "genre": list(labels),
            "precision": precision.astype(float),
            "recall": recall.astype(float),
            "f1": f1.astype(float),
            "support": support.astype(int),
            "predicted": pred.sum(axis=0).astype(int),
        }
    )


def evaluate(y_true, y_pred, labels: Sequence[str]) -> dict:
    """Every figure for one model on one split: tutorial precision/recall, F1s, per-genre report."""
    precision, recall = tutorial_precision_recall(y_true, y_pred)
    truth = _as_binary(y_true)
    return {
        "precision": precision,
        "recall": recall,
        **f1_summary(y_true, y_pred),
        "n_movies": int(truth.shape[0]),
        "per_genre": per_genre_report(y_true, y_pred, labels),
    }


def most_frequent_baseline(y_train, n_movies: int, k: int) -> np.ndarray:
    """The trivial answer: the ``k`` genres most frequent in training, for every movie."""
    counts = _as_binary(y_train).sum(axis=0)
    row = top_k(counts[None, :], k)[0]
    return np.tile(row, (int(n_movies), 1))


def best_baseline(y_train, y_true, ks: Sequence[int] = (1, 2, 3)) -> dict:
    """The most-frequent baseline with the ``k`` that gives the best micro-F1 on ``y_true``.

    Choosing ``k`` on the evaluated movies favours the baseline, which makes "beats the
    baseline" a stricter statement.
    """
    truth = _as_binary(y_true)
    best: dict | None = None
    for k in ks:
        pred = most_frequent_baseline(y_train, truth.shape[0], k)
        scores = f1_summary(truth, pred)
        precision, recall = tutorial_precision_recall(truth, pred)
        candidate = {"k": int(k), "precision": precision, "recall": recall, **scores}
        if best is None or candidate["micro_f1"] > best["micro_f1"]:
            best = candidate
    assert best is not None
    return best
