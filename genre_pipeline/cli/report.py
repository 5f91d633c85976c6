"""`genre-pipeline report [--json] [--home DIR]`: the published test-split figures of every model."""

from __future__ import annotations

import argparse
import json

from genre_pipeline.cli.options import add_home_argument, fail, user_error


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="print the published test-split figures of every model")
    parser.add_argument("--json", action="store_true", help="print JSON (per model: F1s, precision, recall, split sizes, source)")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.models.evaluation import build_report, format_table  # here: sklearn costs ~1.5 s to import
    from genre_pipeline.storage.generations import GenerationStore, StorageError
    from genre_pipeline.storage.home import Home, HomeError

    home = Home.at(args.home)
    try:
        home.check_usable()
        current = GenerationStore(home).current()
        comparison = current.read("model_evaluation") if current is not None and current.unit("model_evaluation") else None
    except HomeError as exc:
        return user_error(str(exc))
    except StorageError as exc:
        return fail(str(exc))
    if comparison is None:
        return fail(f"no model evaluation in {home.root} (run the pipeline first: genre-pipeline run)")
    report = build_report(comparison.records)
    report["home"] = str(home.root)
    report["generation"] = current.id
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_table(report))
    return 0
