"""Model quality on real data, measured by running the real pipeline.

Usage: ``python -m genre_pipeline.bench quality`` (part of ``make bench``). For each real
snapshot in ``../shared/data`` (``tmdb5000``: 4,803 TMDB movies, no posters;
``posters600``: 600 movies with real posters; each one that is absent is reported as
skipped) the benchmark launches ``genre-pipeline run --source snapshot`` into its own home
(``.bench/homes/<snapshot>``, kept so embedding stores make reruns faster) and reads what
the run published: every model's test-split figures from ``model_evaluation`` (the same
records ``genre-pipeline report`` prints), so a benchmark figure is a pipeline figure.

Checked against the reference figures of the literature (a tuned TF-IDF linear model
~0.59 / 0.48 micro / macro F1 on a TMDB 5000 test split; the tutorial's counts + naive Bayes
~0.54 / 0.41) and the rule that fusion is never worse than the best single-modality model
under any of its decision rules. Poster features come from VGG16 with **random** weights
(seeded) unless ImageNet weights are in the torch hub cache. ``text_finetuned`` is trained
(``GENRE_PIPELINE_FINETUNE=on`` unless set otherwise: on CPU, about 11 minutes for tmdb5000
with native bf16), so the figures are those of the full model set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("GENRE_PIPELINE_SHARED_DATA", REPO.parent / "shared" / "data"))
HOMES = Path(os.environ.get("GENRE_PIPELINE_BENCH_HOMES", REPO / ".bench" / "homes"))
SNAPSHOTS = ("tmdb5000", "posters600")
REFERENCE = {
    "tuned_tfidf_linear": {"micro_f1": 0.59, "macro_f1": 0.48},
    "tutorial_counts_naive_bayes": {"micro_f1": 0.54, "macro_f1": 0.41},
}
SINGLE_MODALITY = ("svc_tfidf", "naive_bayes_counts", "mlp_word2vec", "mlp_poster", "text_finetuned", "text_plus")


def materialize(snapshot: Path, home: Path, env: dict | None = None) -> float:
    """Run the whole pipeline on ``snapshot`` into ``home`` with the real command; returns seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "genre_pipeline.cli", "run", "--source", "snapshot", "--snapshot", str(snapshot),
         "--home", str(home), "--allow-shrink"],
        capture_output=True, text=True,
        env={**os.environ, "GENRE_PIPELINE_VGG16_WEIGHTS": "random",
             "GENRE_PIPELINE_FINETUNE": os.environ.get("GENRE_PIPELINE_FINETUNE", "on"), **(env or {})},
    )
    if done.returncode != 0:
        raise RuntimeError(f"pipeline run on {snapshot} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def published_records(home: Path) -> dict[str, dict]:
    from genre_pipeline.storage.generations import GenerationStore
    from genre_pipeline.storage.home import Home

    return GenerationStore(Home.at(home)).current().read("model_evaluation").records


def model_figures(record: dict) -> dict:
    if record.get("status") != "trained":
        return {"skipped": record.get("reason")}
    out = {k: round(record[k], 4) for k in ("micro_f1", "macro_f1", "samples_f1", "precision", "recall")}
    out["decision_rule"] = record["decision_rule"]
    out["test_movies"] = record["n_evaluated"]
    out["coverage"] = round(record["coverage"], 4)
    for rule, figures in record.get("decisions", {}).items():
        out[f"{rule}_micro_macro"] = [figures["micro_f1"], figures["macro_f1"]]
    return out


def best_single(records: dict[str, dict], metric: str) -> tuple[str, float]:
    """The best figure any single-modality model reaches under any of its decision rules."""
    best = ("none", 0.0)
    for name in SINGLE_MODALITY:
        record = records.get(name, {})
        if record.get("status") != "trained":
            continue
        values = [record[metric], *(d[metric] for d in record.get("decisions", {}).values())]
        if max(values) > best[1]:
            best = (name, max(values))
    return best


def measure(name: str) -> dict:
    snapshot = SHARED_DATA / name
    if not snapshot.is_dir():
        return {"skipped": f"no snapshot at {snapshot}"}
    home = HOMES / name
    seconds = materialize(snapshot, home)
    records = published_records(home)
    models = {model: model_figures(record) for model, record in records.items()}
    fusion = records.get("fusion", {})
    summary = {}
    if fusion.get("status") == "trained":
        fusion_figures = fusion.get("decisions", {}).get("thresholds", fusion)
        for metric in ("micro_f1", "macro_f1"):
            holder, value = best_single(records, metric)
            summary[f"fusion_{metric}"] = fusion_figures[metric]
            summary[f"best_single_{metric}"] = {"model": holder, "value": value}
            # decision records keep 4 decimals: compare at that precision
            summary[f"fusion_not_worse_{metric}"] = bool(round(fusion_figures[metric], 4) >= round(value, 4))
    baseline = next((r["baseline"] for r in records.values() if r.get("status") == "trained"), {})
    return {"snapshot": str(snapshot), "run_seconds": round(seconds, 1), "models": models,
            "most_frequent_baseline": {k: round(v, 4) if isinstance(v, float) else v for k, v in baseline.items()},
            "reference": REFERENCE, "summary": summary}


def run_quality_benchmarks() -> dict:
    return {name: measure(name) for name in SNAPSHOTS}
