"""`genre-pipeline report [--json] [--home DIR]`: the latest model figures of a home."""

from __future__ import annotations

import argparse
import json
import sys

from genre_pipeline.cli.options import add_home_argument


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="print the latest test-split figures of every model")
    parser.add_argument("--json", action="store_true", help="print JSON (per model: F1s, precision, recall, split sizes, source)")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.defs.models.assets import read_evaluations
    from genre_pipeline.models.evaluation import build_report, format_table  # here: sklearn costs ~1.5 s to import
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
