"""`genre-pipeline report [--json] [--home DIR]`: the latest model figures of a home."""

from __future__ import annotations

import argparse
import json
import sys

from genre_pipeline.cli.options import add_home_argument

FIGURES = ("micro_f1", "macro_f1", "samples_f1", "precision", "recall")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="print the latest test-split figures of every model")
    parser.add_argument("--json", action="store_true", help="print JSON (per model: F1s, precision, recall, split sizes, source)")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def build_report(records: dict[str, dict]) -> dict:
    models = {}
    for name, record in records.items():
        entry = {"status": record.get("status", "trained"), "source": record.get("source")}
        if entry["status"] == "trained":
            entry.update({k: record[k] for k in FIGURES})
            entry.update(
                {
                    "decision_rule": record.get("decision_rule"),
                    "split_sizes": record.get("split_sizes"),
                    "test_movies_evaluated": record.get("n_evaluated"),
                    "coverage": record.get("coverage"),
                    "baseline": {k: record["baseline"][k] for k in ("k", *FIGURES) if k in record.get("baseline", {})},
                    "beats_baseline": record.get("beats_baseline"),
                    "decisions": record.get("decisions", {}),  # issue 5: validation thresholds and top-3, test split
                }
            )
        else:
            entry["reason"] = record.get("reason")
        if record.get("weights"):
            entry["weights"] = record["weights"]
        if record.get("method"):
            entry["method"] = record["method"]
        entry["evaluated_at"] = record.get("evaluated_at")
        models[name] = entry
    return {"models": models}


def format_table(report: dict) -> str:
    lines = [f"{'model':<20} {'micro F1':>8} {'macro F1':>8} {'samp. F1':>8} {'prec.':>6} {'recall':>6}  test  "
             f"{'thr mi/ma':>11} {'top3 mi/ma':>11}  note"]
    source = None
    for name, entry in report["models"].items():
        source = source or entry.get("source")
        if entry["status"] != "trained":
            lines.append(f"{name:<20} {'-':>8} {'-':>8} {'-':>8} {'-':>6} {'-':>6}  {'-':>4}  {'-':>11} {'-':>11}  skipped: {entry.get('reason')}")
            continue
        note = []
        if entry.get("coverage", 1.0) < 1.0:
            note.append(f"coverage {entry['coverage']:.0%}")
        if entry.get("weights", "").startswith("random"):
            note.append("RANDOM VGG16 weights")
        if entry.get("beats_baseline") is False:
            note.append("does not beat baseline")
        if entry.get("method"):
            note.append(f"fusion method: {entry['method']}")
        decisions = entry.get("decisions") or {}
        pair = lambda rule: (f"{decisions[rule]['micro_f1']:.3f}/{decisions[rule]['macro_f1']:.3f}"  # noqa: E731
                             if rule in decisions else "-")
        lines.append(
            f"{name:<20} {entry['micro_f1']:>8.3f} {entry['macro_f1']:>8.3f} {entry['samples_f1']:>8.3f} "
            f"{entry['precision']:>6.3f} {entry['recall']:>6.3f}  {entry['test_movies_evaluated']:>4}  "
            f"{pair('thresholds'):>11} {pair('top3'):>11}  {', '.join(note)}"
        )
    baselines = [e["baseline"] for e in report["models"].values() if e.get("baseline")]
    if baselines:
        b = baselines[0]
        lines.append(f"{'baseline (top ' + str(b['k']) + ')':<20} {b['micro_f1']:>8.3f} {b['macro_f1']:>8.3f} {b['samples_f1']:>8.3f} {b['precision']:>6.3f} {b['recall']:>6.3f}")
    sizes = next((e["split_sizes"] for e in report["models"].values() if e.get("split_sizes")), None)
    if sizes:
        lines.append(f"split: train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']} labelled movies")
    lines.append("micro/macro F1 under each model's own rule; thr = per-genre thresholds fitted on validation, top3 = tutorial rule")
    if source:
        lines.append(f"source: {source}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.defs.models.assets import read_evaluations
    from genre_pipeline.storage.home import Home

    home = Home.at(args.home)
    records = read_evaluations(home)
    if not records:
        print(f"error: no model evaluation in {home.root} (run the pipeline first: genre-pipeline run)", file=sys.stderr)
        return 1
    report = build_report(records)
    report["home"] = str(home.root)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        print(format_table(report))
    return 0
