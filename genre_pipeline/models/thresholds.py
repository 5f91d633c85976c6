"""Per-genre decision thresholds chosen on the validation split (maximising F1).

Tutorial step: "Section 8/9 — from scores to genres". The tutorial turns a network's sigmoid
outputs into genres with the *top-3 rule* (every movie gets exactly its three highest-scoring
genres), and the SVM / naive Bayes with their built-in 0.5 boundary. Neither looks at how
often a genre occurs: a movie with one genre still gets three, a rare genre whose scores
never reach 0.5 is never predicted.

This module makes *decisions* instead: for every genre the threshold on the model's score
that maximises that genre's F1 **on the validation split** (the training split is what the
model fitted, the test split is for reporting only: nothing here ever sees test labels).

Robustness on small validation splits (63 movies for a 600-movie catalog):

* a genre with fewer than ``min_positives`` validation movies gets the *global* threshold,
  the single threshold that maximises micro-F1 over all genres on validation (and a genre
  with no validation movie at all gets it too), instead of an argmax over two or three points;
* every threshold sits half-way between two observed scores (not on one), so a test score equal
  to a validation score is decided the same way on either side of the split;
* ``at_least_one``: a movie whose scores are all below threshold gets its best genre (every
  movie in the catalog has at least one genre); it is switched on only when it does not lower
  micro-F1 on validation.

The tutorial's rule stays available as :func:`top3` for side-by-side comparison.
:class:`Thresholds` serialises to plain JSON (``to_dict`` / ``from_dict``) so it is stored
next to a model and used by ``predict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from genre_pipeline.models.metrics import clipped_logit, top_k

__all__ = [
    "DEFAULT_THRESHOLD",
    "SHRINK_GRID",
    "Thresholds",
    "apply_thresholds",
    "best_f1_threshold",
    "choose_shrinkage",
    "fit_thresholds",
    "top3",
]

DEFAULT_THRESHOLD = 0.5
THRESHOLDS_FORMAT = 1


def top3(scores) -> np.ndarray:
    """The tutorial's rule: each movie's three highest-scoring genres."""
    return top_k(scores, 3)


def _cut_points(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct scores in decreasing order and the threshold that keeps each prefix.

    Thresholds are half-way between consecutive distinct scores (the last one just below
    the smallest score), so ``score >= threshold`` selects exactly the prefix.
    """
    distinct = np.unique(scores)[::-1]
    lower = np.append(distinct[1:], distinct[-1] - max(1e-6, 1e-3 * abs(distinct[-1])))
    return distinct, (distinct + lower) / 2.0


def best_f1_threshold(scores, truth) -> tuple[float, float]:
    """The threshold maximising F1 of ``scores >= t`` against binary ``truth``, and that F1.

    Candidates are cuts between distinct observed scores; ties in F1 go to the higher
    threshold (fewer predictions). Raises ``ValueError`` when ``truth`` has no positive.
    """
    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(truth).ravel() > 0
    positives = int(y.sum())
    if positives == 0:
        raise ValueError("no positive example: F1 is undefined for every threshold")
    distinct, cuts = _cut_points(s)
    # True positives and predictions when keeping every score >= distinct[k].
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp_cum = np.cumsum(y_sorted)
    # last index of each distinct value in the sorted array (scores descending)
    ends = np.searchsorted(-s_sorted, -distinct, side="right") - 1
    tp = tp_cum[ends].astype(float)
    predicted = (ends + 1).astype(float)
    f1 = 2.0 * tp / (predicted + positives)
    best = int(np.argmax(f1))  # first maximum = highest threshold
    return float(cuts[best]), float(f1[best])


def _micro_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float((pred & truth).sum())
    denominator = float(pred.sum() + truth.sum())
    return 2.0 * tp / denominator if denominator else 0.0


def _global_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The single threshold maximising micro-F1 over every (movie, genre) cell."""
    if truth.sum() == 0:
        return DEFAULT_THRESHOLD
    threshold, _ = best_f1_threshold(scores.ravel(), truth.ravel())
    return threshold


@dataclass
class Thresholds:
    """Per-genre thresholds in a fixed label order, and how each one was chosen."""

    labels: list[str]
    values: np.ndarray  # (n_labels,) float
    global_threshold: float = DEFAULT_THRESHOLD
    at_least_one: bool = False
    source: list[str] = field(default_factory=list)  # per genre: "validation" | "global" | "default"
    info: dict = field(default_factory=dict)

    def apply(self, scores) -> np.ndarray:
        return apply_thresholds(scores, self)

    def to_dict(self) -> dict:
        return {
            "format": THRESHOLDS_FORMAT,
            "labels": list(self.labels),
            "values": [float(v) for v in self.values],
            "global_threshold": float(self.global_threshold),
            "at_least_one": bool(self.at_least_one),
            "source": list(self.source),
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Thresholds:
        if int(data.get("format", 0)) != THRESHOLDS_FORMAT:
            raise ValueError(f"unsupported thresholds format {data.get('format')!r}")
        labels = list(data["labels"])
        values = np.asarray(data["values"], dtype=float)
        if values.shape != (len(labels),):
            raise ValueError(f"{len(labels)} labels but {values.shape} threshold values")
        return cls(labels=labels, values=values, global_threshold=float(data["global_threshold"]),
                   at_least_one=bool(data.get("at_least_one", False)), source=list(data.get("source", [])),
                   info=dict(data.get("info", {})))

    def table(self) -> list[dict]:
        """One row per genre (for metadata / reports)."""
        sources = self.source or ["?"] * len(self.labels)
        return [{"genre": g, "threshold": round(float(v), 4), "source": s} for g, v, s in zip(self.labels, self.values, sources)]


def apply_thresholds(scores, thresholds: Thresholds) -> np.ndarray:
    """Binary decisions ``score >= threshold`` per genre (+ best genre if none, when enabled)."""
    values = np.asarray(scores, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(thresholds.labels):
        raise ValueError(f"scores must be (n_movies, {len(thresholds.labels)}), got {values.shape}")
    pred = (values >= thresholds.values[None, :]).astype(np.uint8)
    if thresholds.at_least_one and values.shape[0]:
        empty = pred.sum(axis=1) == 0
        if empty.any():
            best = np.argmax(values[empty] - thresholds.values[None, :], axis=1)  # closest to its threshold
            pred[np.flatnonzero(empty), best] = 1
    return pred


SHRINK_GRID: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0, float("inf"))


def _raw_thresholds(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Per-genre F1-maximising thresholds (global one where a genre has no positive)."""
    global_t = _global_threshold(scores, truth)
    positives = truth.sum(axis=0)
    values = np.full(scores.shape[1], global_t, dtype=float)
    for g in np.flatnonzero(positives > 0):
        values[g], _ = best_f1_threshold(scores[:, g], truth[:, g])
    return values, global_t, positives


def _shrunk(values: np.ndarray, global_t: float, positives: np.ndarray, k: float) -> np.ndarray:
    """Move each genre's threshold toward the global one (in logit space): weight n / (n + k)."""
    if np.isinf(k):
        return np.full_like(values, global_t)
    weight = positives / (positives + k) if k > 0 else (positives > 0).astype(float)
    return expit(weight * clipped_logit(values) + (1 - weight) * clipped_logit(global_t))


def _micro_macro(pred: np.ndarray, truth: np.ndarray) -> float:
    """(micro-F1 + macro-F1 over genres present) / 2, the objective the shrinkage is chosen by."""
    micro = _micro_f1(pred, truth)
    present = np.flatnonzero(truth.sum(axis=0) > 0)
    if not len(present):
        return micro
    tp = (pred & truth).sum(axis=0)[present].astype(float)
    denominator = (pred.sum(axis=0) + truth.sum(axis=0))[present].astype(float)
    macro = float(np.mean(np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)))
    return (micro + macro) / 2.0


def choose_shrinkage(
    scores, truth, grid: Sequence[float] = SHRINK_GRID, folds: int = 5, repeats: int = 5, seed: int = 0
) -> tuple[float, dict]:
    """Pick the shrinkage ``k`` by repeated ``folds``-fold cross-validation *inside* the validation split.

    Each fold's thresholds are fitted on the other folds and decide the held-out fold; the
    pooled held-out decisions are scored by (micro-F1 + macro-F1) / 2, averaged over
    ``repeats`` different fold assignments (one split of 60 movies is too noisy to choose
    by). Ties go to the larger ``k`` (the simpler rule).
    """
    scores = np.asarray(scores, dtype=float)
    truth = (np.asarray(truth) > 0).astype(np.uint8)
    n = scores.shape[0]
    folds = max(2, min(int(folds), n))
    objective = {k: 0.0 for k in grid}
    rng = np.random.default_rng(seed)
    for _ in range(max(1, int(repeats))):
        order = rng.permutation(n)
        fold_of = np.empty(n, dtype=int)
        fold_of[order] = np.arange(n) % folds
        pooled = {k: np.zeros_like(truth) for k in grid}
        for f in range(folds):
            fit, held = fold_of != f, fold_of == f
            values, global_t, positives = _raw_thresholds(scores[fit], truth[fit])
            for k in grid:
                pooled[k][held] = (scores[held] >= _shrunk(values, global_t, positives, k)[None, :]).astype(np.uint8)
        for k in grid:
            objective[k] += _micro_macro(pooled[k].astype(bool), truth.astype(bool)) / max(1, int(repeats))
    best = max(sorted(grid, reverse=True), key=lambda k: round(objective[k], 9))  # first max among larger k
    return float(best), {("inf" if np.isinf(k) else str(k)): round(v, 5) for k, v in objective.items()}


def fit_thresholds(
    val_scores,
    val_truth,
    labels: Sequence[str],
    shrinkage: float | str = "cv",
    allow_at_least_one: bool = True,
    seed: int = 0,
) -> Thresholds:
    """Per-genre F1-maximising thresholds from **validation** scores and labels only.

    ``val_scores`` are a model's scores in [0, 1] for the validation movies, ``val_truth``
    their binary genres, both in ``labels`` order. Each genre's F1-maximising threshold is
    shrunk toward the global (micro-F1-maximising) threshold with weight ``n / (n + k)``,
    ``n`` its validation movies; ``shrinkage="cv"`` picks ``k`` by cross-validation within
    the validation split (:func:`choose_shrinkage`), a number fixes it (0: pure per-genre,
    ``inf``: one global threshold). With no validation movie every genre takes
    :data:`DEFAULT_THRESHOLD`.
    """
    scores = np.asarray(val_scores, dtype=float)
    truth = (np.asarray(val_truth) > 0).astype(np.uint8)
    n_labels = len(labels)
    if scores.ndim != 2 or scores.shape[1] != n_labels or truth.shape != scores.shape:
        raise ValueError(f"scores {scores.shape} and truth {truth.shape} must both be (n_movies, {n_labels})")
    if scores.shape[0] == 0 or truth.sum() == 0:
        return Thresholds(labels=list(labels), values=np.full(n_labels, DEFAULT_THRESHOLD), source=["default"] * n_labels,
                          info={"validation_movies": int(scores.shape[0])})
    cv_objective: dict = {}
    if shrinkage == "cv":
        k, cv_objective = choose_shrinkage(scores, truth, seed=seed) if scores.shape[0] >= 10 else (float("inf"), {})
    else:
        k = float(shrinkage)
    values, global_t, positives = _raw_thresholds(scores, truth)
    values = _shrunk(values, global_t, positives, k)
    source = ["global" if (np.isinf(k) or positives[g] == 0) else "validation" for g in range(n_labels)]
    fitted = Thresholds(labels=list(labels), values=values, global_threshold=global_t, source=source,
                        info={"validation_movies": int(scores.shape[0]), "shrinkage_k": ("inf" if np.isinf(k) else k),
                              "cv_objective": cv_objective, "validation_positives": [int(p) for p in positives]})
    base_f1 = _micro_f1(fitted.apply(scores).astype(bool), truth.astype(bool))
    if allow_at_least_one:
        fitted.at_least_one = True
        with_one = _micro_f1(fitted.apply(scores).astype(bool), truth.astype(bool))
        fitted.at_least_one = with_one >= base_f1
        base_f1 = max(base_f1, with_one)
    fitted.info["validation_micro_f1"] = round(base_f1, 5)
    return fitted
