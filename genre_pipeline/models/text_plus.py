"""A stronger text model: calibrated TF-IDF SVMs stacked with a mean-word2vec learner.

Tutorial steps: "Section 7 — SVM on TF-IDF" and "Section 9 — network on mean word2vec". The
tutorial trains these two text models separately and decides each with a fixed rule. This
module combines them into one probabilistic text model:

* **TF-IDF SVMs**: one class-balanced ``LinearSVC`` per genre on the pipeline's TF-IDF of
  title + overview (:func:`genre_pipeline.features.text.tfidf_vectorizer`: word 1-2-grams and
  character 2-5-grams); ``C`` is picked on the validation split by threshold-free ranking
  quality (mean of micro and macro average precision), not by ``svc_tfidf``'s 3-fold grid
  search on training movies (measured: that one picks C=0.003 on tmdb5000, whose flat margins
  rank genres worse on the small posters600 catalog);
* **calibrated probabilities**: each genre's margin goes through a Platt sigmoid fitted on
  *out-of-fold* margins of the training movies (``folds``-fold cross-fitting); the out-of-fold
  probabilities are kept (:attr:`TextPlusModel.oof_proba`) so the fusion model can be
  stacked on them without ever scoring a movie with a model that saw its labels;
* **+ word embeddings** ("combining TF-IDF with embeddings"): a cross-fitted, regularised
  logistic model on each text's mean word2vec vector (the pipeline's vectors) is stacked on
  the SVM probabilities per genre (logistic regression on the two logits); it is kept only if
  it lowers the validation log-loss with a paired z-score above ``min_z`` — otherwise the
  model is the calibrated SVMs alone, and says so in ``info["word2vec"]``.

Measured on the real 4,803-movie TMDB export (``bench/fusion_bench.py``, closing note of
issue 5); also tried and dropped there: logistic regression instead of the SVMs, appending
scaled word2vec columns to the TF-IDF matrix, averaging SVM / naive Bayes / logistic scores.

Science only: no Dagster import; deterministic for a given input and seed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.svm import LinearSVC

from genre_pipeline.features.text import tfidf_vectorizer
from genre_pipeline.models.stacking import (
    DenseLearner,
    LateFusion,
    fit_late_fusion,
    ranking_quality,
    select_candidate,
    train_dense_learner,
)

__all__ = [
    "DEFAULT_CS",
    "TextPlusModel",
    "compose_text",
    "ranking_quality",
    "train_text_plus",
]

DEFAULT_CS: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)


def compose_text(overview: str | None, title: str | None = None) -> str:
    """The text the model reads: ``"<title>. <overview>"`` (either may be missing)."""
    parts = [str(x).strip() for x in (title, overview) if isinstance(x, str) and x.strip()]
    return ". ".join(parts)


def compose_texts(overviews: Sequence, titles: Sequence | None = None) -> list[str]:
    titles = [None] * len(overviews) if titles is None else list(titles)
    if len(titles) != len(overviews):
        raise ValueError(f"{len(overviews)} overviews but {len(titles)} titles")
    return [compose_text(o, t) for o, t in zip(overviews, titles)]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=float), -50, 50)))


def _fit_margins(X, Y: np.ndarray, C: float, seed: int, X_apply_list: Sequence) -> list[np.ndarray]:
    """One class-balanced LinearSVC per genre on (X, Y); margins on each matrix of X_apply_list.

    A genre with a single class in ``Y`` gets a constant margin of -/+10.
    """
    outs = [np.zeros((Xa.shape[0], Y.shape[1])) for Xa in X_apply_list]
    for g in range(Y.shape[1]):
        positives = int(Y[:, g].sum())
        if positives == 0 or positives == Y.shape[0]:
            for out in outs:
                out[:, g] = 10.0 if positives else -10.0
            continue
        svm = LinearSVC(C=C, class_weight="balanced", random_state=seed, max_iter=5000, dual="auto")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            svm.fit(X, Y[:, g])
        for out, Xa in zip(outs, X_apply_list):
            out[:, g] = svm.decision_function(Xa)
    return outs


@dataclass
class TextInputs:
    """What the text model reads for a batch of movies: TF-IDF rows and mean word vectors."""

    X: object  # sparse TF-IDF matrix
    E: np.ndarray | None = None  # mean word vectors (rows of movies without a known word are 0)
    has_vectors: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def has_text(self) -> np.ndarray:
        """Movies whose title/overview has at least one known TF-IDF feature."""
        return np.asarray(self.X.getnnz(axis=1) > 0)

    def __getitem__(self, rows) -> TextInputs:
        index = np.arange(self.X.shape[0])[rows]
        return TextInputs(self.X[index], None if self.E is None else self.E[index],
                          None if self.has_vectors is None else self.has_vectors[index])


def mean_vectors(texts: Sequence[str], word_vectors) -> tuple[np.ndarray, np.ndarray]:
    """Mean word vector of each text (tutorial's word2vec feature) and which texts had a known word."""
    from genre_pipeline.features.word2vec import mean_embeddings

    embedded = mean_embeddings(["" if t is None else str(t) for t in texts], word_vectors)
    full = np.zeros((len(texts), int(word_vectors.vector_size)))
    full[embedded.kept] = embedded.matrix
    return full, embedded.kept


@dataclass
class TextPlusModel:
    """Vectorizer + per-genre linear SVMs + Platt sigmoids (+ a stacked word2vec learner), fixed label order."""

    labels: list[str]
    vectorizer: object
    svms: list  # per genre: LinearSVC, or None for a genre with one class in training
    constant: dict[int, float]  # genre column -> fixed probability (single-class genres)
    platt: np.ndarray  # (n_labels, 2): probability = sigmoid(a * margin + b)
    C: float
    oof_proba: np.ndarray | None = None  # (n_train, n_labels) out-of-fold probabilities
    info: dict = field(default_factory=dict)
    word_vectors: object = None  # gensim KeyedVectors, when the word2vec learner is stacked
    dense: DenseLearner | None = None  # mean word2vec -> logistic regressions
    stack: LateFusion | None = None  # per-genre combination of the SVM and word2vec probabilities

    name = "text_plus"
    input_kind = "title+overview"

    def transform(self, overviews: Sequence, titles: Sequence | None = None) -> TextInputs:
        texts = compose_texts(list(overviews), titles)
        inputs = TextInputs(self.vectorizer.transform(texts))
        if self.stack is not None and self.word_vectors is not None:
            inputs.E, inputs.has_vectors = mean_vectors(texts, self.word_vectors)
        return inputs

    def decision_function_X(self, X) -> np.ndarray:
        X = X.X if isinstance(X, TextInputs) else X
        margins = np.zeros((X.shape[0], len(self.labels)))
        for g, svm in enumerate(self.svms):
            if svm is not None:
                margins[:, g] = svm.decision_function(X)
        return margins

    def svm_proba(self, X) -> np.ndarray:
        proba = _sigmoid(self.decision_function_X(X) * self.platt[:, 0] + self.platt[:, 1])
        for g, value in self.constant.items():
            proba[:, g] = value
        return proba

    def predict_proba_X(self, inputs) -> np.ndarray:
        """Probabilities from :meth:`transform` output (a bare TF-IDF matrix uses the SVMs only)."""
        proba = self.svm_proba(inputs)
        if self.stack is not None and isinstance(inputs, TextInputs) and inputs.E is not None and inputs.has_vectors.any():
            rows = inputs.has_vectors
            proba[rows] = self.stack.predict_proba(proba[rows], self.dense.predict_proba(inputs.E[rows]))
            for g, value in self.constant.items():
                proba[:, g] = value
        return proba

    def predict_proba(self, overviews: Sequence, titles: Sequence | None = None) -> np.ndarray:
        """Calibrated genre probabilities ``(n, n_labels)`` for raw overviews (and titles)."""
        if len(overviews) == 0:
            return np.zeros((0, len(self.labels)))
        return self.predict_proba_X(self.transform(overviews, titles))

    def meta(self) -> dict:
        return {"name": self.name, "labels": list(self.labels), "input_kind": self.input_kind, "C": self.C, "info": self.info}


def _platt(margins: np.ndarray, truth: np.ndarray) -> tuple[float, float] | None:
    """Sigmoid (a, b) fitted by logistic regression of ``truth`` on one margin column."""
    if truth.min() == truth.max():
        return None
    lr = LogisticRegression(C=100.0, max_iter=1000)
    lr.fit(margins.reshape(-1, 1), truth)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def train_text_plus(
    texts: Sequence[str],
    Y,
    labels: Sequence[str],
    val_texts: Sequence[str] | None = None,
    Y_val=None,
    Cs: Sequence[float] = DEFAULT_CS,
    folds: int = 3,
    seed: int = 0,
    word_vectors=None,
    min_z: float = 1.645,
) -> TextPlusModel:
    """Train on the training movies' composed texts (:func:`compose_text`) and genres ``Y``.

    ``val_texts`` / ``Y_val`` (the validation split) choose ``C`` among ``Cs`` by
    :func:`ranking_quality`; without them the first ``C`` is used. ``word_vectors`` (gensim
    ``KeyedVectors``, e.g. the pipeline's word2vec): a second, cross-fitted learner on mean
    word vectors is stacked on the SVMs per genre, and kept only if it lowers the validation
    log-loss significantly (paired z > ``min_z``). Test movies are never passed here.
    """
    Y = (np.asarray(Y) > 0).astype(np.uint8)
    texts = ["" if t is None else str(t) for t in texts]
    if Y.ndim != 2 or Y.shape != (len(texts), len(labels)):
        raise ValueError(f"Y must be ({len(texts)}, {len(labels)}), got {Y.shape}")
    if len(texts) < max(2, folds):
        raise ValueError(f"need at least {max(2, folds)} training movies, got {len(texts)}")
    vectorizer = tfidf_vectorizer()
    try:
        X = vectorizer.fit_transform(texts)
    except ValueError:  # min_df=2 finds nothing in a tiny corpus: fall back to every word
        vectorizer = tfidf_vectorizer(min_df=1)
        X = vectorizer.fit_transform(texts)

    quality: dict[str, float] = {}
    C = float(Cs[0])
    if val_texts is not None and Y_val is not None and len(val_texts) and len(Cs) > 1:
        Xv = vectorizer.transform(["" if t is None else str(t) for t in val_texts])
        for c in Cs:
            (val_margin,) = _fit_margins(X, Y, float(c), seed, [Xv])
            quality[str(c)] = round(ranking_quality(Y_val, val_margin), 5)
        C = float(max(Cs, key=lambda c: (quality[str(c)], -c)))

    # Out-of-fold margins of every training movie (cross-fitting), for calibration and stacking.
    oof = np.zeros(Y.shape)
    kfold = KFold(n_splits=int(folds), shuffle=True, random_state=seed)
    for fit_rows, held_rows in kfold.split(X):
        (oof[held_rows],) = _fit_margins(X[fit_rows], Y[fit_rows], C, seed, [X[held_rows]])

    svms: list = []
    constant: dict[int, float] = {}
    platt = np.zeros((len(labels), 2))
    for g in range(len(labels)):
        positives = int(Y[:, g].sum())
        if positives == 0 or positives == Y.shape[0]:
            svms.append(None)
            constant[g] = 1.0 if positives else 0.0
            continue
        svm = LinearSVC(C=C, class_weight="balanced", random_state=seed, max_iter=5000, dual="auto")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            svm.fit(X, Y[:, g])
        svms.append(svm)
        fitted = _platt(oof[:, g], Y[:, g])
        platt[g] = fitted if fitted is not None else (0.0, np.log(positives / (Y.shape[0] - positives)))
    oof_proba = _sigmoid(oof * platt[:, 0] + platt[:, 1])
    for g, value in constant.items():
        oof_proba[:, g] = value
    info = {"C": C, "C_grid_validation_quality": quality, "folds": int(folds), "seed": seed,
            "train_movies": int(len(texts)), "features": int(X.shape[1]),
            "oof_ranking_quality": round(ranking_quality(Y, oof_proba), 5), "word2vec": "not used"}
    model = TextPlusModel(labels=list(labels), vectorizer=vectorizer, svms=svms, constant=constant, platt=platt,
                          C=C, oof_proba=oof_proba, info=info)
    if word_vectors is not None and val_texts is not None and Y_val is not None and len(val_texts):
        _stack_word_vectors(model, texts, Y, list(val_texts), np.asarray(Y_val), word_vectors, folds, seed, min_z)
    return model


def _stack_word_vectors(model: TextPlusModel, texts, Y, val_texts, Y_val, word_vectors, folds, seed, min_z) -> None:
    """Cross-fit a mean-word2vec learner, stack it on the SVM per genre, keep it if validation says so."""
    E, has = mean_vectors(texts, word_vectors)
    if has.sum() < max(10, folds):
        model.info["word2vec"] = "too few training movies with a known word"
        return
    Ev, has_v = mean_vectors(val_texts, word_vectors)
    Y_val = (Y_val > 0).astype(np.uint8)
    dense = train_dense_learner(E[has], Y[has], model.labels, Ev[has_v], Y_val[has_v], folds=folds, seed=seed)
    oof_dense = dense.oof_proba
    stack = fit_late_fusion(model.oof_proba[has], oof_dense, Y[has])
    val_svm = model.svm_proba(model.vectorizer.transform(val_texts))
    val_stacked = val_svm.copy()
    if has_v.any():
        val_stacked[has_v] = stack.predict_proba(val_svm[has_v], dense.predict_proba(Ev[has_v]))
    chosen, selection = select_candidate(Y_val, {"svm": val_svm, "svm+word2vec": val_stacked}, min_z=min_z, singles=("svm",))
    model.info["word2vec_selection"] = selection
    if chosen != "svm+word2vec":
        model.info["word2vec"] = "measured, not kept (no significant validation gain)"
        return
    model.word_vectors, model.dense, model.stack = word_vectors, dense, stack
    oof = model.oof_proba.copy()
    oof[has] = stack.predict_proba(model.oof_proba[has], oof_dense)
    for g, value in model.constant.items():
        oof[:, g] = value
    model.oof_proba = oof
    model.info.update({"word2vec": "stacked", "word2vec_dense": dense.info,
                       "oof_ranking_quality": round(ranking_quality(Y, oof), 5)})
