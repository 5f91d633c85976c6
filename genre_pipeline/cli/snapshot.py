"""`genre-pipeline snapshot export DIR`: write the home's catalog in the snapshot format.

Any live scrape becomes replayable offline: ``genre-pipeline run --snapshot DIR`` (or the
fake TMDB in the tests) reads what this writes.
"""

from __future__ import annotations

import argparse
import sys

from genre_pipeline.cli.options import add_home_argument


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("snapshot", help="snapshot tools (export the current catalog)")
    actions = parser.add_subparsers(dest="snapshot_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write the current catalog (and posters) to DIR in the snapshot format")
    export.add_argument("dir", help="target directory (created; must be empty unless --force)")
    export.add_argument("--no-posters", action="store_true", help="records and genres only")
    export.add_argument("--force", action="store_true", help="replace DIR if it already holds files")
    add_home_argument(export)
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from genre_pipeline.storage.home import Home
    from genre_pipeline.ingestion.records import SourceError
    from genre_pipeline.ingestion.export import export_snapshot

    home = Home.at(args.home)
    try:
        summary = export_snapshot(home, args.dir, posters=not args.no_posters, overwrite=args.force)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    posters = "" if args.no_posters else f", {summary.posters} posters ({summary.posters_missing} not on disk)"
    print(f"exported {summary.movies} movies{posters} to {summary.directory}")
    return 0
