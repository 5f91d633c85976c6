"""Shared pieces of the stacked models: dense-vector learners, logit stacks, candidate selection.

Tutorial steps extended: "Section 8/9 — networks on poster / word2vec vectors" and the closing
remark about combining modalities. :class:`DenseLearner` is a regularised linear model over
dense vectors (VGG16 poster embeddings, sentence vectors, mean word2vec): scikit-learn's
``VarianceThreshold``, ``StandardScaler`` and ``PCA(whiten=True)`` fitted on the training
vectors, then one L2 ``LogisticRegression`` per genre (``OneVsRestClassifier``),
*cross-fitted* so every training row also has an out-of-fold probability. :class:`LateFusion` combines calibrated probability
sources per genre (a logistic regression on their logits); the text model uses it to stack
the TF-IDF SVMs with sentence-encoder and word2vec learners, the fusion model to stack text
and poster. :func:`select_candidate` keeps a combination only when validation says it helps.
No Dagster import.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.decomposition import PCA
from sklearn.feature_selection import VarianceThreshold
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from genre_pipeline.models.metrics import EPS, clipped_logit

__all__ = [
    "DenseLearner",
    "LateFusion",
    "SparseLearner",
    "fit_logit_stack",
    "per_movie_log_loss",
    "ranking_quality",
    "select_candidate",
    "train_dense_learner",
    "train_sparse_learner",
]


def ranking_quality(truth, scores) -> float:
    """(micro average precision + macro AP over genres with a positive) / 2: threshold-free."""
    truth = (np.asarray(truth) > 0).astype(int)
    scores = np.asarray(scores, dtype=float)
    present = np.flatnonzero(truth.sum(axis=0) > 0)
    if not len(present) or truth.shape[0] == 0:
        return 0.0
    micro = average_precision_score(truth[:, present], scores[:, present], average="micro")
    macro = average_precision_score(truth[:, present], scores[:, present], average="macro")
    return float((micro + macro) / 2.0)


@dataclass
class DenseLearner:
    """Standardised, PCA-whitened dense vectors -> one logistic regression per genre (one scikit-learn pipeline)."""

    labels: list[str]
    pipeline: Pipeline  # VarianceThreshold -> StandardScaler -> PCA(whiten=True) -> OneVsRestClassifier(LogisticRegression)
    C: float
    oof_proba: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.pipeline[0].n_features_in_)

    def predict_proba(self, E) -> np.ndarray:
        E = np.asarray(E, dtype=np.float64)
        if E.ndim != 2 or E.shape[1] != self.dim:
            raise ValueError(f"vectors must be (n, {self.dim}), got {E.shape}")
        return self.pipeline.predict_proba(E)


def _per_genre_logistic(C: float) -> OneVsRestClassifier:
    return OneVsRestClassifier(LogisticRegression(C=float(C), max_iter=1000))


def _whitening(E: np.ndarray, components: int) -> Pipeline:
    """Drop constant dimensions, standardise, ``PCA(whiten=True)`` onto at most ``components`` non-degenerate directions."""
    # A dimension whose spread is rounding noise (std <= 1e-6; all-MiniLM-L6-v2 has three) would be blown up to unit variance.
    selector = VarianceThreshold(threshold=1e-12).fit(E)
    scaler = StandardScaler().fit(selector.transform(E))
    Z = scaler.transform(selector.transform(E))
    k = int(max(1, min(components, *Z.shape)))
    pca = PCA(n_components=k, whiten=True, svd_solver="full").fit(Z)
    rank = int((pca.singular_values_ > 1e-8 * pca.singular_values_[0]).sum())
    if rank < k:  # fewer independent directions than asked: whitening a null direction would blow it up
        pca = PCA(n_components=max(1, rank), whiten=True, svd_solver="full").fit(Z)
    return make_pipeline(selector, scaler, pca)


def _cross_fitted(W, Y, W_val, Y_val, Cs: Sequence[float], folds: int, seed: int):
    """``(C, validation quality by C, out-of-fold probabilities, classifier on all rows)`` of per-genre logistic regressions.

    ``C`` is the one of ``Cs`` with the best :func:`ranking_quality` on the validation rows
    (the middle one without them); the out-of-fold probabilities come from ``folds`` seeded folds.
    """
    quality: dict[str, float] = {}
    C = float(Cs[len(Cs) // 2])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="sklearn.multiclass")  # a genre with one class
        if W_val is not None and Y_val is not None and W_val.shape[0] and len(Cs) > 1:
            for c in Cs:
                margins = _per_genre_logistic(c).fit(W, Y).decision_function(W_val)
                quality[str(c)] = round(ranking_quality(Y_val, margins), 5)
            C = float(max(Cs, key=lambda c: (quality[str(c)], -c)))
        folding = KFold(n_splits=int(folds), shuffle=True, random_state=seed)
        oof = cross_val_predict(_per_genre_logistic(C), W, Y, cv=folding, method="predict_proba")
        classifier = _per_genre_logistic(C).fit(W, Y)
    return C, quality, oof, classifier


def train_dense_learner(
    E, Y, labels: Sequence[str], E_val=None, Y_val=None, Cs: Sequence[float] = (0.001, 0.003, 0.01, 0.03),
    components: int = 128, folds: int = 5, seed: int = 0,
) -> DenseLearner:
    """Fit on training vectors; ``C`` chosen on validation vectors by ranking quality; out-of-fold probabilities kept.

    Vectors are standardised and whitened onto their first principal directions (at most
    ``components``, at most a quarter as many as training rows): VGG16 and sentence features
    are highly correlated, whitening keeps the signal and makes the logistic regressions
    converge in a few dozen iterations. The whitening is fitted once on all training
    vectors (no labels involved); the regressions are cross-fitted.
    """
    E = np.asarray(E, dtype=np.float64)
    Y = (np.asarray(Y) > 0).astype(np.uint8)
    if E.shape[0] != Y.shape[0] or E.shape[0] < max(2, folds):
        raise ValueError(f"need at least {max(2, folds)} training vectors with labels, got {E.shape[0]}")
    whitening = _whitening(E, min(int(components), max(8, len(E) // 4)))
    W = whitening.transform(E)
    W_val = whitening.transform(np.asarray(E_val, dtype=np.float64)) if E_val is not None and len(E_val) else None
    C, quality, oof, classifier = _cross_fitted(W, Y, W_val, Y_val, Cs, folds, seed)
    info = {"C": C, "C_grid_validation_quality": quality, "train_rows": int(len(E)), "dim": int(E.shape[1]),
            "components": int(W.shape[1]), "oof_ranking_quality": round(ranking_quality(Y, oof), 5)}
    return DenseLearner(labels=list(labels), pipeline=Pipeline([*whitening.steps, ("classify", classifier)]), C=C, oof_proba=oof, info=info)


@dataclass
class SparseLearner:
    """Sparse indicator features (e.g. catalog facts) -> one logistic regression per genre."""

    labels: list[str]
    classifier: OneVsRestClassifier
    C: float
    dim: int
    oof_proba: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def predict_proba(self, M) -> np.ndarray:
        M = sp.csr_matrix(M, dtype=np.float64)
        if M.shape[1] != self.dim:
            raise ValueError(f"features must be (n, {self.dim}), got {M.shape}")
        return self.classifier.predict_proba(M)


def train_sparse_learner(M, Y, labels: Sequence[str], M_val=None, Y_val=None, Cs: Sequence[float] = (0.1, 0.3, 1.0),
                         folds: int = 3, seed: int = 0) -> SparseLearner:
    """Fit on training rows; ``C`` chosen on validation rows by ranking quality; out-of-fold probabilities kept."""
    M = sp.csr_matrix(M, dtype=np.float64)
    Y = (np.asarray(Y) > 0).astype(np.uint8)
    if M.shape[0] != Y.shape[0] or M.shape[0] < max(2, folds):
        raise ValueError(f"need at least {max(2, folds)} training rows with labels, got {M.shape[0]}")
    M_val = sp.csr_matrix(M_val, dtype=np.float64) if M_val is not None and M_val.shape[0] else None
    C, quality, oof, classifier = _cross_fitted(M, Y, M_val, Y_val, Cs, folds, seed)
    info = {"C": C, "C_grid_validation_quality": quality, "train_rows": int(M.shape[0]), "dim": int(M.shape[1]),
            "oof_ranking_quality": round(ranking_quality(Y, oof), 5)}
    return SparseLearner(labels=list(labels), classifier=classifier, C=C, dim=int(M.shape[1]), oof_proba=oof, info=info)


@dataclass
class LateFusion:
    """Per-genre logistic regression on the logits of k calibrated probability sources.

    ``weights`` is ``(n_labels, k + 1)``: one weight per source, then the bias. With two
    sources (text, poster) the columns are ``(w_text, w_poster, bias)``.
    """

    weights: np.ndarray  # (n_labels, k + 1)

    @property
    def n_sources(self) -> int:
        return int(self.weights.shape[1]) - 1

    def predict_proba(self, *sources: np.ndarray) -> np.ndarray:
        if len(sources) != self.n_sources:
            raise ValueError(f"this combiner takes {self.n_sources} probability sources, got {len(sources)}")
        logits = self.weights[:, -1] + sum(self.weights[:, j] * clipped_logit(p) for j, p in enumerate(sources))
        return expit(logits)


def fit_logit_stack(sources: Sequence[np.ndarray], Y: np.ndarray, C: float = 1.0) -> LateFusion:
    """Fit a :class:`LateFusion` over ``sources`` (each ``(n, n_labels)``, out-of-fold for training rows).

    A genre with a single class in ``Y`` keeps the first source's probability unchanged.
    """
    Y = (np.asarray(Y) > 0).astype(np.uint8)
    k = len(sources)
    weights = np.zeros((Y.shape[1], k + 1))
    for g in range(Y.shape[1]):
        positives = int(Y[:, g].sum())
        if positives == 0 or positives == len(Y):  # nothing to learn: keep the first source's probability
            weights[g, 0] = 1.0
            continue
        features = np.column_stack([clipped_logit(p[:, g]) for p in sources])
        lr = LogisticRegression(C=C, max_iter=1000)
        lr.fit(features, Y[:, g])
        weights[g, :k] = lr.coef_[0]
        weights[g, k] = lr.intercept_[0]
    return LateFusion(weights=weights)


def per_movie_log_loss(Y, P) -> np.ndarray:
    """Binary cross-entropy summed over genres, one number per movie."""
    Y = (np.asarray(Y) > 0).astype(float)
    P = np.clip(np.asarray(P, dtype=float), EPS, 1 - EPS)
    return -(Y * np.log(P) + (1 - Y) * np.log(1 - P)).sum(axis=1)


def select_candidate(
    Y_val, scores_val: dict[str, np.ndarray], min_z: float = 1.645, singles: Sequence[str] = ("text", "poster")
) -> tuple[str, dict]:
    """Choose among candidates on validation movies; a combiner must *significantly* beat the best single modality.

    The best single modality (``singles``: ``"text"`` / ``"poster"``) is the one with the lowest mean
    per-movie log-loss. A combiner (e.g. ``"late"``) replaces it only if its paired
    per-movie log-loss improvement has a z-score above ``min_z`` (one-sided, 95% by
    default); otherwise the fusion model *is* the best single modality. Why: on a small
    validation split a combiner whose gain is noise would add variance to the decisions
    and could end up below the single modality it was meant to improve.
    """
    losses = {m: per_movie_log_loss(Y_val, P) for m, P in scores_val.items()}
    n = len(next(iter(losses.values()))) if losses else 0
    singles = [m for m in singles if m in losses]
    best_single = min(singles, key=lambda m: (float(losses[m].mean()) if n else 0.0, singles.index(m)))
    report: dict = {"validation_movies": int(n), "mean_log_loss": {m: round(float(v.mean()), 5) if n else None for m, v in losses.items()},
                    "ranking_quality": {m: round(ranking_quality(Y_val, P), 5) if n else None for m, P in scores_val.items()},
                    "best_single": best_single, "z_vs_best_single": {}, "min_z": float(min_z)}
    chosen, chosen_z = best_single, float(min_z)
    for m in losses:
        if m in singles or n < 2:
            continue
        diff = losses[best_single] - losses[m]
        spread = float(diff.std(ddof=1))
        z = float(diff.mean() / (spread / np.sqrt(n))) if spread > 0 else (np.inf if diff.mean() > 0 else 0.0)
        report["z_vs_best_single"][m] = round(z, 3)
        if z > chosen_z:
            chosen, chosen_z = m, z
    report["chosen"] = chosen
    return chosen, report
