"""Multimodal genre model: overview text, poster and catalog facts together, with per-genre thresholds.

Tutorial step: the closing remark of the tutorial, "in more complicated models, we can
combine the two [text and poster] to make even better predictions". The tutorial trains its
text and poster models separately and never combines them. This module does:

Base models (one per modality, each trained on the training split only)
    text: :class:`genre_pipeline.models.text_plus.TextPlusModel` (title + overview TF-IDF,
    calibrated linear SVMs, stacked with a sentence-encoder learner and / or mean word2vec
    when validation says they help); poster: a
    :class:`genre_pipeline.models.stacking.DenseLearner` (standardised, PCA-whitened poster
    embeddings, one L2-regularised logistic regression per genre); catalog facts: a
    :class:`genre_pipeline.models.stacking.SparseLearner` (one logistic regression per genre
    on the ``catalog_facts`` indicators: language, runtime, era, budget, studios, collection,
    tagline words, :mod:`genre_pipeline.features.facts`). All are *cross-fitted*:
    every training movie also gets an out-of-fold probability from a model that never saw
    its labels, and those are what the combiner learns from (stacking on in-sample
    probabilities would teach it to trust the over-fitted modality).

Combiner (fitted on the training split's out-of-fold probabilities)
    ``"late"``: late fusion of calibrated per-modality probabilities: for each genre a
    logistic regression on ``[logit p_text, logit p_poster]`` (three numbers per genre).
    If the poster carries nothing for a genre its weight goes to ~0 and the genre's ranking
    is the text model's. The same stack over text + facts and over all three modalities
    (one stack per set of two or more modalities, fitted on the training movies that have
    all of them) are candidates too: ``"text+facts"``, ``"late+facts"``. Measured on real
    posters600 (VGG16 with random weights, 123 test movies), test micro / macro F1: validation
    keeps all three modalities (``"late+facts"``), 0.567 / 0.355, against the text model's
    0.527 / 0.310 and the poster MLP's 0.457 / 0.180; on the synthetic demo late fusion beats
    each single modality by more than 0.02 on both metrics (``test_fusion.py``). On the real 4,803-movie TMDB
    export (no posters) validation keeps text + facts: test micro / macro F1 0.671 / 0.565
    against the text model's 0.653 / 0.539 (0.676 / 0.574 against 0.669 / 0.557 when the
    text model blends in the fine-tuned encoder).

Selection on the validation split
    The best single modality (``"text"`` / ``"poster"`` / ``"facts"``) is the one with the
    lowest mean per-movie log-loss on validation movies; the combiner replaces it only if its paired
    per-movie log-loss gain has a z-score above ``min_z`` (1.645, one-sided 95%):
    :func:`genre_pipeline.models.stacking.select_candidate`. Otherwise the fusion model *is*
    the best single modality, so it is never worse than it *on validation*.

Missing modalities
    A movie is scored by the chosen candidate's modalities it has (one alone, several by
    their stack); a movie with none of them by the first modality it has (text, poster,
    facts), a movie with nothing by the training genre frequencies: every movie gets a
    prediction from what it has. ``predict`` from a title and overview alone gets the text
    model.

Decisions
    Per-genre thresholds (:mod:`genre_pipeline.models.thresholds`) fitted on the chosen
    candidate's scores of the training movies (all out of fold) and the validation movies
    together, stored with the model: a rare genre gets about eight times as many movies to
    place its threshold on as from validation alone. On tmdb5000 this moved test micro / macro
    F1 from 0.673 / 0.556 to 0.671 / 0.565; ``thresholds_on="validation"`` keeps the
    validation-only fit.

The saved folder holds the text model (its own sub-folder), the poster and facts learners,
the combiners and the VGG16 settings of the training posters, so a new poster is embedded
exactly as they were. Science only: no Dagster import; seeded and deterministic on a given
machine.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import scipy.sparse as sp

from genre_pipeline.features import vgg16
from genre_pipeline.features.facts import CatalogFacts, facts_rows
from genre_pipeline.features.sentence import SentenceEmbeddings, SentenceEncoderConfig
from genre_pipeline.features.text import movie_text
from genre_pipeline.features.word2vec import WordVectors
from genre_pipeline.models.base import (
    RANDOM_WEIGHTS_NOTE,
    GenreModel,
    embed_poster,
    json_text,
    read_model,
    training_rows,
    vgg16_settings,
    write_model,
)
from genre_pipeline.models.labels import LabelledData
from genre_pipeline.models.linear import grid_rows
from genre_pipeline.models.stacking import (
    DenseLearner,
    LateFusion,
    SparseLearner,
    fit_logit_stack,
    select_candidate,
    train_dense_learner,
    train_sparse_learner,
)
from genre_pipeline.models.text_plus import STACK_MOVIES, TextPlusModel, TextPlusSettings, train_text_plus

__all__ = [
    "CANDIDATES",
    "FusionInput",
    "FusionModel",
    "FusionSettings",
    "MODALITIES",
    "combine",
    "train_fusion",
]

MODALITIES = ("text", "poster", "facts")
# Candidate name -> the modalities it stacks (in MODALITIES order); dict order = tie-break preference (simpler first).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "poster": ("poster",),
    "facts": ("facts",),
    "late": ("text", "poster"),
    "text+facts": ("text", "facts"),
    "late+facts": ("text", "poster", "facts"),
}
TEXT_FOLDER = "text"
PAYLOAD_FILE = "fusion.joblib"
VGG16_FILE = "vgg16.json"


@dataclass(frozen=True)
class FusionSettings:
    min_z: float = 1.645  # the combiner must beat the best single modality on validation by this paired z-score
    seed: int = 0
    text: TextPlusSettings = TextPlusSettings()  # when the text model is trained here
    thresholds_on: str = "train+validation"  # out-of-fold training scores + validation | "validation" only


def combine(method: str, probas: dict[str, np.ndarray], available: dict[str, np.ndarray], prior,
            stacks: dict[tuple[str, ...], LateFusion] | None = None) -> np.ndarray:
    """Scores of one candidate for every movie, with the missing-modality fallbacks.

    ``probas`` / ``available``: each modality's probabilities and which movies have it. A
    movie is scored by the candidate's modalities it has: one of them alone, several by
    their stack (``stacks[modalities]``). A movie with none of them is scored by the first
    modality it has (text, poster, facts); a movie with none at all by the training genre
    frequencies ``prior``.
    """
    if method not in CANDIDATES:
        raise ValueError(f"unknown fusion method {method!r}; expected one of {tuple(CANDIDATES)}")
    wanted = CANDIDATES[method]
    n = len(next(iter(available.values())))
    out = np.tile(np.asarray(prior, dtype=float), (n, 1))
    present = [m for m in MODALITIES if m in available]
    have = np.column_stack([np.asarray(available[m], bool) for m in present]) if present else np.zeros((n, 0), bool)
    for pattern in {tuple(row) for row in have}:
        rows = np.flatnonzero((have == np.array(pattern, dtype=bool)).all(axis=1))
        has = [m for m, on in zip(present, pattern) if on]
        used = tuple(m for m in wanted if m in has) or tuple(has[:1])
        if len(used) == 1:
            out[rows] = probas[used[0]][rows]
        elif used:
            out[rows] = stacks[used].predict_proba(*[probas[m][rows] for m in used])
    return out


@dataclass
class FusionInput:
    """One batch of fusion inputs (what :meth:`FusionModel.featurize` builds): composed texts and poster embeddings."""

    texts: list[str]  # :func:`movie_text` of each movie
    posters: np.ndarray | None = None  # (n, dim); rows where ``has_poster`` is false are ignored
    has_poster: np.ndarray | None = None
    sentence: SentenceEmbeddings | None = None  # precomputed sentence embeddings of the texts
    facts: sp.csr_matrix | None = None  # (n, facts) rows of the ``catalog_facts`` features; empty rows: no facts

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.texts), 0)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, rows) -> FusionInput:
        """Rows by boolean mask or integer indices (as ``X_all[rows]`` on a matrix)."""
        index = np.arange(len(self.texts))[rows]
        pick = lambda values: None if values is None else np.asarray(values)[index]  # noqa: E731
        return FusionInput([self.texts[i] for i in index], pick(self.posters), pick(self.has_poster),
                           None if self.sentence is None else self.sentence[index],
                           None if self.facts is None else self.facts[index])


@dataclass(kw_only=True)
class FusionModel(GenreModel):
    """Text model + poster and catalog-facts learners + the chosen combiner; decisions by validation thresholds."""

    kind: ClassVar[str] = "fusion"
    input_kind: ClassVar[str] = "text+poster"
    decision_rule: ClassVar[str] = "thresholds"

    text: TextPlusModel | None = None
    poster: DenseLearner | None = None
    facts: SparseLearner | None = None
    method: str = "text"
    prior: np.ndarray | None = None  # training genre frequencies (movies with no modality)
    stacks: dict[tuple[str, ...], LateFusion] = field(default_factory=dict)  # modalities present -> per-genre combiner
    facts_vectorizer: Any = None  # the ``catalog_facts`` feature names (a fitted DictVectorizer), when facts are read
    vgg16: dict = field(default_factory=dict)  # VGG16Config fields used for the training posters

    @property
    def late(self) -> LateFusion | None:
        """The text + poster combiner, when one was fitted."""
        return self.stacks.get(("text", "poster"))

    def modality_scores(self, X: FusionInput, text: tuple[np.ndarray, np.ndarray] | None = None
                        ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``(probabilities, available)`` of every modality the model has, for the movies of ``X``.

        ``text``: the text model's ``(probabilities, has_text)`` for ``X`` when already computed.
        """
        n = len(X)
        if text is None:
            inputs = self.text.transform(X.texts, sentence=X.sentence)
            text = self.text.predict_proba(inputs), inputs.has_text
        probas, available = {"text": text[0]}, {"text": text[1]}
        if self.poster is not None:
            if X.posters is None:
                E, has_poster = np.zeros((n, self.poster.dim)), np.zeros(n, dtype=bool)
            else:
                E = np.asarray(X.posters, dtype=np.float64).reshape(n, self.poster.dim)
                has_poster = np.ones(n, bool) if X.has_poster is None else np.asarray(X.has_poster, bool)
            probas["poster"], available["poster"] = self.poster.predict_proba(E), has_poster
        if self.facts is not None:
            M = sp.csr_matrix((n, self.facts.dim)) if X.facts is None else sp.csr_matrix(X.facts)
            probas["facts"], available["facts"] = self.facts.predict_proba(M), np.asarray(M.getnnz(axis=1) > 0)
        return probas, available

    def predict_proba(self, X: FusionInput) -> np.ndarray:
        probas, available = self.modality_scores(X)
        return combine(self.method, probas, available, self.prior, self.stacks)

    def featurize(self, overview: str | None, title: str | None = None, poster: str | os.PathLike | None = None,
                  facts: Mapping[str, float] | None = None) -> FusionInput:
        text = movie_text(title, overview)
        rows = self.facts_rows([facts])
        if poster is not None and self.poster is not None:
            return FusionInput([text], embed_poster(self.name, poster, self.vgg16), np.array([True]), facts=rows)
        return FusionInput([text], facts=rows)

    def score_texts(self, overviews, titles, facts: Sequence[Mapping[str, float] | None] | None = None) -> np.ndarray:
        texts = [movie_text(t, o) for o, t in zip(overviews, titles)]
        X = FusionInput(texts, facts=self.facts_rows(facts if facts is not None else [None] * len(texts)))
        probas, available = self.modality_scores(X, text=self.text.text_scores(texts))
        return combine(self.method, probas, available, self.prior, self.stacks)

    def facts_rows(self, facts: Sequence[Mapping[str, float] | None]) -> sp.csr_matrix | None:
        """Rows of new movies' :func:`genre_pipeline.features.facts.movie_facts` (``None`` / empty: no facts), when the model reads facts."""
        if self.facts is None or self.facts_vectorizer is None:
            return None
        return facts_rows(self.facts_vectorizer, facts)

    def parts(self) -> dict[str, GenreModel]:
        return {} if self.text is None else {"text": self.text}

    def notes(self, poster_given: bool) -> list[str]:
        return [RANDOM_WEIGHTS_NOTE] if poster_given and self.vgg16.get("weights") == "random" else []

    def save_payload(self, folder: Path) -> None:
        write_model(self.text, folder / TEXT_FOLDER)
        joblib.dump({"poster": self.poster, "facts": self.facts, "facts_vectorizer": self.facts_vectorizer, "method": self.method,
                     "prior": self.prior, "stacks": self.stacks}, folder / PAYLOAD_FILE, compress=3)
        (folder / VGG16_FILE).write_text(json_text(self.vgg16))

    @classmethod
    def load_payload(cls, folder: Path, common: dict) -> GenreModel:
        text = read_model(folder / TEXT_FOLDER, TextPlusModel)
        settings = json.loads((folder / VGG16_FILE).read_text())
        payload = joblib.load(folder / PAYLOAD_FILE)
        if "late" in payload:  # saved before catalog facts: the text + poster combiner was the only one
            late = payload.pop("late")
            payload["stacks"] = {} if late is None else {("text", "poster"): late}
        return cls(**common, **payload, text=text, vgg16=settings)


def train_fusion(
    texts: Sequence[str],
    data: LabelledData,
    posters: vgg16.PosterFeatures | None = None,
    vgg16_config: vgg16.VGG16Config | None = None,
    settings: FusionSettings = FusionSettings(),
    text_model: TextPlusModel | None = None,
    word_vectors: WordVectors | None = None,
    sentence: SentenceEmbeddings | None = None,
    sentence_config: SentenceEncoderConfig | None = None,
    facts: CatalogFacts | None = None,
) -> FusionModel:
    """Train the fusion model. Reads labels of training and validation movies only.

    ``texts``: every movie's :func:`movie_text`, one per row of ``data``; ``posters``: the
    poster embeddings of the movies that have one (``None``: no posters), made with
    ``vgg16_config`` (kept to embed a new poster the same way). ``text_model``: an already
    trained text model whose ``oof_proba`` rows are this call's training movies in order
    (the ``text_plus`` model); trained here if absent (with ``word_vectors`` and the
    sentence learner stacked in when they help, see :func:`train_text_plus`).
    ``sentence``: sentence embeddings of every movie's text (the ``sentence_embeddings``
    feature), so nothing is encoded twice. ``facts``: the ``catalog_facts`` features
    (``None``: none); a per-genre logistic learner on them is cross-fitted like the poster
    learner and offered to the combiners (large catalogs: learner and stacks fitted on a
    seeded sample of :data:`STACK_MOVIES` training movies).
    """
    texts = ["" if t is None else str(t) for t in texts]
    n = len(data.ids)
    if len(texts) != n:
        raise ValueError(f"{len(texts)} texts but {n} movies in the labels")
    if posters is not None and len(posters.ids):
        E, has_poster = posters.align(data.ids)
        E = E.astype(np.float64)
    else:
        E, has_poster = np.zeros((n, 1)), np.zeros(n, dtype=bool)
    if facts is not None:
        M, has_facts = facts.aligned(data.ids)
    else:
        M, has_facts = sp.csr_matrix((n, 0), dtype=np.float32), np.zeros(n, dtype=bool)
    if sentence is not None and len(sentence) != n:
        raise ValueError(f"{n} movies but {len(sentence)} sentence embeddings")
    train_mask, val_mask = training_rows(data, None, "a title, overview or poster")
    train, val = np.flatnonzero(train_mask), np.flatnonzero(val_mask)
    Y_train, Y_val = data.Y[train].astype(np.uint8), data.Y[val].astype(np.uint8)
    seed = settings.seed

    reuse = (text_model is not None and text_model.oof_proba is not None and text_model.oof_proba.shape == Y_train.shape
             and list(text_model.labels) == list(data.labels))
    text = text_model if reuse else train_text_plus(texts, data, settings.text, word_vectors=word_vectors, sentence=sentence,
                                                    sentence_config=sentence_config)
    X_all = text.transform(texts, sentence=sentence)
    p_text = text.predict_proba(X_all)
    p_text[train] = text.oof_proba  # training movies: out-of-fold probabilities only
    probas, available = {"text": p_text}, {"text": X_all.has_text}

    prior = Y_train.mean(axis=0).astype(float)
    tp, vp = train[has_poster[train]], val[has_poster[val]]
    poster = None
    if len(tp) >= 10:
        poster = train_dense_learner(E[tp], data.Y[tp], data.labels, E[vp], data.Y[vp], seed=seed)
        p_poster = poster.predict_proba(np.where(has_poster[:, None], E, 0.0))
        p_poster[tp] = poster.oof_proba
        probas["poster"], available["poster"] = p_poster, has_poster

    sample = np.zeros(n, dtype=bool)  # large catalogs: the facts learner and the stacks see a seeded sample
    sample[train[grid_rows(len(train), seed, STACK_MOVIES)]] = True
    facts_learner = None
    tf, vf = np.flatnonzero(sample & has_facts), val[has_facts[val]]
    if len(tf) >= 10:
        facts_learner = train_sparse_learner(M[tf], data.Y[tf], data.labels, M[vf], data.Y[vf], seed=seed)
        p_facts = facts_learner.predict_proba(M)
        p_facts[tf] = facts_learner.oof_proba
        probas["facts"], available["facts"] = p_facts, has_facts

    # One stack per set of two or more modalities, fitted on the training movies that have all of them;
    # a candidate is offered when every such subset of its modalities has its stack.
    stacks: dict[tuple[str, ...], LateFusion] = {}
    stack_rows: dict[str, int] = {}
    for size in (2, 3):
        for subset in itertools.combinations([m for m in MODALITIES if m in probas], size):
            rows = train[np.logical_and.reduce([available[m][train] for m in subset]) & sample[train]]
            stack_rows["+".join(subset)] = int(len(rows))
            if len(rows) >= 10:
                stacks[subset] = fit_logit_stack([probas[m][rows] for m in subset], data.Y[rows])
    offered = [name for name, modalities in CANDIDATES.items() if all(m in probas for m in modalities)
               and all(sub in stacks for k in range(2, len(modalities) + 1) for sub in itertools.combinations(modalities, k))]
    val_probas = {m: p[val] for m, p in probas.items()}
    val_available = {m: a[val] for m, a in available.items()}
    scores_val = {c: combine(c, val_probas, val_available, prior, stacks) for c in offered}
    singles = tuple(c for c in offered if len(CANDIDATES[c]) == 1)
    chosen, selection = select_candidate(Y_val, scores_val, min_z=settings.min_z, singles=singles)
    kept = {key: stack for key, stack in stacks.items() if set(key) <= set(CANDIDATES[chosen])}
    late = stacks.get(("text", "poster"))
    info = {
        "method": chosen,
        "modalities": list(CANDIDATES[chosen]),
        "selection": selection,
        "train_movies": int(len(train)),
        "validation_movies": int(len(val)),
        "train_with_poster": int(len(tp)),
        "train_with_both": stack_rows.get("text+poster", 0),
        "train_with_facts": int(has_facts[train].sum()),
        "stack_rows": stack_rows,
        "text_model": "text_plus (reused)" if reuse else "trained here",
        "poster": poster.info if poster is not None else None,
        "facts": facts_learner.info if facts_learner is not None else None,
        "late_weights": late.weights.round(4).tolist() if late is not None else None,
        "stack_weights": {"+".join(key): stack.weights.round(4).tolist() for key, stack in kept.items()},
        "weights": None if vgg16_config is None else vgg16_config.weights,
        "seed": seed,
        "text": "title+overview",
    }
    settings_kept = vgg16_settings(vgg16_config, posters) if poster is not None and vgg16_config is not None else {}
    model = FusionModel(labels=data.labels, info=info, text=text, poster=poster,
                        facts=facts_learner if "facts" in CANDIDATES[chosen] else None,
                        facts_vectorizer=facts.vectorizer if facts is not None and "facts" in CANDIDATES[chosen] else None,
                        method=chosen, prior=prior, stacks=kept, vgg16=settings_kept)
    if settings.thresholds_on == "train+validation":
        # Every training score is out of fold, so it is as honest as a validation score, and
        # a rare genre gets seven times as many movies to place its threshold (Documentary:
        # ~80 instead of ~11 on tmdb5000).
        # (large catalogs: the sampled training movies)
        rows = train[sample[train]]
        train_scores = combine(chosen, {m: p[rows] for m, p in probas.items()}, {m: a[rows] for m, a in available.items()},
                               prior, stacks)
        model.fit_validation_thresholds(np.vstack([train_scores, scores_val[chosen]]),
                                        np.vstack([data.Y[rows].astype(np.uint8), Y_val]), seed=seed)
    elif settings.thresholds_on == "validation":
        model.fit_validation_thresholds(scores_val[chosen], Y_val, seed=seed)
    else:
        raise ValueError(f"thresholds_on must be 'train+validation' or 'validation', got {settings.thresholds_on!r}")
    model.info["thresholds_on"] = settings.thresholds_on
    return model
