"""Predict the genres of a new movie with saved models.

Tutorial step: the closing demo, where the trained networks are shown a poster or an
overview and print the top genres. Here any saved model can be asked, by name or all of
them at once: each model featurises the title / overview / poster with what it saved
(vectorizer, word vectors, sentence encoder settings, VGG16 settings) and answers with all
genres ranked by score, its predicted set (stored per-genre validation thresholds, else its
own rule) and the tutorial's top-3 for comparison.

This module does not know where models live: the caller passes the names of the available
models and a function that loads one by name. :func:`predict_many` answers for many movies
(:func:`movie_input` reads each from a TMDB-shaped record or ``{title, overview, poster}``),
loading each model once and scoring text-only movies in batches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genre_pipeline.features.facts import record_facts
from genre_pipeline.features.sentence import SentenceEncoderUnavailable
from genre_pipeline.models.base import GenreModel, ModelLoadError, PredictionError
from genre_pipeline.models.thresholds import top3

__all__ = ["MovieInput", "Prediction", "PredictionError", "movie_input", "predict_genres", "predict_many"]

BATCH = 64  # text-only movies scored together
TMDB_FACT_FIELDS = ("original_language", "runtime", "release_date", "budget", "revenue", "production_companies",
                    "belongs_to_collection", "tagline")


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


@dataclass
class MovieInput:
    """One movie to classify; ``id`` and ``line`` (1-based, 0 when not from a file) say which in the output."""

    overview: str | None = None
    title: str | None = None
    poster: str | None = None
    id: int | str | None = None
    line: int = 0
    facts: dict[str, float] | None = None  # catalog facts of a TMDB-shaped record (:func:`record_facts`)


def movie_input(record, source: str, line: int) -> MovieInput:
    """A :class:`MovieInput` from a TMDB-shaped record or ``{title, overview, poster}``, read at ``line`` of ``source``.

    ``poster`` is a local image file; TMDB's ``poster_path`` names a remote image and is not
    read. A record with any of TMDB's catalog facts (language, runtime, release date, money,
    companies, collection, tagline) brings them along for the models that read them. Raises :class:`PredictionError` naming ``source:line`` and the field when a value is unusable.
    """
    where = f"{source}:{line}"
    if not isinstance(record, dict):
        raise PredictionError(f"{where}: expected a JSON object (a TMDB movie or {{title, overview, poster}}), got {type(record).__name__}")
    values = {}
    for name in ("title", "overview", "poster"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise PredictionError(f"{where}: {name}: expected a string, got {type(value).__name__}")
        values[name] = value if value and value.strip() else None
    if values["poster"] is not None and not Path(values["poster"]).is_file():
        raise PredictionError(f"{where}: poster: cannot read poster {values['poster']}: no such file")
    if not (values["overview"] or values["title"] or values["poster"]):
        raise PredictionError(f"{where}: no title, overview or poster to classify")
    facts = record_facts(record) if any(key in record for key in TMDB_FACT_FIELDS) else None
    return MovieInput(values["overview"], values["title"], values["poster"], record.get("id"), line, facts)


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
    return _ranked(loaded, np.asarray(loaded.predict_proba(X), dtype=float)[0], poster_given)


def _ranked(loaded: GenreModel, scores: np.ndarray, poster_given: bool) -> Prediction:
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
    if poster is not None and not Path(poster).is_file():
        raise PredictionError(f"cannot read poster {poster}: no such file")
    return _answer(_Models(load, problems), names, MovieInput(overview, title, None if poster is None else str(poster)), model)


class _Models:
    """Each model loaded at most once; a model that cannot be loaded is remembered (and reported once).

    A trained model saved inside another one (fusion's text model is ``text_plus``, whose
    fine-tuned encoder is ``text_finetuned``) is one object here, found by its ``uid``, so a
    batch scores it once.
    """

    def __init__(self, load: Callable[[str], GenreModel], problems: list[str] | None):
        self.load, self.problems = load, problems
        self.loaded: dict[str, GenreModel | ModelLoadError] = {}
        self.by_uid: dict[str, GenreModel] = {}

    def shared(self, model: GenreModel) -> GenreModel:
        """``model``, or the one already loaded with its ``uid``; its parts likewise."""
        if model.uid in self.by_uid:
            return self.by_uid[model.uid]
        self.by_uid[model.uid] = model
        for attribute, part in model.parts().items():
            setattr(model, attribute, self.shared(part))
        return model

    def get(self, name: str, named: bool) -> GenreModel | None:
        if name not in self.loaded:
            try:
                self.loaded[name] = self.shared(self.load(name))
            except ModelLoadError as exc:
                self.loaded[name] = exc
                if not named and self.problems is not None:
                    self.problems.append(f"model {name!r} cannot be loaded: {exc}")
        found = self.loaded[name]
        if isinstance(found, ModelLoadError):
            if named or self.problems is None:
                raise PredictionError(f"model {name!r} cannot be loaded: {found}") from found
            return None
        return found


def _answer(models: _Models, names: Sequence[str], movie: MovieInput, model: str | None,
            scored: dict[str, np.ndarray] | None = None) -> list[Prediction]:
    """Predictions for one movie; ``scored``: scores already computed for it, by model name."""
    overview, title, poster = movie.overview, movie.title, movie.poster
    chosen = _chosen(names, overview, title, poster, model)
    if not chosen:
        raise PredictionError("no trained model is available (run the pipeline first)")
    named = model not in (None, "all")
    results: list[Prediction] = []
    for name in chosen:
        loaded = models.get(name, named)
        if loaded is None:
            continue
        if not named and not _usable(loaded, overview, title, poster):
            continue
        if scored is not None and name in scored:
            results.append(_ranked(loaded, scored[name], poster is not None))
            continue
        try:
            X = loaded.featurize(overview, title, poster, facts=movie.facts)
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


def predict_many(
    load: Callable[[str], GenreModel],
    names: Sequence[str],
    movies: Iterable[MovieInput | PredictionError],
    model: str | None = None,
    problems: list[str] | None = None,
    batch: int = BATCH,
) -> Iterator[tuple[MovieInput | PredictionError, list[Prediction] | PredictionError]]:
    """:func:`predict_genres` for every movie, in input order: ``(movie, predictions or the error for that movie)``.

    Every model is loaded once. Movies without a poster are scored ``batch`` at a time by
    the models that read text in batches (:meth:`GenreModel.score_texts`). An item of
    ``movies`` that is already a :class:`PredictionError` (an unreadable input line) is passed through.
    """
    models = _Models(load, problems)
    pending: list[MovieInput | PredictionError] = []
    for movie in movies:
        pending.append(movie)
        if len(pending) >= batch:
            yield from _answer_batch(models, names, pending, model)
            pending = []
    if pending:
        yield from _answer_batch(models, names, pending, model)


def _answer_batch(models: _Models, names: Sequence[str], movies: list, model: str | None) -> Iterator[tuple]:
    texts = [m for m in movies if isinstance(m, MovieInput) and m.poster is None and (m.overview or m.title)]
    scored: dict[int, dict[str, np.ndarray]] = {id(m): {} for m in texts}
    if texts:
        wanted = _chosen(names, texts[0].overview, texts[0].title, None, model)
        for name in wanted:
            try:
                loaded = models.get(name, model not in (None, "all"))
            except PredictionError:
                continue  # each movie reports it below
            scores = None if loaded is None else loaded.score_texts([m.overview for m in texts], [m.title for m in texts],
                                                                    facts=[m.facts for m in texts])
            if scores is not None:
                for movie, row in zip(texts, np.asarray(scores, dtype=float)):
                    scored[id(movie)][name] = row
    for movie in movies:
        if isinstance(movie, PredictionError):
            yield movie, movie
            continue
        try:
            yield movie, _answer(models, names, movie, model, scored.get(id(movie)))
        except PredictionError as exc:
            yield movie, exc
