"""The text path at scale: synthetic catalogs of 50,000 and 200,000 movies (1,000,000 when asked).

For each size: a text-only synthetic snapshot is written (``genre-pipeline demo-catalog
--movies N --no-posters``), then ONE ``genre-pipeline run --executor multiprocess`` of the whole
graph on a fresh home (no posters, so the poster steps are trivial) with the sentence encoder
and fine-tuning switched off (the configuration the 1-hour / 8 GB target is set for). Each
step runs in a process of its own, so a run's peak memory is its largest step's. Reported per step:
wall time (from the run's Dagster event log) and the peak resident memory of the run's
processes while the step ran (sampled from ``/proc`` every 0.2 s); per size: total wall,
overall peak RSS, and the per-movie cost ratio of each size to the smallest.

Sizes: ``$GENRE_PIPELINE_BENCH_SCALE`` (comma-separated, default ``50000,200000``; add
``1000000`` for the million-movie run). The machine's load average is recorded next to
every size: these timings are only comparable at a low load.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SIZES_ENV = "GENRE_PIPELINE_BENCH_SCALE"
DEFAULT_SIZES = (50_000, 200_000)
SAMPLE_SECONDS = 0.2
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def sizes_from_env(env: dict | None = None) -> list[int]:
    raw = (env if env is not None else os.environ).get(SIZES_ENV, "")
    if not raw.strip():
        return list(DEFAULT_SIZES)
    try:
        sizes = [int(part.replace("_", "")) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{SIZES_ENV} must be comma-separated movie counts, e.g. 50000,200000,1000000; got {raw!r}") from None
    if not sizes or min(sizes) < 1000:
        raise ValueError(f"{SIZES_ENV}: every size must be at least 1000 movies, got {raw!r}")
    return sizes


def tree_rss_bytes(root_pid: int, proc: Path = Path("/proc")) -> int:
    """Resident memory of ``root_pid`` and all its descendants (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: parent pid
        rss[pid] = int(fields[21]) * PAGE  # fields[21]: resident pages
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


class RssSampler:
    """Samples the resident memory of a process tree in a thread: ``samples`` of ``(monotonic time, bytes)``."""

    def __init__(self, pid: int, every: float = SAMPLE_SECONDS):
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), tree_rss_bytes(self.pid)))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = 0.0, end: float = float("inf")) -> int:
        inside = [b for t, b in self.samples if start <= t <= end]
        return max(inside, default=0)


def step_windows(dagster_home: Path) -> dict[str, tuple[float, float]]:
    """``step -> (start, end)`` wall-clock times of the latest run in ``dagster_home``."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    run = instance.get_runs(limit=1)[0]
    starts: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            windows[event.step_key] = (starts[event.step_key], record.timestamp)
    return windows


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def run_size(n_movies: int, work: Path, cli: list[str]) -> dict:
    """Write the catalog, run the graph once, return the per-step figures."""
    snapshot, home = work / f"catalog_{n_movies}", work / f"home_{n_movies}"
    load_before = load_average()
    start = time.monotonic()
    subprocess.run([*cli, "demo-catalog", str(snapshot), "--movies", str(n_movies), "--no-posters"], check=True,
                   stdout=subprocess.DEVNULL)
    write_seconds = time.monotonic() - start
    env = {**os.environ, "GENRE_PIPELINE_SENTENCE_ENCODER": "none", "GENRE_PIPELINE_FINETUNE": "off"}
    start = time.monotonic()
    with open(work / f"run_{n_movies}.log", "w") as log:
        process = subprocess.Popen([*cli, "run", "--source", "snapshot", "--snapshot", str(snapshot), "--home", str(home),
                                    "--executor", "multiprocess"],
                                   stdout=log, stderr=subprocess.STDOUT, env=env)
        with RssSampler(process.pid) as sampler:
            code = process.wait()
    total = time.monotonic() - start
    if code != 0:
        raise RuntimeError(f"the {n_movies}-movie run failed (exit {code}); see {work / f'run_{n_movies}.log'}")
    windows = step_windows(home / "dagster")
    steps = {step: {"seconds": round(end - begin, 1), "peak_rss_mb": round(sampler.peak(begin, end) / 2**20)}
             for step, (begin, end) in sorted(windows.items(), key=lambda item: item[1][0])}
    return {"movies": n_movies, "catalog_write_seconds": round(write_seconds, 1), "run_seconds": round(total, 1),
            "peak_rss_mb": round(sampler.peak() / 2**20), "load_average_before": load_before,
            "load_average_after": load_average(), "steps": steps}


def format_table(results: list[dict]) -> str:
    """Markdown: one row per step, wall time and peak RSS for each size."""
    names = list(dict.fromkeys(step for r in results for step in r["steps"]))
    head = "| step | " + " | ".join(f"{r['movies']:,} s | {r['movies']:,} peak MB" for r in results) + " |"
    rule = "|---|" + "---|---|" * len(results)
    rows = [f"| {name} | " + " | ".join(f"{r['steps'].get(name, {}).get('seconds', '-')} | "
                                        f"{r['steps'].get(name, {}).get('peak_rss_mb', '-')}" for r in results) + " |"
            for name in names]
    rows.append("| **whole run** | " + " | ".join(f"{r['run_seconds']} | {r['peak_rss_mb']}" for r in results) + " |")
    rows.append("| load average (before, after) | " + " | ".join(f"{r['load_average_before']}, {r['load_average_after']} | "
                                                            for r in results) + " |")
    return "\n".join([head, rule, *rows])


def run_scale_benchmarks(sizes: list[int] | None = None, keep: bool = False) -> dict:
    sizes = sorted(sizes or sizes_from_env())
    cli = [sys.executable, "-m", "genre_pipeline.cli.main"]
    work = Path(tempfile.mkdtemp(prefix="genre_scale_"))
    results = [run_size(n, work, cli) for n in sizes]  # a failed run leaves its folder (and log) behind
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    smallest = results[0]
    ratios = {f"{r['movies']}/{smallest['movies']}": round((r["run_seconds"] / r["movies"]) / (smallest["run_seconds"] / smallest["movies"]), 3)
              for r in results[1:]}
    table = format_table(results)
    print(table, flush=True)
    return {"sizes": results, "per_movie_cost_ratio": ratios, "table": table,
            "config": "text-only synthetic catalog (demo-catalog --no-posters), whole graph in one run "
                      "(--executor multiprocess), sentence encoder and fine-tuning off"}
