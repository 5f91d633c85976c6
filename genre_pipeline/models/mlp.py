"""The tutorial's neural networks, in torch: an MLP on mean word2vec and one on VGG16 poster vectors.

Tutorial steps: "Section 8 — a network on poster features" and "Section 9 — a network on
word2vec". The tutorial's Keras networks, rewritten in torch: a ReLU hidden layer, sigmoid
outputs, binary cross-entropy, and the top-3 rule for decisions. Added: inputs standardised
with training statistics, dropout, ``torch.optim.Adam`` with L2 weight decay, early stopping
on the validation split's loss with the best epoch restored, and a fixed seed for
initialisation, dropout and shuffling (deterministic on a given machine). The first
``torch.optim`` optimizer of a process costs ~1.1 s (it imports ``torch._dynamo``), once per
process.

``mlp_word2vec`` keeps its word vectors (:class:`genre_pipeline.features.word2vec.WordVectors`)
and ``mlp_poster`` its VGG16 settings in its saved folder, so a new overview or poster is
featurised exactly as the training movies were. torch is imported when a network is built
or run, not when this module is imported.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from genre_pipeline.features import vgg16
from genre_pipeline.features.encoder import export_dense_onnx, onnx_available, onnx_session
from genre_pipeline.features.text import LARGE_CATALOG_MOVIES
from genre_pipeline.features.word2vec import MeanWord2Vec, WordVectors
from genre_pipeline.models.base import (
    RANDOM_WEIGHTS_NOTE,
    GenreModel,
    PredictionError,
    embed_poster,
    json_text,
    training_rows,
    vgg16_settings,
)
from genre_pipeline.models.labels import LabelledData, align_rows

__all__ = [
    "MLPModel",
    "MLPPosterModel",
    "MLPSettings",
    "MLPWord2VecModel",
    "TrainedNetwork",
    "train_mlp",
    "train_mlp_poster",
    "train_mlp_word2vec",
]

NETWORK_FILE = "mlp.pt"
GRAPH_FILE = "mlp.onnx"  # the same network for ONNX Runtime: predict needs no torch (~3 s of imports)
SCALING_FILE = "mlp_scaling.npz"
VGG16_FILE = "vgg16.json"


@dataclass(frozen=True)
class MLPSettings:
    """Hyper-parameters of both networks (small enough for the demo on 2 CPUs)."""

    hidden: tuple[int, ...] = (256,)
    dropout: float = 0.3
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    large_batch_size: int = 1024  # from LARGE_CATALOG_MOVIES training movies on: fewer, larger steps per epoch
    max_epochs: int = 60
    patience: int = 6
    seed: int = 0
    threads: int = 1  # torch intra-op threads: matrices this small only contend with more (4x slower with 2 on 2 CPUs)


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    if n and n != previous:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _build_network(arch: dict):
    from torch import nn

    layers: list[nn.Module] = []
    width = arch["n_in"]
    for size in arch["hidden"]:
        layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(arch["dropout"])]
        width = int(size)
    layers.append(nn.Linear(width, arch["n_out"]))  # logits; sigmoid in predict_proba and inside the loss
    return nn.Sequential(*layers)


@dataclass
class TrainedNetwork:
    """A trained network with its input standardisation."""

    module: Any
    mean: np.ndarray
    std: np.ndarray
    arch: dict
    info: dict


def train_mlp(X_train, Y_train, X_val, Y_val, settings: MLPSettings = MLPSettings(),
              progress: Callable[[int, int], None] | None = None) -> TrainedNetwork:
    """Train an MLP with BCE on sigmoid outputs; early stopping on validation loss when validation rows exist.

    ``progress(epoch, max_epochs)`` is called after each epoch, and ``progress(epoch, epoch)`` on an early stop.
    """
    import torch

    X_train = np.asarray(X_train, dtype=np.float32)
    Y_train = np.asarray(Y_train, dtype=np.float32)
    X_val = np.asarray(X_val, dtype=np.float32).reshape(-1, X_train.shape[1])
    Y_val = np.asarray(Y_val, dtype=np.float32).reshape(-1, Y_train.shape[1])
    batch_size = settings.batch_size if len(X_train) < LARGE_CATALOG_MOVIES else settings.large_batch_size
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    arch = {"n_in": int(X_train.shape[1]), "hidden": [int(h) for h in settings.hidden], "n_out": int(Y_train.shape[1]),
            "dropout": float(settings.dropout)}

    with torch.random.fork_rng(devices=[]), _torch_threads(settings.threads):
        torch.manual_seed(settings.seed)
        module = _build_network(arch)
        optimizer = torch.optim.Adam(module.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()  # sigmoid + binary cross-entropy, numerically stable
        xt, yt = torch.from_numpy((X_train - mean) / std), torch.from_numpy(Y_train)
        xv, yv = torch.from_numpy((X_val - mean) / std), torch.from_numpy(Y_val)
        shuffler = torch.Generator().manual_seed(settings.seed)
        best_loss, best_state, best_epoch, history, stale = float("inf"), None, 0, [], 0
        for epoch in range(1, settings.max_epochs + 1):
            module.train()
            order = torch.randperm(len(xt), generator=shuffler)
            total = 0.0
            for batch in torch.split(order, batch_size):
                optimizer.zero_grad()
                loss = loss_fn(module(xt[batch]), yt[batch])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            train_loss = total / len(xt)
            if len(xv):
                module.eval()
                with torch.no_grad():
                    val_loss = float(loss_fn(module(xv), yv))
            else:
                val_loss = train_loss
            history.append({"epoch": epoch, "train_loss": round(train_loss, 5), "val_loss": round(val_loss, 5)})
            if progress is not None:
                progress(epoch, settings.max_epochs)
            if val_loss < best_loss - 1e-5:
                best_loss, best_epoch, stale = val_loss, epoch, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
                if len(xv) and stale >= settings.patience:
                    if progress is not None:
                        progress(epoch, epoch)  # stopped early: done after ``epoch`` epochs
                    break
        if best_state is not None:
            module.load_state_dict(best_state)
    module.eval()
    info = {
        "seed": settings.seed, "epochs_run": len(history), "best_epoch": best_epoch, "best_val_loss": round(best_loss, 5),
        "early_stopping": bool(len(xv)), "lr": settings.lr, "weight_decay": settings.weight_decay,
        "batch_size": batch_size, "train_movies": int(len(X_train)), "validation_movies": int(len(X_val)),
        "history": history[-10:],
    }
    return TrainedNetwork(module=module, mean=mean.astype(np.float32), std=std, arch=arch, info=info)


@dataclass(kw_only=True)
class MLPModel(GenreModel):
    """A torch MLP with sigmoid outputs over standardised input vectors; decisions by the top-3 rule."""

    decision_rule: ClassVar[str] = "top3"

    module: Any = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    arch: dict = field(default_factory=dict)
    session: Any = None  # the network under ONNX Runtime, when loaded from a folder that has it
    source: Path | None = None  # that folder: saving the model again copies its network files

    def predict_proba(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.arch["n_in"]:
            raise ValueError(f"model {self.name!r} expects (n, {self.arch['n_in']}) inputs, got {X.shape}")
        if X.shape[0] == 0:
            return np.zeros((0, len(self.labels)))
        if self.module is None:
            logits = self.session.run(None, {"x": ((X - self.mean) / self.std).astype(np.float32)})[0]
            return expit(np.asarray(logits, dtype=np.float64))
        import torch

        self.module.eval()
        with torch.inference_mode():
            logits = self.module(torch.from_numpy((X - self.mean) / self.std))
            return torch.sigmoid(logits).double().numpy()

    def save_payload(self, folder: Path) -> None:
        if self.module is None:  # loaded for ONNX Runtime: the saved network files are the network
            for name in (NETWORK_FILE, GRAPH_FILE, SCALING_FILE, Path(SCALING_FILE).with_suffix(".json").name):
                (folder / name).write_bytes((self.source / name).read_bytes())
            return
        import torch

        torch.save({"state_dict": {k: v.detach().cpu() for k, v in self.module.state_dict().items()}, "arch": self.arch,
                    "mean": torch.from_numpy(np.asarray(self.mean, dtype=np.float32)),
                    "std": torch.from_numpy(np.asarray(self.std, dtype=np.float32))}, folder / NETWORK_FILE)
        if self.module is not None and onnx_available():
            export_dense_onnx(self.module, int(self.arch["n_in"]), folder / GRAPH_FILE)
            np.savez(folder / SCALING_FILE, mean=np.asarray(self.mean, np.float32), std=np.asarray(self.std, np.float32))
            (folder / SCALING_FILE).with_suffix(".json").write_text(json_text(self.arch))

    @staticmethod
    def read_network(folder: Path) -> dict:
        """``module`` (or the ONNX ``session`` when the folder has one and onnxruntime is here), ``mean``, ``std``, ``arch``."""
        if (folder / GRAPH_FILE).is_file() and onnx_available(write=False):
            with np.load(folder / SCALING_FILE, allow_pickle=False) as scaling:
                mean, std = scaling["mean"], scaling["std"]
            arch = json.loads((folder / SCALING_FILE).with_suffix(".json").read_text())
            return {"module": None, "session": onnx_session(folder / GRAPH_FILE), "mean": mean, "std": std, "arch": arch,
                    "source": Path(folder)}
        import torch

        payload = torch.load(folder / NETWORK_FILE, map_location="cpu", weights_only=True)
        module = _build_network(payload["arch"])
        module.load_state_dict(payload["state_dict"])
        module.eval()
        return {"module": module, "mean": payload["mean"].numpy(), "std": payload["std"].numpy(), "arch": payload["arch"]}


@dataclass(kw_only=True)
class MLPWord2VecModel(MLPModel):
    """MLP on the mean word2vec vector of the overview; keeps its word vectors."""

    kind: ClassVar[str] = "mlp_word2vec"
    input_kind: ClassVar[str] = "word2vec"

    word_vectors: WordVectors | None = None

    def featurize(self, overview: str | None, title: str | None = None, poster: str | os.PathLike | None = None,
                  facts: Mapping[str, float] | None = None):
        embedded = self.word_vectors.mean([overview or ""])
        if not embedded.kept[0]:
            raise PredictionError(f"model {self.name!r}: none of the overview's words is in its word2vec vocabulary")
        return embedded.matrix

    def save_payload(self, folder: Path) -> None:
        super().save_payload(folder)
        self.word_vectors.save(folder)

    @classmethod
    def load_payload(cls, folder: Path, common: dict) -> GenreModel:
        return cls(**common, **cls.read_network(folder), word_vectors=WordVectors.load(folder))


@dataclass(kw_only=True)
class MLPPosterModel(MLPModel):
    """MLP on VGG16 poster embeddings; keeps the VGG16 settings its training posters were embedded with."""

    kind: ClassVar[str] = "mlp_poster"
    input_kind: ClassVar[str] = "poster"

    vgg16: dict = field(default_factory=dict)  # VGG16Config fields

    def featurize(self, overview: str | None, title: str | None = None, poster: str | os.PathLike | None = None,
                  facts: Mapping[str, float] | None = None):
        if poster is None:
            raise PredictionError(f"model {self.name!r} classifies posters: give --poster FILE")
        return embed_poster(self.name, poster, self.vgg16)

    def notes(self, poster_given: bool) -> list[str]:
        return [RANDOM_WEIGHTS_NOTE] if self.vgg16.get("weights") == "random" else []

    def save_payload(self, folder: Path) -> None:
        super().save_payload(folder)
        (folder / VGG16_FILE).write_text(json_text(self.vgg16))

    @classmethod
    def load_payload(cls, folder: Path, common: dict) -> GenreModel:
        return cls(**common, **cls.read_network(folder), vgg16=json.loads((folder / VGG16_FILE).read_text()))


def _train_network_model(cls: type[MLPModel], matrix: np.ndarray, available: np.ndarray, data: LabelledData,
                         settings: MLPSettings, what: str, progress: Callable[[int, int], None] | None = None,
                         **fields) -> MLPModel:
    train, val = training_rows(data, available, what)
    network = train_mlp(matrix[train], data.Y[train], matrix[val], data.Y[val], settings, progress)
    model = cls(labels=data.labels, info=network.info, module=network.module, mean=network.mean, std=network.std,
                arch=network.arch, **fields)
    model.fit_validation_thresholds(model.predict_proba(matrix[val]), data.Y[val], seed=settings.seed)
    return model


def train_mlp_word2vec(embeddings: MeanWord2Vec, data: LabelledData, settings: MLPSettings = MLPSettings(),
                       progress: Callable[[int, int], None] | None = None) -> MLPWord2VecModel:
    """MLP on the mean word2vec vectors of the training movies that have one; validation thresholds (``progress``: epochs)."""
    matrix, present = align_rows(embeddings.ids, embeddings.matrix, data.ids)
    kept, _ = align_rows(embeddings.ids, np.asarray(embeddings.kept).reshape(-1, 1), data.ids)
    model = _train_network_model(MLPWord2VecModel, matrix, present & kept[:, 0], data, settings,
                                 "an overview word in the word2vec vocabulary", progress, word_vectors=embeddings.vectors)
    model.info["word_vectors"] = embeddings.vectors.settings.describe()
    return model


def train_mlp_poster(posters: vgg16.PosterFeatures, config: vgg16.VGG16Config, data: LabelledData,
                     settings: MLPSettings = MLPSettings(),
                     progress: Callable[[int, int], None] | None = None) -> MLPPosterModel:
    """MLP on the poster embeddings of the training movies that have a poster; validation thresholds (``progress``: epochs).

    ``config``: the VGG16 configuration the posters were embedded with, kept with the model
    (with the precision actually used) to embed a new poster the same way.
    """
    matrix, available = posters.align(data.ids)
    model = _train_network_model(MLPPosterModel, matrix, available, data, settings, "a poster", progress,
                                 vgg16=vgg16_settings(config, posters))
    model.info["weights"] = model.vgg16.get("weights")
    return model
