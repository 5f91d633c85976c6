"""The model kinds, and saving / loading any of them to / from one folder.

One table maps each kind name to its class (:data:`MODEL_KINDS`, in display order); that
is the only place that knows every kind. :func:`save_model` writes a model's ``meta.json``
and payload files *inside* the folder it is given; :func:`load_model` reads one back, or
raises :class:`ModelLoadError` naming the folder and the reason. Versions and atomic
publication are the storage layer's job: this module never writes outside the folder.
No Dagster import.
"""

from __future__ import annotations

from pathlib import Path

from genre_pipeline.models.base import GenreModel, ModelLoadError, read_meta, read_model, write_model
from genre_pipeline.models.finetune import FineTunedTextModel
from genre_pipeline.models.fusion import FusionModel
from genre_pipeline.models.linear import NaiveBayesCountsModel, SVCTfidfModel
from genre_pipeline.models.mlp import MLPPosterModel, MLPWord2VecModel
from genre_pipeline.models.text_plus import TextPlusModel

__all__ = ["MODEL_CODEC", "MODEL_KINDS", "MODEL_NAMES", "ModelLoadError", "load_model", "save_model"]

MODEL_CODEC = "call:genre_pipeline.models.registry:load_model"  # a stored model's codec in a home's manifest

MODEL_KINDS: dict[str, type[GenreModel]] = {
    cls.kind: cls
    for cls in (SVCTfidfModel, NaiveBayesCountsModel, MLPPosterModel, MLPWord2VecModel, FineTunedTextModel, TextPlusModel,
                FusionModel)
}
MODEL_NAMES: tuple[str, ...] = tuple(MODEL_KINDS)  # display order


def save_model(model: GenreModel, folder: Path) -> Path:
    """Write ``model`` (``meta.json`` + its payload files) into ``folder``, created if needed."""
    if MODEL_KINDS.get(model.kind) is not type(model):
        raise ValueError(f"{type(model).__name__} is not a registered model kind ({', '.join(MODEL_KINDS)})")
    return write_model(model, Path(folder))


def load_model(folder: Path) -> GenreModel:
    """The model saved in ``folder`` by :func:`save_model` (``ModelLoadError`` naming the folder and the reason)."""
    folder = Path(folder)
    meta = read_meta(folder)
    cls = MODEL_KINDS.get(meta["kind"])
    if cls is None:
        raise ModelLoadError(f"cannot load the model in {folder}: unknown model kind {meta['kind']!r} "
                             f"(known: {', '.join(MODEL_KINDS)})")
    try:
        return read_model(folder, cls, meta)
    except ModelLoadError:
        raise
    except Exception as exc:  # a missing or corrupt payload file: say which folder and why
        raise ModelLoadError(f"cannot load the model in {folder}: {type(exc).__name__}: {exc}") from exc
