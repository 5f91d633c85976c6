"""`genre-pipeline predict`: ranked genres for one movie, or for many (``--input FILE.jsonl``), from the home's published models."""

from __future__ import annotations

import argparse
import json
import os
import sys

from genre_pipeline.cli.options import add_home_argument, fail, published_generation, user_error


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="rank genres for an overview and/or poster with the published models")
    parser.add_argument("--overview", default=None, help="the movie's overview text")
    parser.add_argument("--overview-file", default=None, metavar="FILE",
                        help="read the overview from FILE ('-' for standard input), for texts too long for an argument")
    parser.add_argument("--title", default=None, help="optional title (the TF-IDF models read title + overview)")
    parser.add_argument("--poster", default=None, help="a poster image file (for the poster and fusion models)")
    parser.add_argument("--model", default=None,
                        help="one model, or 'all' (default: fusion when a text and a poster are given, else every model the inputs allow)")
    parser.add_argument("--top", type=int, default=5, help="genres to show per model (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--input", default=None, metavar="FILE.jsonl",
                        help="many movies, one JSON object a line ('-' for standard input): TMDB movie records or "
                             "{title, overview, poster}; prints one JSON line per movie (the fields of --json); every model "
                             "is loaded once")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def read_overview(args: argparse.Namespace) -> str | None:
    """The overview from --overview or --overview-file (``-``: standard input); ``ValueError`` if blank."""
    if args.overview is not None and args.overview_file is not None:
        raise ValueError("give --overview or --overview-file, not both")
    if args.overview_file is not None:
        if args.overview_file == "-":
            text = sys.stdin.read()
        else:
            try:
                with open(args.overview_file, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read --overview-file {args.overview_file}: {exc}") from None
        if not text.strip():
            raise ValueError(f"the overview in {args.overview_file if args.overview_file != '-' else 'standard input'} is blank")
        return text
    if args.overview is not None and not args.overview.strip():
        raise ValueError("--overview is blank: give the movie's overview text")
    return args.overview


def read_movies(source: str):
    """The movies of ``source`` (a JSON-lines file, ``-``: standard input), each a MovieInput or the PredictionError of its line."""
    from genre_pipeline.models.predict import PredictionError, movie_input

    name = "standard input" if source == "-" else source
    handle = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115 (closed below)
    try:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{name}:{number}"
            try:
                yield movie_input(json.loads(line), name, number)
            except json.JSONDecodeError as exc:
                yield PredictionError(f"{where}: not a JSON object ({exc.msg} at column {exc.colno})")
            except PredictionError as exc:
                yield exc
    finally:
        if handle is not sys.stdin:
            handle.close()


def run_batch(args: argparse.Namespace) -> int:
    """``--input``: one JSON line per movie on standard output; exit 1 when some movie could not be classified."""
    from genre_pipeline.models.predict import PredictionError, predict_many
    from genre_pipeline.models.registry import MODEL_CODEC, load_model

    if args.overview is not None or args.overview_file is not None or args.title is not None or args.poster is not None:
        return user_error("--input reads every movie from the file: leave out --overview, --overview-file, --title and --poster")
    if args.input != "-" and not os.path.isfile(args.input):
        return user_error(f"--input {args.input}: no such file")
    current = published_generation(args.home, "published models")
    names = sorted(asset for (asset, partition), unit in current.units.items() if partition is None and unit.codec == MODEL_CODEC)
    problems: list[str] = []
    answered = failed = 0
    try:
        for movie, outcome in predict_many(lambda name: load_model(current.path(current.unit(name))), names,
                                           read_movies(args.input), model=args.model, problems=problems):
            if isinstance(movie, PredictionError):
                line = {"error": str(movie)}
            else:
                line = {"line": movie.line, "id": movie.id, "title": movie.title}
                line.update({"error": str(outcome)} if isinstance(outcome, PredictionError)
                            else {"predictions": [r.as_dict() for r in outcome]})
            answered += "predictions" in line
            failed += "error" in line
            print(json.dumps(line))
    except (OSError, UnicodeDecodeError) as exc:
        return fail(f"cannot read --input {args.input}: {exc}")
    except PredictionError as exc:  # e.g. an unknown --model: nothing can be answered
        return fail(str(exc))
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if failed:
        print(f"{failed} of {answered + failed} movies could not be classified (see their \"error\")", file=sys.stderr)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.models.base import PredictionError
    from genre_pipeline.models.predict import predict_genres
    from genre_pipeline.models.registry import MODEL_CODEC, load_model

    if args.input is not None:
        return run_batch(args)
    try:
        overview = read_overview(args)
        if args.title is not None and not args.title.strip():
            raise ValueError("--title is blank")
    except ValueError as exc:
        return user_error(str(exc))
    if not overview and not args.poster and not args.title:
        return user_error("give --overview TEXT (or --overview-file FILE) and/or --poster FILE")
    current = published_generation(args.home, "published models")
    names = [asset for (asset, partition), unit in current.units.items() if partition is None and unit.codec == MODEL_CODEC]
    problems: list[str] = []
    try:
        results = predict_genres(lambda name: load_model(current.path(current.unit(name))), sorted(names), overview,
                                 title=args.title, poster=args.poster, model=args.model, problems=problems)
    except PredictionError as exc:
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
        return fail(str(exc))
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
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
