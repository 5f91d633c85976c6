"""Shared pieces of the issue-5 models: dense-vector learners, late fusion, scoring helpers.

Tutorial steps extended: "Section 8/9 — networks on poster / word2vec vectors" and the closing
remark about combining modalities. :class:`DenseLearner` is a regularised linear model over
dense vectors (VGG16 poster embeddings, mean word2vec): standardised, PCA-whitened, one L2
logistic regression per genre fitted jointly, *cross-fitted* so every training row also
has an out-of-fold probability. :class:`LateFusion` combines calibrated probability
sources per genre (a logistic regression on their logits); the text model uses it to stack
the TF-IDF SVMs with sentence-encoder and word2vec learners, the fusion model to stack text
and poster. No Dagster import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import KFold

__all__ = [
    "DenseLearner",
    "LateFusion",
    "fit_late_fusion",
    "fit_logit_stack",
    "per_movie_log_loss",
    "ranking_quality",
    "select_candidate",
    "train_dense_learner",
]

_EPS = 1e-6


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _sigmoid(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=float), -50, 50)))


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
    """Standardised, PCA-whitened dense vectors (poster or word embeddings) -> one logistic regression per genre."""

    labels: list[str]
    mean: np.ndarray
    std: np.ndarray
    projection: np.ndarray  # (dim, components): PCA directions scaled to unit variance
    coef: np.ndarray  # (n_labels, components)
    intercept: np.ndarray  # (n_labels,)
    C: float
    oof_proba: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def predict_proba(self, E) -> np.ndarray:
        E = np.asarray(E, dtype=np.float64)
        if E.ndim != 2 or E.shape[1] != self.dim:
            raise ValueError(f"vectors must be (n, {self.dim}), got {E.shape}")
        return _sigmoid((((E - self.mean) / self.std) @ self.projection) @ self.coef.T + self.intercept)

    @property
    def dim(self) -> int:
        return int(self.projection.shape[0])


def _fit_joint_lr(Z: np.ndarray, Y: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    """L2 logistic regression for every genre at once (one L-BFGS over all genres).

    The objective is the sum of the per-genre objectives of scikit-learn's
    ``LogisticRegression(C=C)`` (``C`` * log-loss + ||w||^2 / 2, intercept not penalised),
    so the solution is the same as fitting the genres one by one, in one optimisation.
    A genre with a single class gets a fixed intercept of +/-10 and no weights.
    """
    from scipy.optimize import minimize

    n, d = Z.shape
    L = Y.shape[1]
    positives = Y.sum(axis=0)
    active = np.flatnonzero((positives > 0) & (positives < n))
    coef = np.zeros((L, d))
    intercept = np.where(positives > 0, 10.0, -10.0).astype(float)
    if not len(active):
        return coef, intercept
    Ya = Y[:, active].astype(float)
    k = len(active)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta[: d * k].reshape(d, k)
        b = theta[d * k :]
        logits = Z @ W + b
        # log(1 + exp(x)) - y x, computed stably
        loss = np.logaddexp(0.0, logits) - Ya * logits
        residual = _sigmoid(logits) - Ya
        value = C * loss.sum() + 0.5 * (W * W).sum()
        grad_W = C * (Z.T @ residual) + W
        grad_b = C * residual.sum(axis=0)
        return float(value), np.concatenate([grad_W.ravel(), grad_b])

    start = np.zeros(d * k + k)
    prior = Ya.mean(axis=0)
    start[d * k :] = np.log(prior / (1 - prior))
    result = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    W = result.x[: d * k].reshape(d, k)
    coef[active] = W.T
    intercept[active] = result.x[d * k :]
    return coef, intercept


def _whitening(Z: np.ndarray, components: int) -> np.ndarray:
    """PCA directions of standardised training embeddings, scaled so projections have unit variance."""
    _, singular, vt = np.linalg.svd(Z, full_matrices=False)
    k = int(max(1, min(components, len(singular), int((singular > 1e-8 * singular[0]).sum()))))
    return vt[:k].T / (singular[:k] / np.sqrt(len(Z)))


def train_dense_learner(
    E, Y, labels: Sequence[str], E_val=None, Y_val=None, Cs: Sequence[float] = (0.001, 0.003, 0.01, 0.03),
    components: int = 128, folds: int = 5, seed: int = 0,
) -> DenseLearner:
    """Fit on training vectors; ``C`` chosen on validation vectors by ranking quality; out-of-fold probabilities kept.

    Vectors are standardised and whitened onto their first ``components`` principal
    directions (VGG16 features are highly correlated: this keeps the signal and makes the
    logistic regressions converge in a few dozen iterations instead of hundreds).
    """
    E = np.asarray(E, dtype=np.float64)
    Y = (np.asarray(Y) > 0).astype(np.uint8)
    if E.shape[0] != Y.shape[0] or E.shape[0] < max(2, folds):
        raise ValueError(f"need at least {max(2, folds)} training vectors with labels, got {E.shape[0]}")
    mean = E.mean(axis=0)
    std = E.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    Z = (E - mean) / std
    projection = _whitening(Z, min(int(components), max(8, len(E) // 4)))  # at most a quarter as many directions as rows
    W = Z @ projection
    quality: dict[str, float] = {}
    C = float(Cs[len(Cs) // 2])
    if E_val is not None and Y_val is not None and len(E_val) and len(Cs) > 1:
        Wv = ((np.asarray(E_val, dtype=np.float64) - mean) / std) @ projection
        for c in Cs:
            coef, intercept = _fit_joint_lr(W, Y, float(c))
            quality[str(c)] = round(ranking_quality(Y_val, Wv @ coef.T + intercept), 5)
        C = float(max(Cs, key=lambda c: (quality[str(c)], -c)))
    oof = np.zeros(Y.shape)
    for fit_rows, held_rows in KFold(n_splits=int(folds), shuffle=True, random_state=seed).split(W):
        coef, intercept = _fit_joint_lr(W[fit_rows], Y[fit_rows], C)
        oof[held_rows] = _sigmoid(W[held_rows] @ coef.T + intercept)
    coef, intercept = _fit_joint_lr(W, Y, C)
    info = {"C": C, "C_grid_validation_quality": quality, "train_rows": int(len(E)), "dim": int(E.shape[1]),
            "components": int(projection.shape[1]), "oof_ranking_quality": round(ranking_quality(Y, oof), 5)}
    return DenseLearner(labels=list(labels), mean=mean, std=std, projection=projection, coef=coef, intercept=intercept,
                         C=C, oof_proba=oof, info=info)


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
        logits = self.weights[:, -1] + sum(self.weights[:, j] * _logit(p) for j, p in enumerate(sources))
        return _sigmoid(logits)


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
        features = np.column_stack([_logit(p[:, g]) for p in sources])
        lr = LogisticRegression(C=C, max_iter=1000)
        lr.fit(features, Y[:, g])
        weights[g, :k] = lr.coef_[0]
        weights[g, k] = lr.intercept_[0]
    return LateFusion(weights=weights)


def fit_late_fusion(p_text: np.ndarray, p_poster: np.ndarray, Y: np.ndarray, C: float = 1.0) -> LateFusion:
    """Fit on movies that have both modalities (out-of-fold probabilities of training movies)."""
    return fit_logit_stack([p_text, p_poster], Y, C=C)


def per_movie_log_loss(Y, P) -> np.ndarray:
    """Binary cross-entropy summed over genres, one number per movie."""
    Y = (np.asarray(Y) > 0).astype(float)
    P = np.clip(np.asarray(P, dtype=float), _EPS, 1 - _EPS)
    return -(Y * np.log(P) + (1 - Y) * np.log(1 - P)).sum(axis=1)


def select_candidate(
    Y_val, scores_val: dict[str, np.ndarray], min_z: float = 1.645, singles: Sequence[str] = ("text", "poster")
) -> tuple[str, dict]:
    """Choose among candidates on validation movies; a combiner must *significantly* beat the best single modality.

    The best single modality (``singles``: ``"text"`` / ``"poster"``) is the one with the lowest mean
    per-movie log-loss. A combiner (``"late"``, ``"gmu"``) replaces it only if its paired
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
