"""`genre-pipeline snapshot export DIR`: write the home's published catalog in the snapshot format.

Any live scrape becomes replayable offline: ``genre-pipeline run --snapshot DIR`` (or the
TMDB replay server) reads what this writes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genre_pipeline.cli.options import add_home_argument, fail, user_error


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("snapshot", help="snapshot tools (export the current catalog)")
    actions = parser.add_subparsers(dest="snapshot_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write the current catalog (and posters) to DIR in the snapshot format")
    export.add_argument("dir", help="target directory (created; must be empty, or hold a previous export with --force)")
    export.add_argument("--no-posters", action="store_true", help="records and genres only")
    export.add_argument("--force", action="store_true", help="replace a previous export in DIR")
    export.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait up to SECONDS while another writer holds the home (default: fail at once)")
    add_home_argument(export)
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    import pandas as pd

    from genre_pipeline.catalog import dedup
    from genre_pipeline.catalog.posters import PosterIndex
    from genre_pipeline.ingestion.export import ExportRefused, catalog_genres, check_target, export_snapshot
    from genre_pipeline.ingestion.records import SourceError
    from genre_pipeline.storage.generations import GenerationStore, StorageError
    from genre_pipeline.storage.home import Home, HomeError
    from genre_pipeline.storage.lock import HomeBusy, HomeLock

    home = Home.at(args.home)
    target = Path(args.dir).expanduser().resolve()
    try:
        home.check_usable()
        check_target(target, home.root, args.force)
    except (ExportRefused, HomeError) as exc:
        return user_error(str(exc))
    try:
        with HomeLock(home.lock_path, command="snapshot export", timeout=args.wait):
            current = GenerationStore(home).current()
            if current is None:
                return fail(f"{home.root} has no published catalog yet: run the pipeline first")
            raw = [f for f in current.read_partitions("raw_movie_records").values() if len(f)]
            changes = [f for f in current.read_partitions("movie_changes").values() if len(f)]
            if not raw:
                return fail(f"{home.root} has no raw movie records yet: run the pipeline first")
            latest = dedup.latest_records(pd.concat([*raw, *changes], ignore_index=True)).sort_values("id")
            posters = None
            if not args.no_posters and current.partitions("movie_posters"):
                index = PosterIndex.combine(current.read_partitions("movie_posters"))
                usable = index.usable()
                posters = {name: index.path(name) for name in usable["poster_file"]}
            elif not args.no_posters:
                posters = {}
            summary = export_snapshot(target, latest["record_json"], catalog_genres(current.read("genre_vocabulary")), posters,
                                      home_root=home.root, overwrite=args.force)
    except HomeBusy as exc:
        return fail(str(exc))
    except (ExportRefused, SourceError, StorageError) as exc:
        return fail(str(exc))
    shown = "" if args.no_posters else f", {summary.posters} posters ({summary.posters_missing} not on disk)"
    print(f"exported {summary.movies} movies{shown} to {summary.directory}")
    return 0
