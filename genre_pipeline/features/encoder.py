"""Running a transformer text encoder: tokens, torch modules for training, ONNX Runtime for quick answers.

The sentence encoder (:mod:`genre_pipeline.features.sentence`) and the fine-tuned text model
(:mod:`genre_pipeline.models.finetune`) share this module. Both read a text as the word
pieces of the encoder's own ``tokenizer.json`` (the Rust ``tokenizers`` library: the same
ids at training and at prediction time), both pool the last hidden states by the mean over
real tokens (all-MiniLM-L6-v2's pooling), and both run in one of two ways:

* **torch** (:func:`pooled_module`, a ``transformers`` encoder with mean pooling and an
  optional unit-length normalisation and linear head): for training and for batch encoding,
  on CUDA when present;
* **ONNX Runtime** (:class:`OnnxRunner`, after :func:`export_onnx`): what ``predict`` uses.
  Importing ``transformers``' BERT code costs ~6 s (it pulls ``torch._dynamo`` and
  ``torch.distributed``) and torch ~3 s on these CPUs; ``onnxruntime`` + ``tokenizers`` load
  and answer for one movie in ~1.2 s. The exported graph gives the same vectors as the torch
  module to ~1e-7.

Texts are encoded in batches sorted by length (:func:`token_batches`), so a batch is padded
only to its own longest text. Science only: no Dagster import; torch and transformers are
imported when a module is built, onnxruntime when a runner is made.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "TOKENIZER_FILE",
    "OnnxRunner",
    "TokenBatch",
    "export_dense_onnx",
    "export_onnx",
    "load_tokenizer",
    "offline_environment",
    "onnx_available",
    "onnx_session",
    "pad_batch",
    "pooled_module",
    "run_module",
    "token_batches",
]

TOKENIZER_FILE = "tokenizer.json"


def offline_environment() -> None:
    """Never let transformers / huggingface_hub reach for the network or draw progress bars."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)


def load_tokenizer(path: str | os.PathLike, max_length: int):
    """The ``tokenizers.Tokenizer`` in ``path`` (a ``tokenizer.json``), truncating to ``max_length`` word pieces."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=int(max_length))
    tokenizer.no_padding()
    return tokenizer


@dataclass
class TokenBatch:
    """Rows ``rows`` of the input texts as padded ``int64`` arrays ``(batch, longest)``."""

    rows: np.ndarray
    input_ids: np.ndarray
    attention_mask: np.ndarray


def pad_batch(encodings: Sequence, rows: np.ndarray) -> TokenBatch:
    longest = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), longest), dtype=np.int64)
    mask = np.zeros((len(encodings), longest), dtype=np.int64)
    for i, encoding in enumerate(encodings):
        ids[i, : len(encoding.ids)] = encoding.ids
        mask[i, : len(encoding.ids)] = 1
    return TokenBatch(rows=rows, input_ids=ids, attention_mask=mask)


def token_batches(tokenizer, texts: Sequence[str], batch_size: int, order: np.ndarray | None = None) -> Iterator[TokenBatch]:
    """Padded batches of ``texts``: by length (``order=None``, least padding) or in ``order`` (training)."""
    encodings = tokenizer.encode_batch([str(t) for t in texts])
    if order is None:
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
    for start in range(0, len(order), int(batch_size)):
        rows = np.asarray(order[start : start + int(batch_size)])
        yield pad_batch([encodings[r] for r in rows], rows)


def run_module(module, tokenizer, texts: Sequence[str], device: str, width: int, batch_size: int = 64) -> np.ndarray:
    """``(len(texts), width)`` float32 outputs of a :func:`pooled_module`, in length-sorted batches, in input order."""
    import torch

    module.eval()
    out = np.zeros((len(texts), int(width)), dtype=np.float32)
    with torch.inference_mode():
        for batch in token_batches(tokenizer, texts, batch_size):
            result = module(torch.from_numpy(batch.input_ids).to(device), torch.from_numpy(batch.attention_mask).to(device))
            out[batch.rows] = result.float().cpu().numpy()
    return out


@functools.cache
def _pooled_class():
    import torch
    from torch import nn

    class MeanPooled(nn.Module):
        """Encoder -> mean of the last hidden states over real tokens (-> unit length) (-> dropout + linear head)."""

        def __init__(self, encoder, normalize: bool, head, dropout: float):
            super().__init__()
            self.encoder = encoder
            self.normalize = bool(normalize)
            self.head = head
            self.dropout = nn.Dropout(float(dropout))

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            if self.head is None:
                return pooled
            return self.head(self.dropout(pooled))

    return MeanPooled


def pooled_module(model_dir: str | os.PathLike, normalize: bool = True, n_outputs: int | None = None, dropout: float = 0.0,
                  seed: int = 0):
    """A torch module: the ``transformers`` encoder in ``model_dir``, mean pooling, and optionally
    unit length (``normalize``) and a seeded linear head with ``n_outputs`` logits."""
    import torch
    from transformers import AutoModel

    offline_environment()
    encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    head = None
    if n_outputs:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            head = torch.nn.Linear(int(encoder.config.hidden_size), int(n_outputs))
    return _pooled_class()(encoder, normalize, head, dropout).eval()


def export_onnx(module, path: str | os.PathLike, output_name: str = "output") -> Path:
    """Write ``module`` (a :func:`pooled_module`, in float32 on any device) as an ONNX graph with dynamic batch and length."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = module.training
    device = next(module.parameters()).device
    module.eval().to("cpu")
    sample = torch.ones((2, 8), dtype=torch.int64)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the encoder's Python control flow (shapes are dynamic axes)
            torch.onnx.export(module, (sample, sample), str(path), dynamo=False, input_names=["input_ids", "attention_mask"],
                              output_names=[output_name], opset_version=17,
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                                            output_name: {0: "batch"}})
    finally:
        module.to(device).train(was_training)
    return path


def export_dense_onnx(module, n_inputs: int, path: str | os.PathLike) -> Path:
    """Write a torch module over ``(batch, n_inputs)`` float32 vectors (input ``x``, output ``logits``) as ONNX."""
    import torch

    path = Path(path)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.zeros((2, int(n_inputs)), dtype=torch.float32),), str(path), dynamo=False,
                              input_names=["x"], output_names=["logits"], opset_version=17,
                              dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    finally:
        module.train(was_training)
    return path


def onnx_session(graph: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime session for ``graph`` (CUDA provider when installed, else CPU), quiet."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = int(threads)
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    return ort.InferenceSession(str(graph), options, providers=providers)


def onnx_available(write: bool = True) -> bool:
    """Whether ONNX graphs can be run (``onnxruntime``) and, with ``write``, written (``onnx``) here."""
    try:
        import onnxruntime  # noqa: F401

        if write:
            import onnx  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxRunner:
    """An exported :func:`pooled_module` under ONNX Runtime (CUDA provider when installed, else CPU)."""

    def __init__(self, graph: str | os.PathLike, tokenizer_file: str | os.PathLike, max_length: int, threads: int | None = None):
        self.graph = Path(graph)
        self.session = onnx_session(graph, threads)
        self.tokenizer = load_tokenizer(tokenizer_file, max_length)
        self.width = int(self.session.get_outputs()[0].shape[-1])

    @property
    def device(self) -> str:
        return "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"

    def run(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """``(len(texts), width)`` float32 outputs, in input order."""
        out = np.zeros((len(texts), self.width), dtype=np.float32)
        for batch in token_batches(self.tokenizer, texts, batch_size):
            out[batch.rows] = self.session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})[0]
        return out
