"""Predict the genres of a new movie with saved models.

Tutorial step: the closing demo, where the trained networks are shown a poster or an
overview and print the top genres. Here any saved model can be asked, by name or all of
them at once: each model featurises the title / overview / poster with what it saved
(vectorizer, word vectors, sentence encoder settings, VGG16 settings) and answers with all
genres ranked by score, its predicted set (stored per-genre validation thresholds, else its
own rule) and the tutorial's top-3 for comparison.

This module does not know where models live: the caller passes the names of the available
models and a function that loads one by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genre_pipeline.features.sentence import SentenceEncoderUnavailable
from genre_pipeline.models.base import GenreModel, ModelLoadError, PredictionError
from genre_pipeline.models.thresholds import top3

__all__ = ["Prediction", "PredictionError", "predict_genres"]


@dataclass
class Prediction:
    model: str
    input_kind: str
    decision_rule: str  # "thresholds" when the model has validation thresholds, else its own rule
    ranked: list[tuple[str, float]]  # every genre, highest score first
    predicted: list[str]  # the predicted label set, in rank order
    notes: list[str] = field(default_factory=list)
    top3: list[str] = field(default_factory=list)  # the tutorial's top-3 rule, for comparison

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "input": self.input_kind,
            "decision_rule": self.decision_rule,
            "predicted": self.predicted,
            "top3": self.top3,
            "ranked": [{"genre": g, "probability": round(p, 4)} for g, p in self.ranked],
            "notes": self.notes,
        }


def _chosen(names: Sequence[str], overview, title, poster, model: str | None) -> list[str]:
    if model == "all":
        return list(names)
    if model is None and poster is not None and (overview or title) and "fusion" in names:
        return ["fusion"]  # both modalities given: the multimodal model answers
    if model is None:
        return list(names)
    if model not in names:
        raise PredictionError(
            f"unknown model {model!r}; available models: {', '.join(names) if names else 'none (run the pipeline first)'}"
        )
    return [model]


def _usable(loaded: GenreModel, overview, title, poster) -> bool:
    """Whether a model asked without being named can use these inputs."""
    if loaded.input_kind == "poster":
        return poster is not None
    return bool(overview or title)


def _prediction(loaded: GenreModel, X, poster_given: bool) -> Prediction:
    scores = np.asarray(loaded.predict_proba(X), dtype=float)[0]
    predicted_row = np.asarray(loaded.decide(scores[None, :]))[0]
    top3_row = top3(scores[None, :])[0]
    order = np.argsort(-scores, kind="stable")
    return Prediction(
        model=loaded.name,
        input_kind=loaded.input_kind,
        decision_rule="thresholds" if loaded.thresholds is not None else loaded.decision_rule,
        ranked=[(loaded.labels[i], float(scores[i])) for i in order],
        predicted=[loaded.labels[i] for i in order if predicted_row[i]],
        notes=loaded.notes(poster_given),
        top3=[loaded.labels[i] for i in order if top3_row[i]],
    )


def predict_genres(
    load: Callable[[str], GenreModel],
    names: Sequence[str],
    overview: str | None,
    title: str | None = None,
    poster: str | os.PathLike | None = None,
    model: str | None = None,
    problems: list[str] | None = None,
) -> list[Prediction]:
    """Predictions of one model (``model``) or of every model the inputs allow.

    ``names``: the available models; ``load(name)``: that model (``ModelLoadError`` if it
    cannot be read). Without ``model``: the ``fusion`` model when both a text (overview or
    title) and a poster are given and it is available; otherwise every text model, plus the
    poster model when a poster is given. ``model="all"``: every model the inputs allow.
    Raises :class:`PredictionError` for an unknown model name, an unreadable poster, a named
    model that cannot be loaded, or when no available model can use the inputs. A model that
    cannot be loaded while others answer is reported in ``problems`` (when given) instead.
    """
    chosen = _chosen(names, overview, title, poster, model)
    if not chosen:
        raise PredictionError("no trained model is available (run the pipeline first)")
    if poster is not None and not Path(poster).is_file():
        raise PredictionError(f"cannot read poster {poster}: no such file")
    named = model not in (None, "all")
    results: list[Prediction] = []
    for name in chosen:
        try:
            loaded = load(name)
        except ModelLoadError as exc:
            if named or problems is None:
                raise PredictionError(f"model {name!r} cannot be loaded: {exc}") from exc
            problems.append(f"model {name!r} cannot be loaded: {exc}")
            continue
        if not named and not _usable(loaded, overview, title, poster):
            continue
        try:
            X = loaded.featurize(overview, title, poster)
        except (FileNotFoundError, SentenceEncoderUnavailable) as exc:  # e.g. pretrained vectors moved, encoder uninstalled
            raise PredictionError(f"model {name!r}: {exc}") from exc
        except PredictionError:
            if named or loaded.input_kind == "poster":
                raise
            continue  # e.g. no word2vec word in the overview: the other models still answer
        results.append(_prediction(loaded, X, poster is not None))
    if not results:
        raise PredictionError("no available model can use these inputs (give an overview and/or a poster)")
    return results
