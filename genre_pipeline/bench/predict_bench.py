"""``genre-pipeline predict``: one cold call (a new process) and the batch mode's movies per second.

The home: ``$GENRE_PIPELINE_BENCH_HOME`` when set (e.g. a home trained on ../shared/data/tmdb5000),
else a demo home trained here (``genre-pipeline run --source demo``, a few minutes). Cold:
the median of three ``predict --overview ... --json`` processes, each timed from start to
exit (imports, model loading, the answer), with the default models. Batch: ``predict --input``
over ``BATCH_MOVIES`` movies (the home's own titles and overviews when it has them), wall
time of the process and movies per second with and without its start-up (the cold call).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOME_ENV = "GENRE_PIPELINE_BENCH_HOME"
BATCH_MOVIES = 500
OVERVIEW = ("A retired hitman is pulled back into the criminal underworld when the mob kills his dog; "
            "a relentless night of revenge across the city follows.")


def timed(command: list[str], stdin_file: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    with open(stdin_file, "rb") if stdin_file else open(os.devnull, "rb") as stdin:
        done = subprocess.run(command, stdin=stdin, capture_output=True, text=True)
    return time.monotonic() - start, done


def batch_file(home: Path, target: Path, n: int) -> int:
    """Write ``n`` movies (the home's labelled titles + overviews, repeated if needed) as JSON lines."""
    from genre_pipeline.storage.generations import GenerationStore
    from genre_pipeline.storage.home import Home

    table = GenerationStore(Home.at(home)).current().read("genre_labels").table
    rows = [{"id": int(i), "title": t, "overview": o} for i, t, o in zip(table["id"], table["title"], table["overview"]) if o]
    with open(target, "w", encoding="utf-8") as out:
        for k in range(n):
            out.write(json.dumps(rows[k % len(rows)]) + "\n")
    return n


def run_predict_benchmarks(home: str | os.PathLike | None = None) -> dict:
    cli = [sys.executable, "-m", "genre_pipeline.cli.main"]
    work = Path(tempfile.mkdtemp(prefix="genre_predict_bench_"))
    try:
        home = Path(home or os.environ.get(HOME_ENV) or work / "demo_home")
        trained_here = not (home / "current").exists()
        if trained_here:
            subprocess.run([*cli, "run", "--source", "demo", "--home", str(home)], check=True, capture_output=True)
        load = round(os.getloadavg()[0], 2)
        single = [*cli, "predict", "--overview", OVERVIEW, "--title", "John Wick", "--json", "--home", str(home)]
        colds = []
        for _ in range(3):
            seconds, done = timed(single)
            if done.returncode != 0:
                raise RuntimeError(f"predict failed: {done.stderr.strip()}")
            colds.append(seconds)
        answered = [p["model"] for p in json.loads(done.stdout)["predictions"]]
        movies = batch_file(home, work / "movies.jsonl", BATCH_MOVIES)
        seconds, done = timed([*cli, "predict", "--input", str(work / "movies.jsonl"), "--home", str(home)])
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0 or len(lines) != movies:
            raise RuntimeError(f"batch predict failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        cold = statistics.median(colds)
        return {
            "home": str(home) if not trained_here else "demo home trained here",
            "models_answering": answered,
            "cold_single_seconds": round(cold, 2),
            "cold_single_runs": [round(c, 2) for c in colds],
            "batch_movies": movies,
            "batch_seconds": round(seconds, 2),
            "batch_movies_per_second": round(movies / seconds, 1),
            "batch_movies_per_second_after_startup": round(movies / max(1e-6, seconds - cold), 1),
            "load_average": load,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
