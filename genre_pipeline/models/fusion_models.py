"""Saved-model adapters for issue 5: text_plus, fusion, and thresholds stored with any model.

Tutorial step: "Section 9 — using the trained models on a new movie". The models of
:mod:`genre_pipeline.models.classifiers` are saved into ``<models>/<name>/<version>/`` with a
``meta.json`` and loaded by ``load_model``; this module lets the two new models live in the
same store and answer through the same interface (``predict_proba`` / ``predict`` /
``featurize``), so ``genre-pipeline predict`` and ``report`` treat them like the tutorial's:

* :class:`TextPlusGenreModel` (kind ``"text_plus"``) wraps
  :class:`genre_pipeline.models.text_plus.TextPlusModel`;
* :class:`FusionGenreModel` (kind ``"fusion"``) wraps
  :class:`genre_pipeline.models.fusion.FusionModel` plus the VGG16 settings its poster
  embeddings were made with, so a new poster is embedded exactly as at training time.

Per-genre thresholds (:mod:`genre_pipeline.models.thresholds`) are stored *with* every
probabilistic model in ``info["thresholds"]`` (so in its ``meta.json``):
:func:`attach_thresholds` fits them on validation scores, :func:`decide` applies them
(and falls back to the model's own rule when a model was saved without them), and
:func:`decisions` gives both the threshold decisions and the tutorial's top-3 rule.
No Dagster import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from genre_pipeline.storage.atomic import atomic_write
from genre_pipeline.features.sentence import SentenceEmbeddings
from genre_pipeline.models.classifiers import GenreModel
from genre_pipeline.models.fusion import FusionModel
from genre_pipeline.models.text_plus import TextPlusModel
from genre_pipeline.models.thresholds import Thresholds, fit_thresholds, top3

__all__ = [
    "EXTRA_KINDS",
    "FusionGenreModel",
    "FusionInput",
    "TextPlusGenreModel",
    "attach_thresholds",
    "decide",
    "decision_figures",
    "decisions",
    "load_extra_model",
    "load_latest_extra",
    "stored_thresholds",
]

EXTRA_KINDS = ("text_plus", "fusion")


def stored_thresholds(model: GenreModel) -> Thresholds | None:
    """The per-genre thresholds saved with ``model`` (``None`` if it has none)."""
    data = (model.info or {}).get("thresholds")
    return Thresholds.from_dict(data) if data else None


def attach_thresholds(model: GenreModel, val_scores, val_truth, seed: int = 0) -> Thresholds:
    """Fit thresholds on **validation** scores / labels and store them in ``model.info``."""
    thresholds = fit_thresholds(val_scores, val_truth, model.labels, seed=seed)
    model.info["thresholds"] = thresholds.to_dict()
    return thresholds


def decide(model: GenreModel, scores) -> np.ndarray:
    """Decisions under the stored per-genre thresholds, else under the model's own rule."""
    thresholds = stored_thresholds(model)
    if thresholds is not None:
        return thresholds.apply(scores)
    from genre_pipeline.models.metrics import apply_decision_rule

    return apply_decision_rule(scores, model.decision_rule)


def decisions(model: GenreModel, scores) -> dict[str, np.ndarray]:
    """``{"thresholds": ..., "top3": ...}`` (thresholds only when the model has them)."""
    out = {"top3": top3(scores)}
    thresholds = stored_thresholds(model)
    if thresholds is not None:
        out["thresholds"] = thresholds.apply(scores)
    return out


def decision_figures(model: GenreModel, X_all, Y, rows) -> dict[str, dict[str, float]]:
    """Test-split micro / macro F1 of ``model`` under its thresholds and under the top-3 rule.

    ``rows``: boolean mask (or indices) of the evaluated movies in ``X_all`` / ``Y``.
    """
    from genre_pipeline.models.metrics import f1_summary

    index = np.arange(len(Y))[rows]
    if not len(index):
        return {}
    scores = np.asarray(model.predict_proba(X_all[rows]))
    out = {}
    for rule, pred in decisions(model, scores).items():
        figures = f1_summary(np.asarray(Y)[index], pred)
        out[rule] = {"micro_f1": round(figures["micro_f1"], 4), "macro_f1": round(figures["macro_f1"], 4),
                     "samples_f1": round(figures["samples_f1"], 4)}
    return out


def _embed_one_poster(poster: str | os.PathLike, vgg16: dict) -> np.ndarray:
    """Embed one poster exactly as the training posters were (``PredictionError`` if unreadable)."""
    from genre_pipeline.features.vgg16 import PosterEmbedder, VGG16Config
    from genre_pipeline.models.predict import PredictionError

    path = Path(poster)
    if not path.is_file():
        raise PredictionError(f"cannot read poster {path}: no such file")
    if not vgg16:
        raise PredictionError("the fusion model was saved without its VGG16 settings; re-materialize it")
    matrix, ok, errors = PosterEmbedder(VGG16Config(**vgg16)).embed_files([path])
    if not ok[0]:
        raise PredictionError(errors.get(0, f"cannot read poster {path}"))
    return np.asarray(matrix, dtype=np.float64)


@dataclass
class TextPlusGenreModel(GenreModel):
    """The stronger text model in the model store (input: title + overview)."""

    model: TextPlusModel | None = None

    kind = "text_plus"

    def featurize(self, overview: str | None, poster=None, title: str | None = None):
        return self.model.transform([overview or ""], [title or ""])

    def predict_proba(self, X) -> np.ndarray:
        return self.model.predict_proba_X(X)

    def predict(self, X) -> np.ndarray:
        return decide(self, self.predict_proba(X))

    def _save_payload(self, folder: Path) -> None:
        atomic_write(folder / "text_plus.joblib", lambda tmp: joblib.dump(self.model, tmp, compress=3))


@dataclass
class FusionInput:
    """One batch of fusion inputs (what :meth:`FusionGenreModel.featurize` builds)."""

    overviews: list[str]
    titles: list[str]
    posters: np.ndarray | None = None
    has_poster: np.ndarray | None = None
    sentence: SentenceEmbeddings | None = None  # precomputed sentence embeddings of the texts

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.overviews), 0)

    def __len__(self) -> int:
        return len(self.overviews)

    def __getitem__(self, rows) -> FusionInput:
        """Rows by boolean mask or integer indices (as ``X_all[rows]`` on a matrix)."""
        index = np.arange(len(self.overviews))[rows]
        pick = lambda values: None if values is None else np.asarray(values)[index]  # noqa: E731
        return FusionInput([self.overviews[i] for i in index], [self.titles[i] for i in index],
                           pick(self.posters), pick(self.has_poster), None if self.sentence is None else self.sentence[index])


@dataclass
class FusionGenreModel(GenreModel):
    """The multimodal model in the model store (input: title + overview and/or a poster)."""

    model: FusionModel | None = None
    vgg16: dict = field(default_factory=dict)  # VGG16Config fields used for the training posters

    kind = "fusion"

    def featurize(self, overview: str | None, poster: str | os.PathLike | None = None, title: str | None = None) -> FusionInput:
        if poster is not None and self.model.poster is not None:
            embedding = _embed_one_poster(poster, self.vgg16)
            return FusionInput([overview or ""], [title or ""], embedding, np.array([True]))
        return FusionInput([overview or ""], [title or ""])

    def predict_proba(self, X: FusionInput) -> np.ndarray:
        return self.model.predict_proba(X.overviews, X.titles, X.posters, X.has_poster, X.sentence)

    def predict(self, X: FusionInput) -> np.ndarray:
        return decide(self, self.predict_proba(X))

    def _save_payload(self, folder: Path) -> None:
        atomic_write(folder / "fusion.joblib", lambda tmp: joblib.dump({"model": self.model, "vgg16": self.vgg16}, tmp, compress=3))


def load_extra_model(folder: Path, meta: dict, common: dict[str, Any]) -> GenreModel:
    """Load a ``text_plus`` or ``fusion`` model saved by ``classifiers.save_model``."""
    if meta["kind"] == "text_plus":
        return TextPlusGenreModel(**common, model=joblib.load(folder / "text_plus.joblib"))
    if meta["kind"] == "fusion":
        payload = joblib.load(folder / "fusion.joblib")
        return FusionGenreModel(**common, model=payload["model"], vgg16=dict(payload.get("vgg16", {})))
    raise ValueError(f"{folder}: unknown model kind {meta['kind']!r}")


def load_latest_extra(models_dir, name: str) -> GenreModel:
    """The latest saved ``text_plus`` / ``fusion`` model called ``name`` (``ModelNotFoundError`` if none)."""
    import json

    from genre_pipeline.models.classifiers import latest_folder

    folder = latest_folder(models_dir, name)
    meta = json.loads((folder / "meta.json").read_text())
    common = dict(name=meta["name"], labels=list(meta["labels"]), input_kind=meta["input_kind"],
                  decision_rule=meta["decision_rule"], info=meta.get("info", {}))
    return load_extra_model(folder, meta, common)
