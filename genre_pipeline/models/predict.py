"""Predict the genres of a new movie with the latest materialized models.

Tutorial step: the closing demo, where the trained networks are shown a poster or an
overview and print the top genres. Here any saved model can be asked, by name or all of
them at once: text models featurise the overview with the vectorizer / word vectors saved
alongside the model (``text_plus`` / ``fusion`` also with the sentence encoder they
stacked), the poster model embeds the given poster with the VGG16 settings it was trained
on. Every model answers with all genres ranked by score plus its predicted set
(its decision rule: top-3 for the MLPs, the classifier's own label set otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genre_pipeline.features.sentence import SentenceEncoderUnavailable
from genre_pipeline.features.text import movie_text
from genre_pipeline.models.classifiers import (
    GenreModel,
    MLPGenreModel,
    ModelNotFoundError,
    SklearnGenreModel,
    available_models,
    load_model,
)

__all__ = ["Prediction", "PredictionError", "featurize", "predict_genres"]


class PredictionError(ValueError):
    """A prediction cannot be made; the message says why in plain words."""


@dataclass
class Prediction:
    model: str
    input_kind: str
    decision_rule: str
    ranked: list[tuple[str, float]]  # every genre, highest score first
    predicted: list[str]  # the model's predicted label set (stored per-genre thresholds when it has them)
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


def _word_vectors(model: MLPGenreModel):
    from genre_pipeline.features.word2vec import load_keyed_vectors

    name = model.extras.get("word_vectors_file")
    if not name:
        raise PredictionError(f"model {model.name!r} was saved without its word vectors; re-materialize it")
    path = Path(name)
    if not path.is_absolute():
        path = Path(model.extras["folder"]) / path
    return load_keyed_vectors(path, model.extras.get("word_vectors_limit"))


def featurize(model: GenreModel, overview: str | None, poster: str | os.PathLike | None, title: str | None = None):
    """The one-row input ``model`` expects, built from an overview and/or a poster file.

    A model class that knows how to featurise itself (``model.featurize(overview, poster,
    title)``) is asked directly; the tutorial's models are handled here.
    """
    own = getattr(model, "featurize", None)
    if callable(own):
        return own(overview, poster, title)
    if isinstance(model, SklearnGenreModel):
        text = movie_text(title, overview) if model.info.get("text") == "title+overview" else (overview or "")
        return model.transform_text([text])
    if not isinstance(model, MLPGenreModel):
        raise PredictionError(f"model {model.name!r} has an unknown kind")
    if model.input_kind == "word2vec":
        from genre_pipeline.features.word2vec import mean_embeddings

        embedded = mean_embeddings([overview or ""], _word_vectors(model))
        if not embedded.kept[0]:
            raise PredictionError(f"model {model.name!r}: none of the overview's words is in its word2vec vocabulary")
        return embedded.matrix
    if model.input_kind == "poster":
        from genre_pipeline.features.vgg16 import PosterEmbedder, VGG16Config

        if poster is None:
            raise PredictionError(f"model {model.name!r} classifies posters: give --poster FILE")
        path = Path(poster)
        if not path.is_file():
            raise PredictionError(f"cannot read poster {path}: no such file")
        config = VGG16Config(**model.extras["vgg16"])
        matrix, ok, errors = PosterEmbedder(config).embed_files([path])
        if not ok[0]:
            raise PredictionError(errors.get(0, f"cannot read poster {path}"))
        return matrix
    raise PredictionError(f"model {model.name!r} has an unknown input kind {model.input_kind!r}")


def predict_genres(
    models_dir: str | os.PathLike,
    overview: str | None,
    poster: str | os.PathLike | None = None,
    model: str | None = None,
    title: str | None = None,
) -> list[Prediction]:
    """Predictions of one model (``model``) or of every model the inputs allow.

    Without ``model``: the ``fusion`` model when both an overview (or title) and a poster are
    given and it is materialized; otherwise every text model, plus the poster model when a
    poster is given. ``model="all"``: every model the inputs allow.
    Raises :class:`PredictionError` for an unknown model name, an unreadable poster, or
    when no materialized model can use the inputs.
    """
    names = available_models(models_dir)
    if model == "all":
        model = None
    elif model is None and poster is not None and (overview or title) and "fusion" in names:
        model = "fusion"  # issue 5: both modalities given -> the multimodal model answers
    if model is not None:
        if model not in names:
            raise PredictionError(
                f"unknown model {model!r}; materialized models: {', '.join(names) if names else 'none (run the pipeline first)'}"
            )
        chosen = [model]
    else:
        chosen = names
    if not chosen:
        raise PredictionError(f"no materialized model in {models_dir} (run the pipeline first)")
    if poster is not None and not Path(poster).is_file():
        raise PredictionError(f"cannot read poster {poster}: no such file")
    results: list[Prediction] = []
    for name in chosen:
        try:
            loaded = load_model(models_dir, name)
        except ModelNotFoundError as exc:
            raise PredictionError(str(exc)) from exc
        except ValueError as exc:  # a model kind this code cannot load
            if model is not None:
                raise PredictionError(f"model {name!r} cannot be loaded: {exc}") from exc
            continue
        if model is None and loaded.input_kind == "poster" and poster is None:
            continue
        if model is None and loaded.input_kind != "poster" and not (overview or title):
            continue
        try:
            try:
                X = featurize(loaded, overview, poster, title)
            except (FileNotFoundError, SentenceEncoderUnavailable) as exc:  # e.g. VGG16 weights moved away, encoder uninstalled
                raise PredictionError(f"model {name!r}: {exc}") from exc
        except PredictionError:
            if model is not None or loaded.input_kind == "poster":
                raise
            continue  # e.g. no word2vec word in the overview: the other models still answer
        from genre_pipeline.models.fusion_models import decide, stored_thresholds
        from genre_pipeline.models.thresholds import top3

        scores = np.asarray(loaded.predict_proba(X))[0]
        predicted_row = np.asarray(decide(loaded, scores[None, :]))[0]  # stored thresholds, else own rule
        top3_row = top3(scores[None, :])[0]
        order = np.argsort(-scores, kind="stable")
        notes = []
        weights = loaded.info.get("weights") or (loaded.extras.get("vgg16", {}).get("weights") if isinstance(loaded, MLPGenreModel) else None)
        if weights == "random" and (loaded.input_kind == "poster" or poster is not None):
            notes.append("poster features come from RANDOM VGG16 weights (demo / tests), not ImageNet")
        results.append(
            Prediction(
                model=name,
                input_kind=loaded.input_kind,
                decision_rule="thresholds" if stored_thresholds(loaded) is not None else loaded.decision_rule,
                ranked=[(loaded.labels[i], float(scores[i])) for i in order],
                predicted=[loaded.labels[i] for i in order if predicted_row[i]],  # in rank order
                notes=notes,
                top3=[loaded.labels[i] for i in order if top3_row[i]],
            )
        )
    if not results:
        raise PredictionError("no materialized model can use these inputs (give --overview and/or --poster)")
    return results
