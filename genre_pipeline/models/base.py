"""The interface every genre model implements, and the folder one is saved in.

Tutorial step: "Section 9 — using the trained models on a new movie". The tutorial keeps
its trained networks in memory and feeds them a poster or an overview by hand. Here every
model, whatever its family, answers through one interface:

* ``predict_proba(X)``: an ``(n_movies, n_labels)`` array of scores in [0, 1] in the
  model's label order (for per-genre thresholds, fusion and ranking);
* ``predict(X)``: the model's own rule (:attr:`GenreModel.decision_rule`): ``"labels"``
  = the classifier's own label sets (the tutorial's SVM / naive Bayes ``predict``),
  ``"top3"`` = the three highest scores (the tutorial's MLP rule), ``"thresholds"`` = the
  per-genre thresholds fitted on the validation split;
* ``decide(scores)``: the stored per-genre validation thresholds when the model has them,
  else its own rule applied to the scores (``"labels"``: score >= 0.5);
* ``featurize(overview, title, poster)``: the one-row input ``predict_proba`` expects for a
  new movie, built with what the model saved (vectorizer, word vectors, VGG16 settings).

A model kind is a subclass with three class attributes (``kind``, ``input_kind``,
``decision_rule``) and the methods above plus ``save_payload`` / ``load_payload``; the
registry (:mod:`genre_pipeline.models.registry`) maps kind names to classes. A saved model
is one folder: ``meta.json`` (format, kind, name, uid, labels, rules, info, thresholds) and the
kind's payload files, everything needed to featurise a new movie included.
No Dagster import.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genre_pipeline.features import vgg16
from genre_pipeline.models.labels import LabelledData
from genre_pipeline.models.metrics import apply_decision_rule
from genre_pipeline.models.thresholds import Thresholds, fit_thresholds, top3

__all__ = [
    "FORMAT",
    "META_FILE",
    "RANDOM_WEIGHTS_NOTE",
    "GenreModel",
    "ModelLoadError",
    "PredictionError",
    "TooFewTrainingMovies",
    "embed_poster",
    "json_text",
    "read_meta",
    "read_model",
    "training_rows",
    "vgg16_settings",
    "write_model",
]

FORMAT = 2  # the layout of a saved model folder this code reads and writes
META_FILE = "meta.json"
RANDOM_WEIGHTS_NOTE = "poster features come from RANDOM VGG16 weights (demo / tests), not ImageNet"


class PredictionError(ValueError):
    """A prediction cannot be made; the message says why in plain words."""


class ModelLoadError(Exception):
    """A saved model folder cannot be loaded; the message names the folder and the reason."""


class TooFewTrainingMovies(ValueError):
    """Fewer than two training movies have the model's input (e.g. a catalog without posters)."""


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def json_text(payload: Any) -> str:
    """``payload`` as indented JSON (numpy numbers and arrays as plain numbers and lists)."""
    return json.dumps(payload, indent=2, sort_keys=True, default=_json_value) + "\n"


def vgg16_settings(config: vgg16.VGG16Config, posters: vgg16.PosterFeatures) -> dict:
    """What a poster model keeps to embed a new poster like its training posters: the config, resolved precision."""
    return {**asdict(config), "precision": posters.info.get("precision", config.precision)}


def embed_poster(model_name: str, poster: str | os.PathLike, settings: dict) -> np.ndarray:
    """The ``(1, dim)`` VGG16 embedding of one poster file, made with the settings a model was trained with."""
    path = Path(poster)
    if not path.is_file():
        raise PredictionError(f"cannot read poster {path}: no such file")
    if not settings:
        raise PredictionError(f"model {model_name!r} was saved without its VGG16 settings; train it again")
    try:
        embedding = vgg16.embed_poster_file(path, vgg16.VGG16Config(**settings))
    except (vgg16.PosterError, vgg16.WeightsNotFoundError) as exc:
        raise PredictionError(f"model {model_name!r}: {exc}") from exc
    return np.asarray(embedding, dtype=np.float32).reshape(1, -1)


@dataclass(kw_only=True)
class GenreModel:
    """A trained multi-label genre classifier with a fixed label order (see the module docstring)."""

    kind: ClassVar[str] = "base"
    input_kind: ClassVar[str] = ""
    decision_rule: ClassVar[str] = "labels"

    labels: list[str]
    info: dict = field(default_factory=dict)
    thresholds: Thresholds | None = None  # per-genre thresholds fitted on the validation split
    name: str = ""  # defaults to the kind
    # identifies one trained model; a copy saved inside another model (fusion's text model, text_plus's
    # fine-tuned encoder) keeps it, so a process that loads both can score it once (see :meth:`parts`)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.name = self.name or self.kind
        self.labels = list(self.labels)

    def predict_proba(self, X) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not score movies")

    def predict(self, X) -> np.ndarray:
        """Predicted genre sets under the model's own rule."""
        scores = self.predict_proba(X)
        return self.decide(scores) if self.decision_rule == "thresholds" else apply_decision_rule(scores, self.decision_rule)

    def decide(self, scores) -> np.ndarray:
        """Decisions under the stored per-genre thresholds, else under the model's own rule on ``scores``."""
        if self.thresholds is not None:
            return self.thresholds.apply(scores)
        return apply_decision_rule(scores, "labels" if self.decision_rule == "thresholds" else self.decision_rule)

    def decisions(self, scores) -> dict[str, np.ndarray]:
        """``{"thresholds": ..., "top3": ...}`` of ``scores`` (thresholds only when the model has them)."""
        out = {"top3": top3(scores)}
        if self.thresholds is not None:
            out["thresholds"] = self.thresholds.apply(scores)
        return out

    def fit_validation_thresholds(self, val_scores, val_truth, seed: int = 0) -> Thresholds:
        """Fit per-genre thresholds on **validation** scores and labels and keep them with the model."""
        self.thresholds = fit_thresholds(val_scores, val_truth, self.labels, seed=seed)
        return self.thresholds

    def featurize(self, overview: str | None, title: str | None = None, poster: str | os.PathLike | None = None,
                  facts: Mapping[str, float] | None = None):
        """The one-row input :meth:`predict_proba` expects for a new movie (``PredictionError`` if impossible).

        ``facts``: the movie's catalog facts (:func:`genre_pipeline.features.facts.record_facts`),
        read by the models that use them (``fusion``) and ignored by the others.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot featurise a new movie")

    def score_texts(self, overviews: Sequence[str | None], titles: Sequence[str | None],
                    facts: Sequence[Mapping[str, float] | None] | None = None) -> np.ndarray | None:
        """Scores of many text-only movies at once (``facts``: each one's catalog facts, or ``None``), or ``None`` when the model scores one movie at a time."""
        return None

    def parts(self) -> dict[str, GenreModel]:
        """The trained models this one contains, by attribute name (e.g. fusion's ``text``)."""
        return {}

    def notes(self, poster_given: bool) -> list[str]:
        """Caveats to show next to a prediction (e.g. poster features from random weights)."""
        return []

    def save_payload(self, folder: Path) -> None:
        """Write the kind's own files into ``folder`` (``meta.json`` is written by :func:`write_model`)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    @classmethod
    def load_payload(cls, folder: Path, common: dict) -> GenreModel:
        """Rebuild a model from ``folder``; ``common`` holds the fields stored in ``meta.json``."""
        raise NotImplementedError(f"{cls.__name__} cannot be loaded")

    def meta(self) -> dict:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "labels": list(self.labels),
            "input_kind": self.input_kind,
            "decision_rule": self.decision_rule,
            "info": self.info,
            "thresholds": None if self.thresholds is None else self.thresholds.to_dict(),
        }


def write_model(model: GenreModel, folder: Path) -> Path:
    """Write ``model`` into ``folder``: its payload files, then ``meta.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_payload(folder)
    (folder / META_FILE).write_text(json_text(model.meta()))
    return folder


def read_meta(folder: Path) -> dict:
    """The checked ``meta.json`` of a saved model folder (``ModelLoadError`` naming the folder otherwise)."""
    folder = Path(folder)
    path = folder / META_FILE
    if not folder.is_dir():
        raise ModelLoadError(f"cannot load the model in {folder}: no such folder")
    if not path.is_file():
        raise ModelLoadError(f"cannot load the model in {folder}: no {META_FILE} (not a saved model folder)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load the model in {folder}: {META_FILE} is unreadable ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ModelLoadError(f"cannot load the model in {folder}: saved in format {found!r}, this version reads format "
                             f"{FORMAT}; train the model again")
    missing = [key for key in ("kind", "name", "labels") if key not in meta]
    if missing:
        raise ModelLoadError(f"cannot load the model in {folder}: {META_FILE} lacks {', '.join(missing)}")
    return meta


def read_model(folder: Path, cls: type[GenreModel], meta: dict | None = None) -> GenreModel:
    """Load the ``cls`` model saved in ``folder`` (payload errors propagate: the caller names the folder)."""
    folder = Path(folder)
    meta = read_meta(folder) if meta is None else meta
    if meta["kind"] != cls.kind:
        raise ModelLoadError(f"cannot load the model in {folder}: it is a {meta['kind']!r} model, not {cls.kind!r}")
    thresholds = meta.get("thresholds")
    common = {"name": meta["name"], "uid": meta.get("uid") or uuid.uuid4().hex, "labels": list(meta["labels"]),
              "info": dict(meta.get("info") or {}), "thresholds": Thresholds.from_dict(thresholds) if thresholds else None}
    return cls.load_payload(folder, common)


def training_rows(data: LabelledData, available: np.ndarray | None, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the training and validation movies that have the model's input.

    Raises :class:`TooFewTrainingMovies` with fewer than two training movies.
    """
    train, val = data.rows("train", available), data.rows("validation", available)
    if train.sum() < 2:
        raise TooFewTrainingMovies(f"only {int(train.sum())} training movies have {what}: need at least 2")
    return train, val
