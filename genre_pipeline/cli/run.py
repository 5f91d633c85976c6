"""`genre-pipeline run`: materialize assets and partitions in-process through Dagster."""

from __future__ import annotations

import argparse
import sys

from genre_pipeline.cli.main import add_home_argument


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="materialize every selected asset and partition into the home")
    parser.add_argument("--source", choices=["demo", "snapshot", "tmdb"], default=None,
                        help="catalog source (default: snapshot if --snapshot is given, else demo)")
    parser.add_argument("--snapshot", default=None, help="snapshot directory (movies.jsonl[.gz], genres.json, posters/)")
    parser.add_argument("--years", default=None, help="release years A-B (default: every release-year partition)")
    parser.add_argument("--select", default=None, help="Dagster asset selection, e.g. 'movies+' or 'group:catalog'")
    parser.add_argument("--demo-movies", type=int, default=600, help="size of the demo catalog if it must be written")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def parse_years(text: str) -> tuple[int, int]:
    parts = text.split("-")
    try:
        if len(parts) == 1:
            return int(parts[0]), int(parts[0])
        if len(parts) == 2:
            return int(parts[0]), int(parts[1])
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"--years expects A-B (e.g. 2015-2016), got {text!r}")


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.definitions import build_definitions
    from genre_pipeline.defs.partitions import year_keys_between
    from genre_pipeline.defs.settings import PipelineSettings
    from genre_pipeline.storage.home import Home
    from genre_pipeline.cli.runner import RunFailed, format_summary, materialize

    home = Home.at(args.home).ensure()
    source = args.source or ("snapshot" if args.snapshot else "demo")
    try:
        settings = PipelineSettings(home=str(home.root), source=source, snapshot_dir=args.snapshot, demo_movies=args.demo_movies)
        year_keys = year_keys_between(*parse_years(args.years)) if args.years else None
    except (ValueError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"genre-pipeline run: source={source}{f' ({args.snapshot})' if args.snapshot else ''} home={home.root}")
    try:
        summary = materialize(build_definitions(settings), home, selection=args.select, year_keys=year_keys)
    except RunFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(format_summary(summary, home))
    return 0
