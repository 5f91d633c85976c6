"""`genre-pipeline`: the command line. Each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

# Subcommand modules, each with add_parser(subparsers) and run(args) -> exit code.
COMMAND_MODULES = [
    "genre_pipeline.cli.run",
    "genre_pipeline.cli.demo_catalog",
    "genre_pipeline.cli.snapshot",
    "genre_pipeline.cli.report",
    "genre_pipeline.cli.predict",
]


def dg_warnings() -> tuple[type[Warning], ...]:
    from dagster import BetaWarning, PreviewWarning

    return (BetaWarning, PreviewWarning)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genre-pipeline",
        description="Multi-modal movie genre classification as Dagster assets (after Spandan Madan's tutorial).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def add_home_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", default=None, help="pipeline home (default: $GENRE_PIPELINE_HOME or ./.genre_pipeline)")


def main(argv: list[str] | None = None) -> int:
    # Dagster's beta/preview notices are for library authors, not for people running the CLI.
    for category in dg_warnings():
        warnings.filterwarnings("ignore", category=category)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
