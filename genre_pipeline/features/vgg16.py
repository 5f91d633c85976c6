"""VGG16 poster embeddings (torchvision), batched, with a per-poster persistent store.

Tutorial step: "Section 4 — visual features from posters". The tutorial loads Keras'
``VGG16(weights='imagenet', include_top=False)`` and, one poster at a time, resizes it to
224x224, runs ``model.predict`` on a batch of one and flattens the ``block5_pool`` output
into 25,088 float64 values, recomputing every poster on every run.

What this module does instead:

* **Weights** (:class:`VGG16Config.weights`): ``"imagenet"`` loads torchvision's
  ``VGG16_Weights.IMAGENET1K_V1`` file from ``weights_file`` or the standard torch hub cache
  (``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth``); only the convolutional part is read
  (memory-mapped), so the 500 MB classifier never sits in memory. If the file is absent a
  single :class:`WeightsNotFoundError` names the path and how to obtain it: nothing is
  downloaded. ``"random"`` builds the same network with torchvision's initialisation scheme
  from a seeded generator: deterministic, needs no file, and every output says
  ``weights=random`` (the offline demo and the tests use it; its features are texture and
  colour statistics, not ImageNet semantics).
* **Feature layer** (:class:`VGG16Config.layer`): default ``"gap"``: the tutorial's
  ``block5_pool`` output averaged over its spatial grid, 512 float32 values per poster.
  Why: it is the same layer, but (1) independent of the input resolution, so the demo can run
  at 112 px and real posters at 224 px with the same downstream model shapes; (2) 49x smaller
  (2 KB instead of the tutorial's 196 KB of float64 per poster), so thousands of posters fit
  in memory and on disk; (3) a 512-input MLP has ~50x fewer first-layer weights than a
  25,088-input one, which matters with a few thousand training posters; (4) averaging
  makes the feature insensitive to where on the poster a motif sits. ``"pool5"`` keeps the
  tutorial's flattened layer (``512 * (size // 32) ** 2`` values; 25,088 at 224 px), float32.
* **Inference**: batches under ``torch.inference_mode``, channels-last memory format, bf16
  autocast only where the CPU has native bf16 (AVX512-BF16 / AMX; emulated bf16 is slower
  than fp32) or on CUDA, CUDA when present, decoding of the next batch overlapped with the
  current one in a thread, torch threads set to the CPUs this process may use.
* **Store** (:class:`EmbeddingStore`): embeddings are kept per poster, keyed by poster file
  name *and* the sha256 of its bytes, in a folder per configuration fingerprint (weights,
  layer, input size, precision). A re-run embeds only new or changed posters and, when
  there is nothing new, does not even load the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from genre_pipeline.storage.atomic import atomic_write, atomic_write_json

__all__ = [
    "FEATURE_LAYERS",
    "IMAGENET_FILENAME",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "EmbeddingStore",
    "PosterEmbedder",
    "PosterEmbeddings",
    "PosterError",
    "VGG16Config",
    "WeightsNotFoundError",
    "build_vgg16_features",
    "configure_torch_threads",
    "default_weights_path",
    "embed_posters",
    "embedding_dim",
    "file_sha256",
    "load_poster_array",
]

FEATURE_LAYERS = ("gap", "pool5")
IMAGENET_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"  # torchvision VGG16_Weights.IMAGENET1K_V1
IMAGENET_FILENAME = "vgg16-397923af.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class WeightsNotFoundError(FileNotFoundError):
    """The ImageNet weights file is not on disk; the message says where it was looked for."""


class PosterError(ValueError):
    """A poster file cannot be read as an image."""


@dataclass(frozen=True)
class VGG16Config:
    """How posters are embedded. Everything that changes the numbers is in the fingerprint."""

    weights: str = "imagenet"  # "imagenet" | "random"
    weights_file: str | None = None  # imagenet: explicit file; default: torch hub cache
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
            raise ValueError("batch_size must be >= 1")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")

    def weights_label(self) -> str:
        if self.weights == "random":
            return f"random (seed {self.seed}; NOT ImageNet features)"
        return f"imagenet ({Path(self.weights_file).name if self.weights_file else IMAGENET_FILENAME})"


def embedding_dim(config: VGG16Config) -> int:
    """Values per poster for a configuration."""
    if config.layer == "gap":
        return 512
    side = config.image_size // 32
    return 512 * side * side


def default_weights_path() -> Path:
    """Where torchvision caches VGG16 ImageNet weights: ``torch.hub.get_dir()/checkpoints/``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_FILENAME


def imagenet_weights_path(config: VGG16Config) -> Path:
    """The ImageNet weights file for ``config``; :class:`WeightsNotFoundError` if it is absent."""
    path = Path(config.weights_file).expanduser() if config.weights_file else default_weights_path()
    if not path.is_file():
        raise WeightsNotFoundError(
            f"VGG16 ImageNet weights not found at {path}. This project never downloads them. "
            f"On a machine with internet, fetch {IMAGENET_URL} (torchvision VGG16_Weights.IMAGENET1K_V1, 528 MB; "
            "e.g. python -c \"import torchvision; torchvision.models.vgg16(weights='IMAGENET1K_V1')\" fills the torch hub cache) "
            f"and copy it to {path}, or point the weights file setting at your copy; "
            "or use weights='random' (seeded, offline, not ImageNet features)."
        )
    return path


def _native_bf16_cpu() -> bool:
    import torch

    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(torch.cpu, probe, None)
        try:
            if fn is not None and fn():
                return True
        except Exception:  # noqa: BLE001 - a probe that fails means "not known to be supported"
            pass
    return False


def resolve_device(config: VGG16Config) -> str:
    import torch

    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if config.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' requested but torch sees no CUDA device")
    return config.device


def resolve_precision(config: VGG16Config, device: str) -> str:
    """``"bf16"`` or ``"fp32"``: auto picks bf16 on CUDA with bf16 and on CPUs with native bf16."""
    import torch

    if config.precision != "auto":
        return config.precision
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if _native_bf16_cpu() else "fp32"


def fingerprint(config: VGG16Config, precision: str) -> str:
    """Identifies every setting that changes the embedding values (not batch size or device)."""
    if config.weights == "random":
        weights = f"random:{config.seed}"
    else:
        path = Path(config.weights_file).expanduser() if config.weights_file else default_weights_path()
        size = path.stat().st_size if path.is_file() else -1
        weights = f"imagenet:{path.name}:{size}"
    payload = {
        "v": 1,
        "weights": weights,
        "layer": config.layer,
        "image_size": config.image_size,
        "precision": precision,
        "resize": "square-bilinear",
        "normalize": [IMAGENET_MEAN, IMAGENET_STD],
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


def build_vgg16_features(config: VGG16Config):
    """VGG16's convolutional part (through ``pool5``) in eval mode, fp32, NCHW, on the CPU."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    channels = 3
    for item in _VGG16_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(item)
    module = nn.Sequential(*layers)
    if config.weights == "random":
        # torchvision's VGG initialisation (kaiming normal, fan_out, relu; zero bias) from a seeded generator.
        generator = torch.Generator().manual_seed(int(config.seed))
        with torch.no_grad():
            for layer in module:
                if isinstance(layer, nn.Conv2d):
                    nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu", generator=generator)
                    nn.init.zeros_(layer.bias)
    else:
        path = imagenet_weights_path(config)
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        features = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        if not features:
            raise ValueError(f"{path} holds no VGG16 'features.*' tensors; is it torchvision's vgg16 checkpoint?")
        module.load_state_dict(features)
        del state, features
    return module.eval().requires_grad_(False)


def load_poster_array(path: str | os.PathLike, size: int) -> np.ndarray:
    """A poster as a ``(size, size, 3)`` uint8 RGB array, resized like the tutorial (square, bilinear)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: let libjpeg decode at a reduced scale when it can
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PosterError(f"cannot read poster {path}: {exc}") from exc


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class PosterEmbedder:
    """A loaded VGG16 feature extractor with the batched, optimised forward pass."""

    def __init__(self, config: VGG16Config):
        import torch

        self.config = config
        self.threads = configure_torch_threads(config.num_threads)
        self.device = resolve_device(config)
        self.precision = resolve_precision(config, self.device)
        self.fingerprint = fingerprint(config, self.precision)
        module = build_vgg16_features(config).to(self.device)
        if config.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255.0

    def describe(self) -> dict:
        return {
            "weights": self.config.weights_label(),
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
        with torch.inference_mode():
            # NHWC bytes viewed as NCHW: already channels-last in memory, no copy.
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2).float()
            x = (x - self._mean) / self._std
            x = x.contiguous(memory_format=torch.channels_last if self.config.channels_last else torch.contiguous_format)
            use_bf16 = self.precision == "bf16"
            with torch.autocast(device_type=self.device, dtype=torch.bfloat16, enabled=use_bf16):
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

    def embed_files(self, paths: Sequence[str | os.PathLike]) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        """Embed poster files: ``(matrix for readable ones, ok mask, {index: error})``."""
        paths = [Path(p) for p in paths]
        dim = embedding_dim(self.config)
        out = np.zeros((len(paths), dim), dtype=np.float32)
        ok = np.zeros(len(paths), dtype=bool)
        errors: dict[int, str] = {}
        for indices, batch, batch_errors in self._decoded_batches(paths):
            errors.update(batch_errors)
            if batch is not None:
                out[indices] = self.embed_arrays(batch)
                ok[indices] = True
        return out[ok], ok, errors


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


def embed_posters(
    paths: Sequence[str | os.PathLike],
    config: VGG16Config,
    store_dir: str | os.PathLike | None = None,
    embedder: PosterEmbedder | None = None,
) -> PosterEmbeddings:
    """Embed poster files, reusing stored embeddings of unchanged posters.

    Keys are (file name, sha256 of the bytes): a poster replaced under the same name is
    embedded again. Unreadable posters are reported in ``errors`` (and not stored), never
    raised. The network is loaded only when at least one poster needs embedding.
    """
    import torch

    paths = [Path(p) for p in paths]
    names = [p.name for p in paths]
    dim = embedding_dim(config)
    device = resolve_device(config)
    precision = resolve_precision(config, device)
    fp = fingerprint(config, precision)
    info = {
        "weights": config.weights_label(),
        "layer": config.layer,
        "dim": dim,
        "image_size": config.image_size,
        "precision": precision,
        "device": device,
        "fingerprint": fp,
        "torch": torch.__version__,
    }
    store = EmbeddingStore(store_dir, fp, {k: v for k, v in asdict(config).items()} | {"precision_used": precision}) if store_dir else None
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
        matrix, done, batch_errors = embedder.embed_files([paths[i] for i in first])
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
