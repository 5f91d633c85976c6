"""`genre-pipeline demo-catalog [DIR]`: write the synthetic demo snapshot."""

from __future__ import annotations

import argparse
from pathlib import Path

from genre_pipeline.cli.options import add_home_argument, fail, user_error


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo-catalog", help="write the deterministic synthetic demo snapshot to DIR")
    parser.add_argument("dir", nargs="?", default=None, help="target directory (default: <home>/demo_catalog)")
    parser.add_argument("--movies", type=int, default=600, help="number of movies (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-posters", action="store_true",
                        help="a large text-only catalog for scale tests, written fast (about a million movies a minute; "
                             "an invented vocabulary that grows with the catalog)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when DIR already holds a catalog")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait up to SECONDS while another writer holds the home (default: fail at once)")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def write_catalog(target: Path, args: argparse.Namespace) -> str:
    """Write the catalog the arguments ask for into ``target``; the line that says what was written."""
    if args.no_posters:
        from genre_pipeline.demo.bulk import write_bulk_catalog

        bulk = write_bulk_catalog(target, n_movies=args.movies, seed=args.seed)
        return (f"wrote SYNTHETIC text-only catalog to {target}: {bulk.n_movies} movies, {bulk.words} overview words, "
                f"no posters, seed {bulk.seed}")
    from genre_pipeline.demo.generator import write_demo_catalog

    summary = write_demo_catalog(target, n_movies=args.movies, seed=args.seed)
    return (f"wrote SYNTHETIC demo catalog to {target}: {summary.n_movies} movies ({summary.n_records} records), "
            f"{summary.n_posters} posters, years {summary.years[0]}-{summary.years[-1]}, seed {summary.seed}")


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.storage.home import Home, HomeError
    from genre_pipeline.storage.lock import HomeBusy, HomeLock

    if args.movies < 1:
        return user_error(f"--movies must be at least 1, got {args.movies}")
    home = Home.at(args.home)
    target = Path(args.dir).expanduser().resolve() if args.dir else home.demo_catalog_dir
    if args.if_missing and (target / "movies.jsonl.gz").is_file():
        print(f"demo catalog already at {target}")
        return 0
    try:
        if home.contains(target):  # writing inside the home: one writer at a time
            home.ensure()
            with HomeLock(home.lock_path, command="demo-catalog", timeout=args.wait):
                line = write_catalog(target, args)
        else:
            line = write_catalog(target, args)
    except HomeError as exc:
        return user_error(str(exc))
    except HomeBusy as exc:
        return fail(str(exc))
    print(line)
    return 0
