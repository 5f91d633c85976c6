"""`make bench`: every benchmark, each a ratio against a baseline run in the same process.

Usage: python -m genre_pipeline.bench [NAME ...] [--out FILE]
Writes the figures as JSON (default .bench/results.json) and prints them. Benchmarks that
need ../shared/data say so and skip when it is absent. Every benchmark runs the pipeline's own
code: the quality benchmark launches real runs of the code location and reads what they published.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

# name -> (module, function returning a dict of figures)
BENCHMARKS = {
    "scrape": ("genre_pipeline.bench.scrape_bench", "run_scrape_benchmarks"),
    "vgg16": ("genre_pipeline.bench.vgg16_bench", "run_vgg16_benchmarks"),
    "quality": ("genre_pipeline.bench.quality_bench", "run_quality_benchmarks"),
    "scale": ("genre_pipeline.bench.scale_bench", "run_scale_benchmarks"),
    "predict": ("genre_pipeline.bench.predict_bench", "run_predict_benchmarks"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genre_pipeline.bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--out", default=".bench/results.json")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    results: dict[str, object] = {}
    failed = False
    for name in args.names or list(BENCHMARKS):
        module_name, function_name = BENCHMARKS[name]
        print(f"== {name}", flush=True)
        start = time.monotonic()
        try:
            function = getattr(importlib.import_module(module_name), function_name)
            figures = function()
        except Exception:  # report and go on with the other benchmarks  # noqa: BLE001
            traceback.print_exc()
            figures = {"error": traceback.format_exc(limit=3)}
            failed = True
        figures = dict(figures or {})
        figures["bench_seconds"] = round(time.monotonic() - start, 1)
        results[name] = figures
        print(json.dumps(figures, indent=2, default=str), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results written to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
