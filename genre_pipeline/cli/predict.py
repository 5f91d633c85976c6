"""`genre-pipeline predict --overview TEXT [--poster FILE] [--model NAME]`: ranked genres."""

from __future__ import annotations

import argparse
import json
import sys

from genre_pipeline.cli.options import add_home_argument


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="rank genres for an overview and/or poster with the latest models")
    parser.add_argument("--overview", default=None, help="the movie's overview text")
    parser.add_argument("--title", default=None, help="optional title (the TF-IDF model reads title + overview)")
    parser.add_argument("--poster", default=None, help="a poster image file (for the poster model)")
    parser.add_argument("--model", default=None,
                        help="one model, or 'all' (default: fusion when --overview and --poster are both given, else every model the inputs allow)")
    parser.add_argument("--top", type=int, default=5, help="genres to show per model (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.storage.home import Home
    from genre_pipeline.models.predict import PredictionError, predict_genres

    if not args.overview and not args.poster and not args.title:
        print("error: give --overview TEXT and/or --poster FILE", file=sys.stderr)
        return 2
    home = Home.at(args.home)
    try:
        results = predict_genres(home.models_dir, args.overview, poster=args.poster, model=args.model, title=args.title)
    except PredictionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"predictions": [r.as_dict() for r in results]}, indent=2))
        return 0
    for result in results:
        print(f"{result.model} ({result.input_kind}; predicted: {', '.join(result.predicted) or 'none'}; "
              f"{result.decision_rule}; top-3: {', '.join(result.top3)})")
        for genre, probability in result.ranked[: max(1, args.top)]:
            print(f"  {probability:6.3f}  {genre}")
        for note in result.notes:
            print(f"  note: {note}")
    return 0
