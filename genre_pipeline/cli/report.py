"""`genre-pipeline report [--json] [--home DIR]`: the published test-split figures of every model."""

from __future__ import annotations

import argparse
import json

from genre_pipeline.cli.options import add_home_argument, fail, published_generation


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="print the published test-split figures of every model")
    parser.add_argument("--json", action="store_true", help="print JSON (per model: F1s, precision, recall, split sizes, source)")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.models.evaluation import build_report, format_table  # here: sklearn costs ~1.5 s to import
    current = published_generation(args.home, "model evaluation")
    if current.unit("model_evaluation") is None:
        return fail(f"no model evaluation in generation {current.id} (materialize model_evaluation)")
    report = build_report(current.read("model_evaluation").records)
    report["home"] = str(current.root.parent.parent)
    report["generation"] = current.id
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_table(report))
    return 0
