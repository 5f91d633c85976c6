"""The tutorial's genre classifiers, seeded, with one scoring interface and persistence.

Tutorial steps: "Section 7 — SVM and naive Bayes on text" and "Section 8/9 — neural networks
on poster features and on word2vec". Every model here:

* exposes ``predict_proba(X)``: an ``(n_movies, n_labels)`` array of scores in [0, 1] in the
  stored label order (for later fusion and per-genre thresholds), and ``predict(X)``: the
  predicted label sets under its decision rule (``"labels"`` for SVM / naive Bayes as the
  tutorial's ``classifier.predict``; ``"top3"`` for the MLPs, the tutorial's rule);
* is saved with its label order, its vectorizer (text models) or what is needed to
  featurise a new input (word vectors, VGG16 settings), into a versioned folder
  ``<models>/<name>/<version>/`` with a ``LATEST`` pointer written last (atomic), so a
  reader never sees half a model.

Models:

:func:`train_linear_svc`
    The tutorial's ``OneVsRestClassifier(GridSearchCV(SVC(kernel='linear',
    class_weight='balanced'), {'C': [...]}, scoring=micro-F1))``. Two changes: ``LinearSVC``
    (liblinear; same model family, orders of magnitude faster than libsvm's kernel SVC), and
    the grid search wraps the one-vs-rest model, so "micro-F1" is the real multi-label
    micro-F1 over all genres; in the tutorial each binary grid search scored its own genre,
    where "micro-F1" reduces to accuracy and rewards never predicting a rare genre. Folds are
    a seeded 3-fold ``KFold``. Scores are Platt-scaled margins, fit per genre on out-of-fold
    margins (probability scale); predicted label sets are the SVM's own.
:func:`train_naive_bayes`
    The tutorial's ``OneVsRestClassifier(MultinomialNB())`` on bag-of-words counts
    (kept sparse instead of ``.toarray()``).
:func:`train_mlp`
    The tutorial's Keras networks rewritten in torch: a ReLU hidden layer, sigmoid outputs,
    binary cross-entropy. Added: inputs standardised with training statistics, dropout,
    Adam, early stopping on the validation split's loss with the best epoch restored, and a
    fixed seed for initialisation, dropout and shuffling (deterministic on a given machine).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp

from genre_pipeline.storage.atomic import atomic_write, atomic_write_json, atomic_write_text
from genre_pipeline.models.metrics import apply_decision_rule

__all__ = [
    "GenreModel",
    "MLPGenreModel",
    "ModelNotFoundError",
    "SklearnGenreModel",
    "available_models",
    "load_model",
    "save_model",
    "train_linear_svc",
    "train_mlp",
    "train_naive_bayes",
]

FORMAT_VERSION = 1


class ModelNotFoundError(LookupError):
    """No materialized model of that name in the home."""


@dataclass
class GenreModel:
    """Base: a trained multi-label genre classifier with a fixed label order."""

    name: str
    labels: list[str]
    input_kind: str  # "counts" | "tfidf" | "word2vec" | "poster"
    decision_rule: str  # "labels" | "top3"
    info: dict = field(default_factory=dict)

    kind = "base"

    def predict_proba(self, X) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        return apply_decision_rule(self.predict_proba(X), self.decision_rule)

    def meta(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "kind": self.kind,
            "labels": list(self.labels),
            "input_kind": self.input_kind,
            "decision_rule": self.decision_rule,
            "info": self.info,
        }

    # Subclasses write their payload files into ``folder`` and read them back.
    def _save_payload(self, folder: Path) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


@dataclass
class SklearnGenreModel(GenreModel):
    """A one-vs-rest scikit-learn model plus the vectorizer that made its input."""

    estimator: Any = None
    vectorizer: Any = None
    constant_columns: dict[int, int] = field(default_factory=dict)  # genres with one class in training
    platt: np.ndarray | None = None  # (n_labels, 2): per-genre sigmoid(a * margin + b) for margin models

    kind = "sklearn"

    def predict_proba(self, X) -> np.ndarray:
        if hasattr(self.estimator, "predict_proba"):  # naive Bayes: its own probabilities
            scores = np.asarray(self.estimator.predict_proba(X), dtype=float)
        else:  # linear SVC: Platt-scaled margins (out-of-fold fit), else the raw sigmoid
            margins = np.asarray(self.estimator.decision_function(X), dtype=float).reshape(X.shape[0], len(self.labels))
            if self.platt is not None:
                margins = margins * self.platt[:, 0] + self.platt[:, 1]
            scores = _sigmoid(margins)
        scores = scores.reshape(X.shape[0], len(self.labels))
        for column, value in self.constant_columns.items():
            scores[:, column] = float(value)
        return scores

    def predict(self, X) -> np.ndarray:
        pred = self.estimator.predict(X)
        pred = pred.toarray() if sp.issparse(pred) else np.asarray(pred)
        return (pred.reshape(X.shape[0], len(self.labels)) > 0).astype(np.uint8)

    def transform_text(self, overviews: Sequence[str]):
        if self.vectorizer is None:
            raise ValueError(f"model {self.name!r} has no vectorizer")
        return self.vectorizer.transform(["" if t is None else str(t) for t in overviews])

    def _save_payload(self, folder: Path) -> None:
        payload = {"estimator": self.estimator, "vectorizer": self.vectorizer, "constant_columns": self.constant_columns,
                   "platt": self.platt}
        atomic_write(folder / "estimator.joblib", lambda tmp: joblib.dump(payload, tmp, compress=3))


def _constant_columns(Y: np.ndarray) -> dict[int, int]:
    sums = Y.sum(axis=0)
    out = {}
    for column, total in enumerate(sums):
        if total == 0:
            out[column] = 0
        elif total == Y.shape[0]:
            out[column] = 1
    return out


def _check_xy(X, Y, labels) -> np.ndarray:
    Y = np.asarray(Y, dtype=np.uint8)
    if Y.ndim != 2 or Y.shape[1] != len(labels):
        raise ValueError(f"Y must be (n_movies, {len(labels)}), got {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 training movies, got {X.shape[0]}")
    return Y


def train_linear_svc(
    X,
    Y,
    labels: Sequence[str],
    Cs: Sequence[float] = (0.1, 0.3, 1.0),
    cv: int = 3,
    seed: int = 0,
    vectorizer=None,
    name: str = "svc_tfidf",
    input_kind: str = "tfidf",
) -> SklearnGenreModel:
    """One-vs-rest linear SVC (class_weight balanced) with ``GridSearchCV`` over ``C`` (micro-F1)."""
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC

    Y = _check_xy(X, Y, labels)
    base = OneVsRestClassifier(LinearSVC(class_weight="balanced", random_state=seed, max_iter=5000, dual="auto"))
    folds = max(2, min(int(cv), X.shape[0]))
    search = GridSearchCV(
        base,
        {"estimator__C": [float(c) for c in Cs]},
        scoring="f1_micro",
        cv=KFold(n_splits=folds, shuffle=True, random_state=seed),
        n_jobs=1,
        refit=True,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        warnings.filterwarnings("ignore", message="Label not .* present in all training examples")
        warnings.filterwarnings("ignore", category=UserWarning, module="sklearn.multiclass")
        search.fit(X, Y)
    platt = _platt_from_out_of_fold(search.best_estimator_, X, Y, KFold(n_splits=folds, shuffle=True, random_state=seed))
    grid = [
        {"C": float(p["estimator__C"]), "cv_micro_f1": float(m)}
        for p, m in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"])
    ]
    info = {"best_C": float(search.best_params_["estimator__C"]), "cv_folds": folds, "grid": grid, "seed": seed,
            "train_movies": int(X.shape[0]), "features": int(X.shape[1])}
    return SklearnGenreModel(
        name=name, labels=list(labels), input_kind=input_kind, decision_rule="labels", info=info,
        estimator=search.best_estimator_, vectorizer=vectorizer, constant_columns=_constant_columns(Y), platt=platt,
    )


def _platt_from_out_of_fold(estimator, X, Y: np.ndarray, folds) -> np.ndarray:
    """Per-genre Platt scaling ``sigmoid(a * margin + b)`` fit on out-of-fold margins.

    A linear SVM's margins are not probabilities (with a small C they all sit near 0, so a
    plain sigmoid puts every genre near 0.5). Fitting ``a, b`` on margins the model did not
    train on (the same folds as the grid search, best C) gives scores on a probability scale
    that later fusion and thresholds can use. The predicted label sets stay the SVM's own.
    Genres with a single class in a fold fall back to ``a = 1, b = 0``.
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    params = np.tile([1.0, 0.0], (Y.shape[1], 1))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="sklearn.multiclass")
        margins = cross_val_predict(clone(estimator), X, Y, cv=folds, method="decision_function")
    for j in range(Y.shape[1]):
        y = Y[:, j]
        if 0 < y.sum() < len(y):
            fit = LogisticRegression(C=100.0).fit(margins[:, [j]], y)
            params[j] = [float(fit.coef_[0, 0]), float(fit.intercept_[0])]
    return params


def train_naive_bayes(
    X, Y, labels: Sequence[str], alpha: float = 1.0, vectorizer=None, name: str = "naive_bayes_counts", input_kind: str = "counts"
) -> SklearnGenreModel:
    """The tutorial's one-vs-rest multinomial naive Bayes on bag-of-words counts."""
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.naive_bayes import MultinomialNB

    Y = _check_xy(X, Y, labels)
    model = OneVsRestClassifier(MultinomialNB(alpha=alpha))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="sklearn.multiclass")
        model.fit(X, Y)
    info = {"alpha": alpha, "train_movies": int(X.shape[0]), "features": int(X.shape[1])}
    return SklearnGenreModel(
        name=name, labels=list(labels), input_kind=input_kind, decision_rule="labels", info=info,
        estimator=model, vectorizer=vectorizer, constant_columns=_constant_columns(Y),
    )


class _Adam:
    """Adam (Kingma & Ba, 2015) with L2 weight decay added to the gradient, as ``torch.optim.Adam``.

    Written out because constructing any ``torch.optim`` optimizer imports ``torch._dynamo``,
    which costs 4-10 s per process on the 2-CPU machines the demo and CI run on.
    """

    def __init__(self, params, lr: float, weight_decay: float = 0.0, betas=(0.9, 0.999), eps: float = 1e-8):
        import torch

        self.params = params
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        self.t += 1
        beta1, beta2 = self.betas
        correction1 = 1 - beta1**self.t
        correction2 = 1 - beta2**self.t
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                if p.grad is None:
                    continue
                grad = p.grad.add(p, alpha=self.weight_decay) if self.weight_decay else p.grad
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (v / correction2).sqrt_().add_(self.eps)
                p.addcdiv_(m, denom, value=-self.lr / correction1)


@contextlib.contextmanager
def _torch_threads(n: int):
    import torch

    previous = torch.get_num_threads()
    if n and n != previous:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _build_mlp(n_in: int, hidden: Sequence[int], n_out: int, dropout: float):
    from torch import nn

    layers: list[nn.Module] = []
    width = n_in
    for size in hidden:
        layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(dropout)]
        width = int(size)
    layers.append(nn.Linear(width, n_out))  # logits; sigmoid in predict_proba and inside the loss
    return nn.Sequential(*layers)


@dataclass
class MLPGenreModel(GenreModel):
    """A torch MLP with sigmoid outputs over standardised inputs."""

    module: Any = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    arch: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)  # how to featurise a new input (word vectors, VGG16 config)
    files: dict[str, Path] = field(default_factory=dict)  # extra files saved with the model

    kind = "mlp"

    def predict_proba(self, X) -> np.ndarray:
        import torch

        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.arch["n_in"]:
            raise ValueError(f"model {self.name!r} expects (n, {self.arch['n_in']}) inputs, got {X.shape}")
        if X.shape[0] == 0:
            return np.zeros((0, len(self.labels)))
        Z = (X - self.mean) / self.std
        self.module.eval()
        with torch.inference_mode():
            logits = self.module(torch.from_numpy(Z.astype(np.float32)))
            return torch.sigmoid(logits).double().numpy()

    def _save_payload(self, folder: Path) -> None:
        import torch

        payload = {
            "state_dict": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
            "arch": self.arch,
            "mean": torch.from_numpy(np.asarray(self.mean, dtype=np.float32)),
            "std": torch.from_numpy(np.asarray(self.std, dtype=np.float32)),
        }
        atomic_write(folder / "mlp.pt", lambda tmp: torch.save(payload, tmp))
        for name, source in self.files.items():
            atomic_write(folder / name, lambda tmp, src=source: shutil.copyfile(src, tmp))


def train_mlp(
    X_train,
    Y_train,
    X_val,
    Y_val,
    labels: Sequence[str],
    name: str,
    input_kind: str,
    hidden: Sequence[int] = (256,),
    dropout: float = 0.3,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    max_epochs: int = 60,
    patience: int = 6,
    seed: int = 0,
    extras: dict | None = None,
    threads: int = 1,
) -> MLPGenreModel:
    """Train an MLP with BCE on sigmoid outputs; early stopping on validation loss when given.

    ``threads``: torch intra-op threads while training. Matrices this small gain nothing
    from more, and on a busy machine extra threads only contend (measured 4x slower with 2
    threads than 1 on the 2-CPU CI machine).
    """
    import torch

    X_train = np.asarray(X_train, dtype=np.float32)
    Y_train = _check_xy(X_train, Y_train, labels).astype(np.float32)
    X_val = np.asarray(X_val, dtype=np.float32).reshape(-1, X_train.shape[1])
    Y_val = np.asarray(Y_val, dtype=np.float32).reshape(-1, len(labels))
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    arch = {"n_in": int(X_train.shape[1]), "hidden": [int(h) for h in hidden], "n_out": len(labels), "dropout": float(dropout)}

    with torch.random.fork_rng(devices=[]), _torch_threads(threads):
        torch.manual_seed(seed)
        module = _build_mlp(arch["n_in"], arch["hidden"], arch["n_out"], dropout)
        optimizer = _Adam(list(module.parameters()), lr=lr, weight_decay=weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()  # sigmoid + binary cross-entropy, numerically stable
        xt = torch.from_numpy((X_train - mean) / std)
        yt = torch.from_numpy(Y_train)
        xv = torch.from_numpy((X_val - mean) / std)
        yv = torch.from_numpy(Y_val)
        shuffler = torch.Generator().manual_seed(seed)
        best_loss, best_state, best_epoch, history = float("inf"), None, 0, []
        stale = 0
        for epoch in range(1, max_epochs + 1):
            module.train()
            order = torch.randperm(len(xt), generator=shuffler)
            total = 0.0
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(module(xt[idx]), yt[idx])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            train_loss = total / len(xt)
            if len(xv):
                module.eval()
                with torch.no_grad():
                    val_loss = float(loss_fn(module(xv), yv))
            else:
                val_loss = train_loss
            history.append({"epoch": epoch, "train_loss": round(train_loss, 5), "val_loss": round(val_loss, 5)})
            if val_loss < best_loss - 1e-5:
                best_loss, best_epoch, stale = val_loss, epoch, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
                if len(xv) and stale >= patience:
                    break
        if best_state is not None:
            module.load_state_dict(best_state)
    module.eval()
    info = {
        "seed": seed, "epochs_run": len(history), "best_epoch": best_epoch, "best_val_loss": round(best_loss, 5),
        "early_stopping": bool(len(xv)), "lr": lr, "weight_decay": weight_decay, "batch_size": batch_size,
        "train_movies": int(len(X_train)), "validation_movies": int(len(X_val)), "history": history[-10:],
    }
    return MLPGenreModel(
        name=name, labels=list(labels), input_kind=input_kind, decision_rule="top3", info=info,
        module=module, mean=mean.astype(np.float32), std=std, arch=arch, extras=dict(extras or {}),
    )


# --------------------------------------------------------------------------- persistence


def _model_root(models_dir: str | os.PathLike, name: str) -> Path:
    if not name or any(ch in name for ch in "/\\") or name.startswith("."):
        raise ValueError(f"bad model name {name!r}")
    return Path(models_dir) / name


def save_model(model: GenreModel, models_dir: str | os.PathLike, keep: int = 2) -> Path:
    """Write ``<models_dir>/<name>/<version>/`` (payload + meta.json) then point ``LATEST`` at it."""
    root = _model_root(models_dir, model.name)
    version = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]
    folder = root / version
    folder.mkdir(parents=True, exist_ok=False)
    model._save_payload(folder)
    meta = model.meta()
    if isinstance(model, MLPGenreModel):
        meta["arch"] = model.arch
        meta["extras"] = model.extras
    meta["version"] = version
    meta["saved_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
    atomic_write_json(folder / "meta.json", meta)
    atomic_write_text(root / "LATEST", version + "\n")
    versions = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in versions[:-keep] if keep > 0 else []:
        if old.name != version:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def available_models(models_dir: str | os.PathLike) -> list[str]:
    """Names of models with a ``LATEST`` version in ``models_dir``."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "LATEST").is_file())


def latest_folder(models_dir: str | os.PathLike, name: str) -> Path:
    root = _model_root(models_dir, name)
    pointer = root / "LATEST"
    if not pointer.is_file():
        known = available_models(models_dir)
        raise ModelNotFoundError(
            f"unknown model {name!r}; materialized models: {', '.join(known) if known else 'none (run the pipeline first)'}"
        )
    return root / pointer.read_text().strip()


def load_model(models_dir: str | os.PathLike, name: str) -> GenreModel:
    """Load the latest version of a model (its label order, vectorizer, extras included)."""
    folder = latest_folder(models_dir, name)
    meta = json.loads((folder / "meta.json").read_text())
    common = dict(name=meta["name"], labels=list(meta["labels"]), input_kind=meta["input_kind"],
                  decision_rule=meta["decision_rule"], info=meta.get("info", {}))
    if meta["kind"] == "sklearn":
        payload = joblib.load(folder / "estimator.joblib")
        constant = {int(k): int(v) for k, v in payload.get("constant_columns", {}).items()}
        return SklearnGenreModel(**common, estimator=payload["estimator"], vectorizer=payload["vectorizer"], constant_columns=constant,
                                 platt=payload.get("platt"))
    if meta["kind"] == "mlp":
        import torch

        payload = torch.load(folder / "mlp.pt", map_location="cpu", weights_only=True)
        arch = payload["arch"]
        module = _build_mlp(arch["n_in"], arch["hidden"], arch["n_out"], arch["dropout"])
        module.load_state_dict(payload["state_dict"])
        module.eval()
        extras = dict(meta.get("extras", {}))
        extras["folder"] = str(folder)
        return MLPGenreModel(**common, module=module, mean=payload["mean"].numpy(), std=payload["std"].numpy(), arch=arch, extras=extras)
    if meta["kind"] in ("text_plus", "fusion"):  # issue 5 models (genre_pipeline.models.fusion_models)
        from genre_pipeline.models.fusion_models import load_extra_model

        return load_extra_model(folder, meta, common)
    raise ValueError(f"{folder}: unknown model kind {meta['kind']!r}")
