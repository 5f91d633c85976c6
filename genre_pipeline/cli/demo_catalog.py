"""`genre-pipeline demo-catalog DIR`: write the synthetic demo snapshot."""

from __future__ import annotations

import argparse
from pathlib import Path

from genre_pipeline.cli.options import add_home_argument


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo-catalog", help="write the deterministic synthetic demo snapshot to DIR")
    parser.add_argument("dir", nargs="?", default=None, help="target directory (default: <home>/demo_catalog)")
    parser.add_argument("--movies", type=int, default=600, help="number of movies (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when DIR already holds a catalog")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genre_pipeline.storage.home import Home
    from genre_pipeline.demo.generator import write_demo_catalog

    target = Path(args.dir) if args.dir else Home.at(args.home).demo_catalog_dir
    if args.if_missing and (target / "movies.jsonl.gz").is_file():
        print(f"demo catalog already at {target}")
        return 0
    summary = write_demo_catalog(target, n_movies=args.movies, seed=args.seed)
    print(
        f"wrote SYNTHETIC demo catalog to {target}: {summary.n_movies} movies "
        f"({summary.n_records} records), {summary.n_posters} posters, years {summary.years[0]}-{summary.years[-1]}, seed {summary.seed}"
    )
    return 0
