"""VGG16 poster embeddings from torchvision's VGG16, batched, with a per-poster persistent store.

Tutorial step: "Section 4 — visual features from posters". The tutorial loads Keras'
``VGG16(weights='imagenet', include_top=False)`` and, one poster at a time, resizes it to
224x224, runs ``model.predict`` on a batch of one and flattens the ``block5_pool`` output
into 25,088 float64 values, recomputing every poster on every run.

The model, its weights and its preprocessing constants are torchvision's (imported inside the
functions that need them, so importing this module stays cheap):

* **Network**: ``torchvision.models.vgg16(...).features``, the convolutional part through
  ``pool5``. The classifier (124M parameters, 500 MB) is only ever built on the meta device,
  so it never takes memory.
* **Weights** (:class:`VGG16Config.weights`): ``"imagenet"`` is
  ``torchvision.models.VGG16_Weights.IMAGENET1K_V1``. With ``weights_file`` that file is
  loaded; otherwise torchvision's standard location, the torch hub cache
  (``torch.hub.get_dir()/checkpoints/vgg16-397923af.pth``), and when it is not there
  torchvision downloads it there on first use (``torch.hub.load_state_dict_from_url``, 528
  MB). The server is probed first with a short timeout, so offline the attempt fails within
  seconds with one :class:`WeightsNotFoundError` naming the path, the URL and
  ``weights='random'``. Checkpoint files are memory-mapped and only their ``features.*``
  tensors are used. ``"random"`` is torchvision's own VGG initialisation under a fixed seed:
  deterministic, offline, and every output says ``NOT ImageNet features`` (the demo and the
  tests use it; its features are texture and colour statistics, not ImageNet semantics).
* **Preprocessing**: the interpolation, mean and std of ``VGG16_Weights.IMAGENET1K_V1.transforms()``
  applied with ``torchvision.transforms.v2``. Posters are resized to a square of
  ``image_size`` like the tutorial, not resized to 256 and centre-cropped to 224 like
  torchvision's classification preset: posters are 2:3, and that crop would cut a third of
  their height (titles, credits, faces at the top).
* **Feature layer** (:class:`VGG16Config.layer`): default ``"gap"``: the tutorial's
  ``block5_pool`` output averaged over its spatial grid, 512 float32 values per poster.
  Why: it is the same layer, but (1) independent of the input resolution, so the demo can run
  at 64 px and real posters at 224 px with the same downstream model shapes; (2) 49x smaller
  (2 KB instead of the tutorial's 196 KB of float64 per poster); (3) a 512-input MLP has
  ~50x fewer first-layer weights than a 25,088-input one, which matters with a few thousand
  training posters; (4) averaging makes the feature insensitive to where on the poster a
  motif sits. ``"pool5"`` keeps the tutorial's flattened layer (``512 * (size // 32) ** 2``
  values; 25,088 at 224 px), float32.
* **Inference**: batches under ``torch.inference_mode``, channels-last memory format, bf16
  autocast only where the CPU has native bf16 (AVX512-BF16 / AMX; emulated bf16 is slower
  than fp32) or on CUDA, CUDA when present, decoding of the next batches overlapped with the
  current one in a thread, torch threads set to the CPUs this process may use.
* **Store** (:class:`EmbeddingStore`): embeddings are kept per poster, keyed by poster file
  name *and* the sha256 of its bytes, in a folder per configuration fingerprint (weights,
  layer, input size, precision). A re-run embeds only new or changed posters and, when
  there is nothing new, does not even build the network.
* **Per movie** (:class:`PosterFeatures`): movie ids with their poster embedding, saved to
  and loaded from a folder, aligned to any id order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from genre_pipeline.storage.atomic import atomic_write, atomic_write_json

__all__ = [
    "DOWNLOAD_PROBE_TIMEOUT_S",
    "FEATURE_LAYERS",
    "EmbeddingStore",
    "PosterEmbedder",
    "PosterEmbeddings",
    "PosterError",
    "PosterFeatures",
    "VGG16Config",
    "WeightsNotFoundError",
    "build_vgg16_features",
    "configure_torch_threads",
    "cpu_has_native_bf16",
    "default_weights_path",
    "embed_poster_file",
    "embed_posters",
    "embedding_dim",
    "fetch_imagenet_weights",
    "file_sha256",
    "imagenet_preset",
    "imagenet_weights",
    "load_poster_array",
    "resolve_device",
    "resolve_precision",
]

FEATURE_LAYERS = ("gap", "pool5")
DOWNLOAD_PROBE_TIMEOUT_S = 5.0  # how long the weights server may take to answer before we call it offline
FINGERPRINT_VERSION = 2


class WeightsNotFoundError(FileNotFoundError):
    """The ImageNet weights are neither on disk nor downloadable; the message says where and what to do."""


class PosterError(ValueError):
    """A poster file cannot be read as an image; the message names the file."""


@dataclass(frozen=True)
class VGG16Config:
    """How posters are embedded. Everything that changes the numbers is in the fingerprint."""

    weights: str = "imagenet"  # "imagenet" (torchvision VGG16_Weights.IMAGENET1K_V1) | "random"
    weights_file: str | None = None  # imagenet: explicit file; default: torch hub cache, fetched on first use
    seed: int = 0  # random weights
    image_size: int = 224  # posters are resized to image_size x image_size, as in the tutorial
    layer: str = "gap"  # "gap" (512 values) | "pool5" (512 * (image_size // 32) ** 2)
    batch_size: int = 16
    device: str = "auto"  # "auto" (cuda if available) | "cpu" | "cuda"
    precision: str = "auto"  # "auto" (bf16 where native) | "fp32" | "bf16"
    channels_last: bool = True
    num_threads: int | None = None  # torch intra-op threads; default: CPUs available to this process
    decode_workers: int = 1  # threads decoding JPEGs ahead of the network

    def __post_init__(self) -> None:
        if self.weights not in ("imagenet", "random"):
            raise ValueError(f"weights must be 'imagenet' or 'random', got {self.weights!r}")
        if self.layer not in FEATURE_LAYERS:
            raise ValueError(f"layer must be one of {FEATURE_LAYERS}, got {self.layer!r}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be at least 32 (VGG16 halves it five times), got {self.image_size}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")

    def weights_label(self) -> str:
        if self.weights == "random":
            return f"random (seed {self.seed}; NOT ImageNet features)"
        return f"imagenet ({Path(self.weights_file).name if self.weights_file else 'torchvision VGG16_Weights.IMAGENET1K_V1'})"


def embedding_dim(config: VGG16Config) -> int:
    """Values per poster for a configuration."""
    if config.layer == "gap":
        return 512
    side = config.image_size // 32
    return 512 * side * side


def imagenet_weights():
    """``torchvision.models.VGG16_Weights.IMAGENET1K_V1``: url, transforms and meta of the ImageNet weights."""
    from torchvision.models import VGG16_Weights

    return VGG16_Weights.IMAGENET1K_V1


@functools.cache
def imagenet_preset():
    """torchvision's preprocessing preset of the ImageNet weights (its ``interpolation``, ``mean``, ``std``)."""
    return imagenet_weights().transforms()


def default_weights_path() -> Path:
    """Where torchvision keeps the VGG16 ImageNet weights: ``torch.hub.get_dir()/checkpoints/vgg16-397923af.pth``."""
    import torch

    url = imagenet_weights().url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _weights_missing(path: Path, url: str, reason: str) -> WeightsNotFoundError:
    return WeightsNotFoundError(
        f"VGG16 ImageNet weights not found at {path} ({reason}). torchvision's file is {url} "
        "(VGG16_Weights.IMAGENET1K_V1, 528 MB): on a machine with internet, let torchvision fetch it into the torch "
        "hub cache, or copy it to this path, or point the weights file setting at your copy; "
        "offline, use weights='random' (seeded, NOT ImageNet features)."
    )


def _probe(url: str, timeout: float) -> str | None:
    """``None`` when the server at ``url`` answers within ``timeout`` seconds, else why not.

    Runs in a daemon thread because urlopen's timeout does not bound the DNS lookup.
    """
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
                outcome.append(None)
        except urllib.error.HTTPError:  # the server answered; the download reports what it said
            outcome.append(None)
        except (OSError, ValueError) as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=attempt, name="vgg16-weights-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def fetch_imagenet_weights(target: Path, url: str | None = None, timeout: float = DOWNLOAD_PROBE_TIMEOUT_S) -> dict:
    """Download the ImageNet checkpoint to ``target`` the way torchvision does on first use; return its state dict.

    ``url`` defaults to ``VGG16_Weights.IMAGENET1K_V1.url``. The server is probed with
    ``timeout`` first: offline this raises :class:`WeightsNotFoundError` within seconds.
    """
    import torch

    url = url or imagenet_weights().url
    problem = _probe(url, timeout)
    if problem is None:
        try:
            return torch.hub.load_state_dict_from_url(
                url, model_dir=str(target.parent), file_name=target.name, map_location="cpu",
                progress=False, check_hash=True, weights_only=True,
            )
        except (OSError, RuntimeError) as exc:  # network errors are OSError; a wrong hash is RuntimeError
            problem = f"{type(exc).__name__}: {exc}"
    raise _weights_missing(target, url, f"download failed: {problem}")


def _load_imagenet_features(features, config: VGG16Config) -> None:
    """Put the checkpoint's ``features.*`` tensors into ``features`` (memory-mapped where the file is on disk)."""
    import pickle

    import torch

    if config.weights_file:
        path = Path(config.weights_file).expanduser()
        if not path.is_file():
            raise _weights_missing(path, imagenet_weights().url, "the weights file setting points here")
    else:
        path = default_weights_path()
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError) as exc:
            raise ValueError(f"cannot read VGG16 weights {path}: {exc}") from exc
    else:
        state = fetch_imagenet_weights(path)
    convolutional = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    try:
        features.load_state_dict(convolutional, assign=True)
    except RuntimeError as exc:
        raise ValueError(f"{path} does not hold torchvision's VGG16 'features.*' tensors: {exc}") from exc


def build_vgg16_features(config: VGG16Config):
    """``torchvision.models.vgg16().features`` with the configured weights, eval mode, fp32, on the CPU."""
    import torch
    import torchvision

    with torch.device("meta"):
        features = torchvision.models.vgg16(weights=None).features
    if config.weights == "random":
        features = features.to_empty(device="cpu")
        # torchvision's VGG initialisation with its classifier on the meta device: 0.01 s and 58 MB per build here,
        # against 1.2 s and +550 MB for materialising vgg16() whole.
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            torch.default_generator.manual_seed(int(config.seed))
            torchvision.models.VGG(features, init_weights=True)
    else:
        _load_imagenet_features(features, config)
    return features.eval().requires_grad_(False)


def cpu_has_native_bf16(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """Whether the CPU flags list AVX512-BF16 or AMX-BF16 (``False`` where ``cpuinfo`` is unreadable)."""
    try:
        flags = set(Path(cpuinfo).read_text(errors="replace").split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_device(config: VGG16Config) -> str:
    import torch

    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if config.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' requested but torch sees no CUDA device")
    return config.device


def resolve_precision(config: VGG16Config, device: str, native_bf16: bool | None = None) -> str:
    """``"bf16"`` or ``"fp32"``: auto picks bf16 on CUDA with bf16 and on CPUs with native bf16.

    ``native_bf16`` overrides the CPU probe (:func:`cpu_has_native_bf16`).
    """
    import torch

    if config.precision != "auto":
        return config.precision
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if (cpu_has_native_bf16() if native_bf16 is None else native_bf16) else "fp32"


def fingerprint(config: VGG16Config, precision: str) -> str:
    """Identifies every setting that changes the embedding values (not batch size or device)."""
    if config.weights == "random":
        weights = f"random:{config.seed}"
    elif config.weights_file:
        path = Path(config.weights_file).expanduser()
        weights = f"imagenet:file:{path.name}:{path.stat().st_size if path.is_file() else -1}"
    else:
        weights = "imagenet:torchvision:VGG16_Weights.IMAGENET1K_V1"
    preset = imagenet_preset()
    payload = {
        "v": FINGERPRINT_VERSION,
        "weights": weights,
        "layer": config.layer,
        "image_size": config.image_size,
        "precision": precision,
        "resize": f"square-{preset.interpolation.value}",
        "normalize": [list(preset.mean), list(preset.std)],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def configure_torch_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``num_threads`` or the CPUs this process may run on."""
    import torch

    if num_threads is None:
        try:
            num_threads = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            num_threads = os.cpu_count() or 1
    num_threads = max(1, int(num_threads))
    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
    return num_threads


def load_poster_array(path: str | os.PathLike, size: int) -> np.ndarray:
    """A poster as a ``(size, size, 3)`` uint8 RGB array: the whole poster resized to a square with the
    interpolation of torchvision's ImageNet preset (PIL bilinear with antialiasing, as the tutorial)."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.v2 import functional as F

    preset = imagenet_preset()
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: let libjpeg decode at a reduced scale when it can
            rgb = F.resize(image.convert("RGB"), [size, size], interpolation=preset.interpolation, antialias=True)
            return np.array(rgb, dtype=np.uint8)  # a writable copy: torch.from_numpy needs one
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PosterError(f"cannot read poster {path}: {exc}") from exc


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class PosterEmbedder:
    """torchvision's VGG16 feature extractor, loaded, with the batched, optimised forward pass."""

    def __init__(self, config: VGG16Config):
        import torch
        from torchvision.transforms import v2

        self.config = config
        self.threads = configure_torch_threads(config.num_threads)
        self.device = resolve_device(config)
        self.precision = resolve_precision(config, self.device)
        self.fingerprint = fingerprint(config, self.precision)
        module = build_vgg16_features(config).to(self.device)
        if config.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        preset = imagenet_preset()
        self.normalize = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=preset.mean, std=preset.std)])

    def describe(self) -> dict:
        return {
            "weights": self.config.weights_label(),
            "imagenet_features": self.config.weights == "imagenet",
            "model": "torchvision.models.vgg16 features",
            "layer": self.config.layer,
            "dim": embedding_dim(self.config),
            "image_size": self.config.image_size,
            "batch_size": self.config.batch_size,
            "device": self.device,
            "precision": self.precision,
            "channels_last": self.config.channels_last,
            "torch_threads": self.threads,
            "fingerprint": self.fingerprint,
        }

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        """Embed a ``(n, size, size, 3)`` uint8 batch; returns ``(n, dim)`` float32."""
        import torch

        if batch.ndim != 4 or batch.shape[-1] != 3:
            raise ValueError(f"expected (n, h, w, 3) uint8 images, got {batch.shape}")
        memory_format = torch.channels_last if self.config.channels_last else torch.contiguous_format
        with torch.inference_mode():
            # NHWC bytes viewed as NCHW: already channels-last in memory, no copy.
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2)
            x = self.normalize(x).contiguous(memory_format=memory_format)
            with torch.autocast(device_type=self.device, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                out = self.module(x)
            out = out.float()
            if self.config.layer == "gap":
                features = out.mean(dim=(2, 3))
            else:
                features = out.contiguous().flatten(1)  # NCHW order: channel, row, column
            return features.cpu().numpy().astype(np.float32, copy=False)

    def _decoded_batches(self, paths: Sequence[Path]) -> Iterator[tuple[list[int], np.ndarray | None, dict[int, str]]]:
        """Yield ``(indices, uint8 batch, errors)``, decoding up to two batches ahead."""
        size, batch_size = self.config.image_size, self.config.batch_size

        def decode(indices: list[int]) -> tuple[list[int], np.ndarray | None, dict[int, str]]:
            arrays, ok, errors = [], [], {}
            for i in indices:
                try:
                    arrays.append(load_poster_array(paths[i], size))
                    ok.append(i)
                except PosterError as exc:
                    errors[i] = str(exc)
            return ok, (np.stack(arrays) if arrays else None), errors

        chunks = [list(range(s, min(s + batch_size, len(paths)))) for s in range(0, len(paths), batch_size)]
        with ThreadPoolExecutor(max_workers=max(1, self.config.decode_workers), thread_name_prefix="poster-decode") as pool:
            pending: deque = deque()
            for chunk in chunks:
                pending.append(pool.submit(decode, chunk))
                if len(pending) > 2:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def embed_files(self, paths: Sequence[str | os.PathLike],
                    progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        """Embed poster files: ``(matrix for readable ones, ok mask, {index: error})``.

        ``progress(done, total)`` is called before the first batch and after each one.
        """
        paths = [Path(p) for p in paths]
        dim = embedding_dim(self.config)
        out = np.zeros((len(paths), dim), dtype=np.float32)
        ok = np.zeros(len(paths), dtype=bool)
        errors: dict[int, str] = {}
        done = 0
        if progress is not None:
            progress(0, len(paths))
        for indices, batch, batch_errors in self._decoded_batches(paths):
            errors.update(batch_errors)
            if batch is not None:
                out[indices] = self.embed_arrays(batch)
                ok[indices] = True
            done += len(indices)
            if progress is not None:
                progress(done, len(paths))
        return out[ok], ok, errors


def embed_poster_file(path: str | os.PathLike, config: VGG16Config) -> np.ndarray:
    """One poster's embedding, shape ``(1, dim)`` float32, exactly as :func:`embed_posters` computes it.

    Raises :class:`PosterError` (missing or unreadable file, naming it) or
    :class:`WeightsNotFoundError`. The file is checked before the network is built.
    """
    path = Path(path)
    if not path.is_file():
        raise PosterError(f"cannot read poster {path}: no such file")
    matrix, ok, errors = PosterEmbedder(config).embed_files([path])
    if not ok[0]:
        raise PosterError(errors.get(0, f"cannot read poster {path}"))
    return matrix


class EmbeddingStore:
    """Per-poster embeddings on disk, one folder per configuration fingerprint.

    Layout: ``<root>/<fingerprint>/config.json`` and ``shard-<n>-<id>.npz`` files, each with
    arrays ``files``, ``sha256`` and ``embeddings`` (float32). New embeddings go to a new
    shard (atomic write); shards are merged when there are more than ``max_shards``, keeping
    only the newest entry per poster file name.
    """

    def __init__(self, root: str | os.PathLike, fingerprint: str, description: dict | None = None, max_shards: int = 8):
        self.folder = Path(root) / fingerprint
        self.fingerprint = fingerprint
        self.description = description or {}
        self.max_shards = max_shards

    def shards(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.npz")) if self.folder.is_dir() else []

    def _read(self) -> tuple[list[str], list[str], np.ndarray | None]:
        files: list[str] = []
        shas: list[str] = []
        blocks = []
        for shard in self.shards():
            with np.load(shard, allow_pickle=False) as data:
                files += [str(f) for f in data["files"]]
                shas += [str(s) for s in data["sha256"]]
                blocks.append(np.asarray(data["embeddings"], dtype=np.float32))
        return files, shas, (np.vstack(blocks) if blocks else None)

    def load(self) -> dict[tuple[str, str], np.ndarray]:
        """``{(file name, sha256): embedding}``; later shards win."""
        files, shas, matrix = self._read()
        return {} if matrix is None else {(f, s): matrix[i] for i, (f, s) in enumerate(zip(files, shas))}

    def __len__(self) -> int:
        return len(self.load())

    def _write_shard(self, files: Sequence[str], shas: Sequence[str], embeddings: np.ndarray, number: int) -> Path:
        target = self.folder / f"shard-{number:06d}-{uuid.uuid4().hex[:8]}.npz"

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, files=np.array(list(files), dtype=str), sha256=np.array(list(shas), dtype=str),
                         embeddings=np.asarray(embeddings, dtype=np.float32))

        return atomic_write(target, write)

    def add(self, files: Sequence[str], shas: Sequence[str], embeddings: np.ndarray) -> None:
        if len(files) == 0:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / "config.json").is_file():
            atomic_write_json(self.folder / "config.json", {"fingerprint": self.fingerprint, **self.description})
        existing = self.shards()
        number = 1 + max((int(p.name.split("-")[1]) for p in existing), default=0)
        self._write_shard(files, shas, embeddings, number)
        if len(existing) + 1 > self.max_shards:
            self.compact()

    def compact(self) -> None:
        """Merge shards into one, keeping the newest entry per poster file name."""
        old = self.shards()
        files, shas, matrix = self._read()
        if matrix is None:
            return
        latest: dict[str, int] = {}
        for i, name in enumerate(files):
            latest[name] = i
        rows = sorted(latest.values())
        number = 1 + max(int(p.name.split("-")[1]) for p in old)
        self._write_shard([files[i] for i in rows], [shas[i] for i in rows], matrix[rows], number)
        for shard in old:
            shard.unlink(missing_ok=True)


@dataclass
class PosterEmbeddings:
    """Embeddings for the requested poster files (``ok`` marks the readable ones)."""

    files: list[str]
    matrix: np.ndarray  # (ok.sum(), dim) float32, rows in ``files`` order
    ok: np.ndarray
    errors: dict[str, str] = field(default_factory=dict)
    n_embedded: int = 0  # computed in this call
    n_cached: int = 0  # taken from the store
    seconds: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def posters_per_second(self) -> float:
        return self.n_embedded / self.seconds if self.seconds > 0 else 0.0


@dataclass
class PosterFeatures:
    """Poster embeddings per movie: row ``i`` of ``matrix`` belongs to movie ``ids[i]``.

    Saved as ``embeddings.npz`` (``ids`` int64, ``matrix`` float32) and ``info.json``
    (weights, layer, precision...; random weights say ``NOT ImageNet features``).
    """

    ids: np.ndarray
    matrix: np.ndarray
    info: dict = field(default_factory=dict)

    ARRAYS = "embeddings.npz"
    INFO = "info.json"

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64).reshape(-1)
        self.matrix = np.asarray(self.matrix, dtype=np.float32)
        if self.matrix.ndim != 2 or len(self.matrix) != len(self.ids):
            raise ValueError(f"matrix must have one row per id: {len(self.ids)} ids, matrix shape {self.matrix.shape}")
        if len(np.unique(self.ids)) != len(self.ids):
            raise ValueError("ids must be unique: one poster embedding per movie")

    @classmethod
    def from_embeddings(
        cls, embeddings: PosterEmbeddings, movie_ids: Sequence[int], poster_files: Sequence[str]
    ) -> PosterFeatures:
        """Movies whose poster (``poster_files[i]``, a file name as in ``embeddings.files``) was embedded."""
        rows = {name: r for r, name in enumerate(np.asarray(embeddings.files, dtype=object)[embeddings.ok])}
        kept = [(int(movie_id), rows[name]) for movie_id, name in zip(movie_ids, poster_files) if name in rows]
        ids = np.array([movie_id for movie_id, _ in kept], dtype=np.int64)
        matrix = embeddings.matrix[[row for _, row in kept]] if kept else np.zeros((0, embeddings.matrix.shape[1]), np.float32)
        return cls(ids=ids, matrix=matrix, info=dict(embeddings.info))

    @classmethod
    def combine(cls, parts: Mapping[str, PosterFeatures]) -> PosterFeatures:
        """One set of embeddings over release-year partitions (``{partition: features}``), in partition order.

        Every partition with embeddings must come from the same VGG16 configuration (its
        ``fingerprint``): a model reads one kind of poster feature. A movie found in two
        partitions (its release year moved and only one of the two years was rebuilt since)
        keeps the row of the later partition key. ``info`` is that of the first partition
        with embeddings.
        """
        keys = sorted(parts)
        filled = [key for key in keys if len(parts[key].ids)]
        prints = {key: parts[key].info.get("fingerprint") for key in filled}
        if len(set(prints.values())) > 1:
            shown = ", ".join(f"{key}: {fp}" for key, fp in prints.items())
            raise ValueError(f"poster_embeddings partitions come from different VGG16 settings ({shown}): rebuild them all")
        dims = {parts[key].dim for key in filled}
        if len(dims) > 1:
            raise ValueError(f"poster_embeddings partitions have different widths {sorted(dims)}: rebuild them all")
        if not filled:
            first = parts[keys[0]] if keys else None
            dim = first.dim if first is not None else 0
            return cls(ids=np.zeros(0, np.int64), matrix=np.zeros((0, dim), np.float32), info=dict(first.info) if first else {})
        ids = np.concatenate([parts[key].ids for key in filled])
        matrix = np.vstack([parts[key].matrix for key in filled])
        rows = np.sort(len(ids) - 1 - np.unique(ids[::-1], return_index=True)[1])  # the last row of each id
        return cls(ids=ids[rows], matrix=matrix[rows], info=dict(parts[filled[0]].info))

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``embeddings.npz`` and ``info.json`` into ``folder`` (atomically each); returns ``folder``."""
        folder = Path(folder)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, ids=self.ids, matrix=self.matrix)

        atomic_write(folder / self.ARRAYS, write)
        atomic_write_json(folder / self.INFO, self.info)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> PosterFeatures:
        """Read what :meth:`save` wrote; a missing or malformed file is an error naming it."""
        folder = Path(folder)
        arrays, info = folder / cls.ARRAYS, folder / cls.INFO
        for path in (arrays, info):
            if not path.is_file():
                raise FileNotFoundError(f"poster features incomplete: {path} does not exist")
        try:
            with np.load(arrays, allow_pickle=False) as data:
                ids, matrix = data["ids"], data["matrix"]
        except (KeyError, OSError, ValueError) as exc:
            raise ValueError(f"cannot read poster features {arrays} (arrays 'ids' and 'matrix'): {exc}") from exc
        try:
            meta = json.loads(info.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"cannot read poster features {info}: line {exc.lineno}: {exc.msg}") from exc
        try:
            return cls(ids=ids, matrix=matrix, info=meta)
        except ValueError as exc:
            raise ValueError(f"{arrays}: {exc}") from exc

    def align(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(matrix, available)`` in the order of ``ids``: zero rows and ``False`` for movies without an embedding."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        order = np.argsort(self.ids, kind="stable")
        sorted_ids = self.ids[order]
        at = np.clip(np.searchsorted(sorted_ids, wanted), 0, max(len(sorted_ids) - 1, 0))
        available = sorted_ids[at] == wanted if len(sorted_ids) else np.zeros(len(wanted), dtype=bool)
        full = np.zeros((len(wanted), self.dim), dtype=np.float32)
        full[available] = self.matrix[order[at[available]]]
        return full, available


def embed_posters(
    paths: Sequence[str | os.PathLike],
    config: VGG16Config,
    store_dir: str | os.PathLike | None = None,
    embedder: PosterEmbedder | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PosterEmbeddings:
    """Embed poster files, reusing stored embeddings of unchanged posters.

    Keys are (file name, sha256 of the bytes): a poster replaced under the same name is
    embedded again. Unreadable posters are reported in ``errors`` (and not stored), never
    raised. The network is built only when at least one poster needs embedding.
    ``progress(done, total)`` follows the posters being embedded (not those from the store).
    """
    import torch
    import torchvision

    paths = [Path(p) for p in paths]
    names = [p.name for p in paths]
    dim = embedding_dim(config)
    device = resolve_device(config)
    precision = resolve_precision(config, device)
    fp = fingerprint(config, precision)
    info = {
        "weights": config.weights_label(),
        "imagenet_features": config.weights == "imagenet",
        "model": "torchvision.models.vgg16 features",
        "layer": config.layer,
        "dim": dim,
        "image_size": config.image_size,
        "precision": precision,
        "device": device,
        "fingerprint": fp,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    store = EmbeddingStore(store_dir, fp, asdict(config) | {"precision_used": precision}) if store_dir else None
    cached = store.load() if store is not None else {}

    out = np.zeros((len(paths), dim), dtype=np.float32)
    ok = np.zeros(len(paths), dtype=bool)
    errors: dict[str, str] = {}
    keys: list[tuple[str, str] | None] = []
    todo: list[int] = []
    for i, path in enumerate(paths):
        try:
            key = (names[i], file_sha256(path))
        except OSError as exc:
            errors[names[i]] = f"cannot read poster {path}: {exc}"
            keys.append(None)
            continue
        keys.append(key)
        if key in cached:
            out[i] = cached[key]
            ok[i] = True
        else:
            todo.append(i)
    n_cached = int(ok.sum())

    start = time.perf_counter()
    n_embedded = 0
    if todo:
        # The same file may be requested twice (two movies sharing a poster): embed it once.
        unique: dict[tuple[str, str], list[int]] = {}
        for i in todo:
            unique.setdefault(keys[i], []).append(i)  # type: ignore[arg-type]
        first = [rows[0] for rows in unique.values()]
        embedder = embedder or PosterEmbedder(config)
        if embedder.fingerprint != fp:
            raise ValueError("the embedder's configuration does not match config")
        info.update(embedder.describe())
        matrix, done, batch_errors = embedder.embed_files([paths[i] for i in first], progress)
        done_rows = [first[j] for j in np.flatnonzero(done)]
        for row, vector in zip(done_rows, matrix):
            for i in unique[keys[row]]:  # type: ignore[index]
                out[i] = vector
                ok[i] = True
        for j, message in batch_errors.items():
            errors[names[first[j]]] = message
        n_embedded = len(done_rows)
        if store is not None and done_rows:
            store.add([keys[r][0] for r in done_rows], [keys[r][1] for r in done_rows], matrix)  # type: ignore[index]
    seconds = time.perf_counter() - start
    return PosterEmbeddings(
        files=names, matrix=out[ok], ok=ok, errors=errors, n_embedded=n_embedded, n_cached=n_cached, seconds=seconds, info=info
    )
