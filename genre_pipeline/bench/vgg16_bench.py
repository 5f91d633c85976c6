"""VGG16 poster-embedding benchmarks: batched pipeline vs the tutorial's loop, and peak memory.

Throughput: the tutorial embeds posters one at a time (load, resize to 224, ``predict`` on a
batch of one, flatten, float64). :func:`tutorial_loop` reproduces that loop with torchvision's
VGG16 (NCHW, fp32, ``no_grad``, batch of one) and is timed against :class:`PosterEmbedder` (batches,
channels-last, ``inference_mode``, decode overlapped, bf16 where native) on the *same*
posters with the *same* weights; rounds alternate loop / batched so machine load hits both
alike, and the best round of each is compared. The outputs are checked to agree, which
proves the weights and preprocessing are the same.

Memory: a child process embeds ``memory_posters`` posters (cycling through the available
ones under distinct names, no store) and reports its peak resident set size.

Posters: ``../shared/data/posters600/posters`` when present, else synthetic demo posters.
Weights: ImageNet if the torchvision file is in the torch hub cache, else seeded random
(speed and memory do not depend on the weight values; the figures say which was used).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("GENRE_PIPELINE_SHARED_DATA", REPO.parent / "shared" / "data"))


def _poster_paths(limit: int | None = None) -> tuple[list[Path], str]:
    folder = SHARED_DATA / "posters600" / "posters"
    paths = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if paths:
        return (paths[:limit] if limit else paths), str(folder)
    from genre_pipeline.demo.generator import write_demo_catalog

    target = Path(tempfile.mkdtemp(prefix="vgg16-bench-"))
    write_demo_catalog(target, n_movies=max(limit or 64, 64), seed=0)
    paths = sorted((target / "posters").glob("*.jpg"))
    return (paths[:limit] if limit else paths), f"synthetic demo posters ({target})"


def _weights_config(**overrides):
    from genre_pipeline.features.vgg16 import VGG16Config, default_weights_path

    weights = "imagenet" if default_weights_path().is_file() else "random"
    return VGG16Config(weights=weights, **overrides)


def tutorial_loop(paths, module, image_size: int) -> np.ndarray:
    """The tutorial's per-poster loop: one image at a time, NCHW fp32, flatten pool5, float64."""
    import torch

    from torchvision.transforms.v2 import functional as F

    from genre_pipeline.features.vgg16 import imagenet_preset, load_poster_array

    preset = imagenet_preset()
    rows = []
    for path in paths:
        image = load_poster_array(path, image_size)
        x = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).contiguous()
        x = F.normalize(F.to_dtype(x, torch.float32, scale=True), mean=preset.mean, std=preset.std)
        with torch.no_grad():
            out = module(x)
        rows.append(out.mean(dim=(2, 3)).numpy().astype(np.float64)[0])
    return np.vstack(rows)


def throughput(n_posters: int = 48, image_size: int = 224, batch_size: int = 16, rounds: int = 2) -> dict:
    """Posters/second of the tutorial loop and of the batched pipeline, same posters and weights."""
    from genre_pipeline.features.vgg16 import PosterEmbedder, build_vgg16_features, configure_torch_threads, cpu_has_native_bf16

    paths, source = _poster_paths(n_posters)
    config = _weights_config(image_size=image_size, batch_size=batch_size, layer="gap")
    threads = configure_torch_threads(None)
    loop_module = build_vgg16_features(config)  # NCHW fp32, as the tutorial ran it
    embedder = PosterEmbedder(config)
    # warm-up (allocator, oneDNN primitive caches) for both arms
    tutorial_loop(paths[:2], loop_module, image_size)
    embedder.embed_files(paths[: min(len(paths), batch_size)])
    loop_times, batched_times = [], []
    loop_out = batched_out = None
    for _ in range(rounds):
        start = time.perf_counter()
        loop_out = tutorial_loop(paths, loop_module, image_size)
        loop_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        batched_out, ok, _ = embedder.embed_files(paths)
        batched_times.append(time.perf_counter() - start)
    scale = float(np.abs(loop_out).max()) or 1.0
    max_rel_diff = float(np.abs(loop_out[: len(batched_out)] - batched_out).max() / scale)
    loop_best, batched_best = min(loop_times), min(batched_times)
    return {
        "posters": len(paths),
        "poster_source": source,
        "weights": config.weights_label(),
        "image_size": image_size,
        "batch_size": batch_size,
        "precision": embedder.precision,
        "cpu_native_bf16": cpu_has_native_bf16(),
        "device": embedder.device,
        "torch_threads": threads,
        "loop_posters_per_s": round(len(paths) / loop_best, 3),
        "batched_posters_per_s": round(len(paths) / batched_best, 3),
        "batched_over_loop": round(loop_best / batched_best, 2),
        "goal_batched_over_loop": 2.5,
        "loop_seconds_rounds": [round(t, 2) for t in loop_times],
        "batched_seconds_rounds": [round(t, 2) for t in batched_times],
        "outputs_max_relative_difference": max_rel_diff,
    }


def _peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``), which, unlike ``ru_maxrss``, does not
    carry over the parent's peak across ``exec``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource  # not Linux: best effort

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _memory_child(n_posters: int, image_size: int, batch_size: int) -> None:
    """Run in a fresh process: embed ``n_posters`` posters and print peak RSS as JSON."""
    from genre_pipeline.features.vgg16 import embed_posters

    posters, source = _poster_paths(None)
    with tempfile.TemporaryDirectory() as tmp:
        # Distinct names so every one of the n posters is embedded (links: no copies on disk).
        paths = []
        for i in range(n_posters):
            link = Path(tmp) / f"p{i:05d}-{posters[i % len(posters)].name}"
            os.symlink(posters[i % len(posters)], link)
            paths.append(link)
        before = _peak_rss_mb()
        start = time.perf_counter()
        result = embed_posters(paths, _weights_config(image_size=image_size, batch_size=batch_size), store_dir=None)
        seconds = time.perf_counter() - start
    print(json.dumps({
        "posters": int(result.ok.sum()), "poster_source": source, "image_size": image_size, "batch_size": batch_size,
        "embedding_shape": list(result.matrix.shape), "seconds": round(seconds, 1),
        "peak_rss_mb_before_embedding": before, "peak_rss_mb": _peak_rss_mb(),
        "weights": result.info["weights"], "precision": result.info["precision"],
    }))


def peak_memory(n_posters: int = 2000, image_size: int = 224, batch_size: int = 16) -> dict:
    code = (
        "from genre_pipeline.bench.vgg16_bench import _memory_child; "
        f"_memory_child({int(n_posters)}, {int(image_size)}, {int(batch_size)})"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory benchmark child failed: {proc.stderr[-2000:]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["goal_peak_rss_mb"] = 2048
    return figures


def run_vgg16_benchmarks() -> dict:
    """Entry point of ``make bench``. Sizes can be changed with GENRE_PIPELINE_BENCH_* variables."""
    env = os.environ.get
    # Memory first, in a child process, before this process holds any network.
    memory = peak_memory(
        n_posters=int(env("GENRE_PIPELINE_BENCH_MEMORY_POSTERS", "2000")),
        image_size=int(env("GENRE_PIPELINE_BENCH_MEMORY_SIZE", "224")),
    )
    speed = throughput(
        n_posters=int(env("GENRE_PIPELINE_BENCH_VGG_POSTERS", "48")),
        image_size=224,
        batch_size=int(env("GENRE_PIPELINE_BENCH_VGG_BATCH", "16")),
        rounds=int(env("GENRE_PIPELINE_BENCH_VGG_ROUNDS", "3")),
    )
    return {"throughput_224": speed, "peak_memory": memory}


if __name__ == "__main__":
    print(json.dumps(run_vgg16_benchmarks(), indent=2))
