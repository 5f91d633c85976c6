"""Multimodal genre model: overview text and poster together, with per-genre thresholds.

Tutorial step: the closing remark of the tutorial, "in more complicated models, we can
combine the two [text and poster] to make even better predictions". The tutorial trains its
text and poster models separately and never combines them. This module does:

Base models (one per modality, each trained on the training split only)
    text: :class:`genre_pipeline.models.text_plus.TextPlusModel` (title + overview TF-IDF,
    calibrated linear SVMs, stacked with a sentence-encoder learner and / or mean word2vec
    when validation says they help); poster:
    :class:`PosterLearner`, standardised and PCA-whitened poster embeddings (VGG16) with one
    L2-regularised logistic regression per genre. Both are
    *cross-fitted*: every training movie also gets an out-of-fold probability from a model
    that never saw its labels, and those are what the combiners below learn from (stacking
    on in-sample probabilities would teach the combiner to trust the over-fitted modality).

Combiners (fitted on the training split's out-of-fold probabilities)
    ``"late"``: late fusion of calibrated per-modality probabilities: for each genre a
    logistic regression on ``[logit p_text, logit p_poster]`` (three numbers per genre).
    If the poster carries nothing for a genre its weight goes to ~0 and the genre's ranking
    is the text model's. ``"gmu"``: a gated multimodal unit (Arevalo et al. 2017, "Gated
    Multimodal Units for Information Fusion"): ``h_t = tanh(W_t x_t)``, ``h_v = tanh(W_v x_v)``,
    ``z = sigmoid(W_z [x_t; x_v])``, ``h = z * h_v + (1 - z) * h_t``, genre logits ``W_o h``,
    with ``x_t`` the text model's out-of-fold logits and ``x_v`` the standardised poster
    embedding, trained with binary cross-entropy, early stopping on validation loss.

Selection on the validation split
    The best single modality (``"text"`` / ``"poster"``) is the one with the lower mean
    per-movie log-loss on validation movies; a combiner (``"late"``, ``"gmu"``) replaces it
    only if its paired per-movie log-loss gain has a z-score above ``min_z`` (1.645, one-sided
    95%) — :func:`genre_pipeline.models.stacking.select_candidate`. Otherwise the fusion model
    *is* the best single modality, so it is never worse than it *on validation*; it is
    measured on the test split (never read here) by ``bench/fusion_bench.py``.
    Measured choice of the default combiner (test micro / macro F1 under validation
    thresholds, ``bench/fusion_bench.py``): on real posters600 (VGG16 with random weights)
    late fusion 0.550/0.319 against the GMU 0.504/0.247 and the text model (text_plus, with
    its sentence-encoder learner) 0.542/0.299; on the synthetic demo late fusion beats each
    single modality by more than 0.02 on both metrics (``test_fusion.py``). The GMU has ~70k
    parameters for ~400 training movies and over-fits; ``"gmu"`` stays available
    (``methods``) and measured by the bench, but is not trained by default.

Missing modalities
    A movie without a poster is scored by the text model alone, a movie with an empty
    overview (and title) by the poster model alone, a movie with neither by the training
    genre frequencies: every movie gets a prediction from what it has.

Decisions
    Per-genre thresholds fitted on the validation scores of the chosen candidate
    (:mod:`genre_pipeline.models.thresholds`); :meth:`FusionModel.predict` applies them,
    :func:`genre_pipeline.models.thresholds.top3` stays available for comparison.

Science only: no Dagster import; seeded and deterministic on a given machine.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from genre_pipeline.features.sentence import SentenceEmbeddings, SentenceEncoderConfig
from genre_pipeline.models.stacking import (
    _EPS,
    DenseLearner,
    LateFusion,
    _logit,
    _sigmoid,
    fit_late_fusion,
    per_movie_log_loss,
    ranking_quality,
    select_candidate,
    train_dense_learner,
)
from genre_pipeline.models.text_plus import TextPlusModel, compose_texts, train_text_plus

PosterLearner = DenseLearner  # the poster base model is a dense-vector learner
train_poster_learner = train_dense_learner
from genre_pipeline.models.thresholds import Thresholds, fit_thresholds

__all__ = [
    "CANDIDATES",
    "DEFAULT_METHODS",
    "FusionModel",
    "GMUFusion",
    "LateFusion",
    "PosterLearner",
    "combine",
    "fit_gmu",
    "fit_late_fusion",
    "per_movie_log_loss",
    "select_candidate",
    "train_fusion",
    "train_poster_learner",
]

CANDIDATES = ("text", "poster", "late", "gmu")  # order = tie-break preference (simpler first)
DEFAULT_METHODS = ("text", "poster", "late")  # the GMU is measured by the bench, not trained by default


# --------------------------------------------------------------------------- combiners


class _GMUNet:  # built lazily so importing this module does not import torch
    @staticmethod
    def build(n_text: int, n_visual: int, hidden: int, n_out: int, dropout: float):
        import torch
        from torch import nn

        class GMU(nn.Module):
            """Gated multimodal unit (Arevalo et al. 2017) + a linear genre layer."""

            def __init__(self) -> None:
                super().__init__()
                self.text = nn.Linear(n_text, hidden)
                self.visual = nn.Linear(n_visual, hidden)
                self.gate = nn.Linear(n_text + n_visual, hidden)
                self.drop = nn.Dropout(dropout)
                self.out = nn.Linear(hidden, n_out)

            def forward(self, x_t, x_v, has_t, has_v):
                h_t = torch.tanh(self.text(x_t))
                h_v = torch.tanh(self.visual(self.drop(x_v)))
                z = torch.sigmoid(self.gate(torch.cat([x_t, x_v], dim=1)))
                # Missing modality: the gate routes everything through the one that is there.
                both = (has_t & has_v).unsqueeze(1).float()
                only_v = (has_v & ~has_t).unsqueeze(1).float()
                z = both * z + only_v
                return self.out(self.drop(z * h_v + (1 - z) * h_t))

        return GMU()


@dataclass
class GMUFusion:
    """A trained GMU; inputs: text logits (from the text model) and raw poster embeddings."""

    module: object
    v_mean: np.ndarray
    v_std: np.ndarray
    arch: dict
    info: dict = field(default_factory=dict)

    def predict_proba(self, p_text, E, has_text, has_poster) -> np.ndarray:
        import torch

        x_t, x_v = self._inputs(p_text, E, has_text, has_poster)
        self.module.eval()
        with torch.inference_mode():
            logits = self.module(x_t, x_v, torch.from_numpy(np.asarray(has_text, bool)), torch.from_numpy(np.asarray(has_poster, bool)))
        return torch.sigmoid(logits).double().numpy()

    def _inputs(self, p_text, E, has_text, has_poster):
        import torch

        x_t = _logit(p_text) / 4.0
        x_t[~np.asarray(has_text, bool)] = 0.0
        x_v = (np.asarray(E, dtype=np.float64) - self.v_mean) / self.v_std
        x_v[~np.asarray(has_poster, bool)] = 0.0
        return torch.from_numpy(x_t.astype(np.float32)), torch.from_numpy(x_v.astype(np.float32))


def fit_gmu(
    p_text, E, has_text, has_poster, Y, val: tuple | None = None, hidden: int = 64, dropout: float = 0.3,
    lr: float = 3e-3, weight_decay: float = 1e-3, max_epochs: int = 200, patience: int = 15, modality_dropout: float = 0.2,
    seed: int = 0,
) -> GMUFusion:
    """Train a GMU on training movies (text out-of-fold probabilities, poster embeddings).

    ``val = (p_text, E, has_text, has_poster, Y)`` of validation movies enables early stopping
    (best epoch restored). ``modality_dropout``: share of training movies whose poster is
    hidden in each epoch, so the text-only path is trained too.
    """
    import torch

    E = np.asarray(E, dtype=np.float64)
    has_poster = np.asarray(has_poster, bool)
    has_text = np.asarray(has_text, bool)
    Y = (np.asarray(Y) > 0).astype(np.float32)
    present = E[has_poster]
    v_mean = present.mean(axis=0) if len(present) else np.zeros(E.shape[1])
    v_std = present.std(axis=0) if len(present) else np.ones(E.shape[1])
    v_std = np.where(v_std > 1e-6, v_std, 1.0)
    arch = {"n_text": int(Y.shape[1]), "n_visual": int(E.shape[1]), "hidden": int(hidden), "n_out": int(Y.shape[1]), "dropout": float(dropout)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = _GMUNet.build(arch["n_text"], arch["n_visual"], hidden, arch["n_out"], dropout)
        fusion = GMUFusion(module=module, v_mean=v_mean, v_std=v_std, arch=arch)
        x_t, x_v = fusion._inputs(p_text, E, has_text, has_poster)
        ht, hv, yt = torch.from_numpy(has_text), torch.from_numpy(has_poster), torch.from_numpy(Y)
        if val is not None:
            vx_t, vx_v = fusion._inputs(val[0], val[1], val[2], val[3])
            vht, vhv = torch.from_numpy(np.asarray(val[2], bool)), torch.from_numpy(np.asarray(val[3], bool))
            vy = torch.from_numpy((np.asarray(val[4]) > 0).astype(np.float32))
        optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        generator = torch.Generator().manual_seed(seed)
        best = (float("inf"), None, 0)
        stale = 0
        for epoch in range(1, max_epochs + 1):
            module.train()
            order = torch.randperm(len(yt), generator=generator)
            for start in range(0, len(order), 64):
                idx = order[start : start + 64]
                hide = torch.rand(len(idx), generator=generator) < modality_dropout
                optimizer.zero_grad()
                loss = loss_fn(module(x_t[idx], x_v[idx], ht[idx], hv[idx] & ~hide), yt[idx])
                loss.backward()
                optimizer.step()
            if val is None or len(vy) == 0:
                continue
            module.eval()
            with torch.no_grad():
                val_loss = float(loss_fn(module(vx_t, vx_v, vht, vhv), vy))
            if val_loss < best[0] - 1e-5:
                best, stale = (val_loss, {k: v.detach().clone() for k, v in module.state_dict().items()}, epoch), 0
            else:
                stale += 1
                if stale >= patience:
                    break
        if best[1] is not None:
            module.load_state_dict(best[1])
    module.eval()
    fusion.info = {"best_epoch": best[2], "best_val_loss": round(best[0], 5) if best[1] is not None else None, "seed": seed}
    return fusion


# --------------------------------------------------------------------------- the fusion model


def combine(method: str, p_text, p_poster, has_text, has_poster, prior, late: LateFusion | None = None,
            gmu: GMUFusion | None = None, E=None) -> np.ndarray:
    """Scores of one candidate for every movie, with the missing-modality fallbacks.

    Both modalities: the candidate's rule. Text only: the text model. Poster only: the
    poster model. Neither: the training genre frequencies.
    """
    has_text = np.asarray(has_text, bool)
    has_poster = np.asarray(has_poster, bool)
    n = len(has_text)
    out = np.tile(np.asarray(prior, dtype=float), (n, 1))
    out[has_text] = p_text[has_text]
    out[has_poster & ~has_text] = p_poster[has_poster & ~has_text]
    both = has_text & has_poster
    if not both.any() or method == "text":
        return out
    if method == "poster":
        out[both] = p_poster[both]
    elif method == "late":
        out[both] = late.predict_proba(p_text[both], p_poster[both])
    elif method == "gmu":
        out[both] = gmu.predict_proba(p_text[both], E[both], has_text[both], has_poster[both])
    else:
        raise ValueError(f"unknown fusion method {method!r}; expected one of {CANDIDATES}")
    return out


@dataclass
class FusionModel:
    """Text model + poster model + the chosen combiner + per-genre thresholds."""

    labels: list[str]
    text: TextPlusModel
    poster: PosterLearner | None
    method: str
    prior: np.ndarray
    thresholds: Thresholds
    late: LateFusion | None = None
    gmu: GMUFusion | None = None
    info: dict = field(default_factory=dict)

    name = "fusion"

    def predict_proba(self, overviews: Sequence, titles: Sequence | None = None, posters=None, has_poster=None,
                      sentence=None) -> np.ndarray:
        """Genre probabilities for raw texts and poster embeddings (``None`` rows / mask: no poster).

        ``sentence``: precomputed sentence embeddings of the texts (else the text model encodes them).
        """
        n = len(overviews)
        X = self.text.transform(overviews, titles, sentence=sentence)
        has_text = X.has_text
        p_text = self.text.predict_proba_X(X)
        dim = self.poster.dim if self.poster is not None else 0
        if posters is None or self.poster is None:
            E = np.zeros((n, max(dim, 1)))
            has_poster = np.zeros(n, dtype=bool)
        else:
            E = np.asarray(posters, dtype=np.float64).reshape(n, dim)
            has_poster = np.ones(n, bool) if has_poster is None else np.asarray(has_poster, bool)
        p_poster = self.poster.predict_proba(E) if self.poster is not None else np.zeros_like(p_text)
        return combine(self.method, p_text, p_poster, has_text, has_poster, self.prior, self.late, self.gmu, E)

    def predict(self, overviews: Sequence, titles: Sequence | None = None, posters=None, has_poster=None,
                sentence=None) -> np.ndarray:
        return self.thresholds.apply(self.predict_proba(overviews, titles, posters, has_poster, sentence))


def train_fusion(
    overviews: Sequence,
    titles: Sequence | None,
    posters: np.ndarray,
    has_poster: np.ndarray,
    Y: np.ndarray,
    split: Sequence[str],
    labels: Sequence[str],
    methods: Sequence[str] = DEFAULT_METHODS,
    min_z: float = 1.645,
    seed: int = 0,
    text_model: TextPlusModel | None = None,
    word_vectors=None,
    sentence: SentenceEmbeddings | None = None,
    sentence_config: SentenceEncoderConfig | None = None,
) -> FusionModel:
    """Train the fusion model. Reads labels of ``"train"`` and ``"validation"`` rows only.

    ``posters`` is ``(n_movies, dim)`` (rows of movies without a poster are ignored),
    ``has_poster`` says which rows are real, ``Y`` is ``(n_movies, n_labels)`` and ``split``
    gives each movie's split. Movies with no genre are not used for fitting.
    ``text_model``: an already trained text model whose ``oof_proba`` rows are this call's
    labelled training movies in order (the ``text_plus`` asset's model); trained here if absent
    (with ``word_vectors`` and the ``sentence_config`` encoder's learner stacked in when they
    help, see :func:`train_text_plus`). ``sentence``: sentence embeddings of every movie's
    composed text, one row per movie (the ``sentence_embeddings`` asset), so nothing is
    encoded twice.
    """
    split = np.asarray(split, dtype=object)
    n = len(split)
    labelled = np.zeros(n, dtype=bool)
    train = np.flatnonzero(split == "train")
    val = np.flatnonzero(split == "validation")
    Y = np.asarray(Y)
    # Only train / validation rows of Y are ever indexed below.
    Y_train = (Y[train] > 0).astype(np.uint8)
    Y_val = (Y[val] > 0).astype(np.uint8)
    labelled[train] = Y_train.sum(axis=1) > 0
    labelled[val] = Y_val.sum(axis=1) > 0
    train = train[labelled[train]]
    val = val[labelled[val]]
    Y_train = (Y[train] > 0).astype(np.uint8)
    Y_val = (Y[val] > 0).astype(np.uint8)
    texts = compose_texts(list(overviews), None if titles is None else list(titles))
    texts_arr = np.asarray(texts, dtype=object)
    has_poster = np.asarray(has_poster, dtype=bool)
    E = np.asarray(posters, dtype=np.float64)
    if E.shape[0] != n or has_poster.shape[0] != n or len(texts) != n:
        raise ValueError("overviews, posters, has_poster, Y and split must all have one row per movie")

    reuse = (text_model is not None and text_model.oof_proba is not None and text_model.oof_proba.shape == Y_train.shape
             and list(text_model.labels) == list(labels))
    if sentence is not None and len(sentence) != n:
        raise ValueError(f"{n} movies but {len(sentence)} sentence embeddings")
    if reuse:
        text = text_model
    else:
        text = train_text_plus(list(texts_arr[train]), Y_train, labels, list(texts_arr[val]), Y_val, seed=seed,
                               word_vectors=word_vectors, sentence_config=sentence_config,
                               sentence_train=None if sentence is None else sentence[train],
                               sentence_val=None if sentence is None else sentence[val])
    X_all = text.transform(texts, sentence=sentence)  # texts are already composed: no titles to add
    has_text = X_all.has_text
    p_text = text.predict_proba_X(X_all)
    p_text[train] = text.oof_proba  # training movies: out-of-fold probabilities only

    prior = Y_train.mean(axis=0).astype(float)
    tp, vp = train[has_poster[train]], val[has_poster[val]]
    poster = None
    p_poster = np.zeros_like(p_text)
    if len(tp) >= 10:
        poster = train_poster_learner(E[tp], (Y[tp] > 0).astype(np.uint8), labels, E[vp], (Y[vp] > 0).astype(np.uint8), seed=seed)
        p_poster = poster.predict_proba(np.where(has_poster[:, None], E, 0.0))
        p_poster[tp] = poster.oof_proba

    both_train = train[has_text[train] & has_poster[train]]
    late = gmu = None
    available = ["text"]
    if poster is not None:
        available.append("poster")
        if len(both_train) >= 10:
            if "late" in methods:
                late = fit_late_fusion(p_text[both_train], p_poster[both_train], (Y[both_train] > 0).astype(np.uint8))
                available.append("late")
            if "gmu" in methods:
                gmu = fit_gmu(p_text[train], E[train], has_text[train], has_poster[train], Y_train,
                              val=(p_text[val], E[val], has_text[val], has_poster[val], Y_val), seed=seed)
                available.append("gmu")
    available = [m for m in CANDIDATES if m in available and (m in methods or m == "text")]

    scores_val = {m: combine(m, p_text[val], p_poster[val], has_text[val], has_poster[val], prior, late, gmu, E[val])
                  for m in available}
    chosen, selection = select_candidate(Y_val, scores_val, min_z=min_z)
    thresholds = fit_thresholds(scores_val[chosen], Y_val, labels, seed=seed)
    info = {
        "method": chosen,
        "selection": selection,
        "train_movies": int(len(train)),
        "validation_movies": int(len(val)),
        "train_with_poster": int(len(tp)),
        "train_with_both": int(len(both_train)),
        "text": text.info,
        "poster": poster.info if poster is not None else None,
        "gmu": gmu.info if gmu is not None else None,
        "late_weights": late.weights.round(4).tolist() if late is not None else None,
        "seed": seed,
    }
    return FusionModel(labels=list(labels), text=text, poster=poster, method=chosen, prior=prior, thresholds=thresholds,
                       late=late if chosen == "late" else late, gmu=gmu, info=info)
