"""`genre-pipeline`: the command line. Each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from genre_pipeline.cli import demo_catalog, predict, report, run, snapshot
from genre_pipeline.cli.options import CommandFailed, user_error

COMMANDS = (run, demo_catalog, snapshot, report, predict)  # each: add_parser(subparsers), handler(args) -> exit code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genre-pipeline",
        description="Multi-modal movie genre classification as Dagster assets (after Spandan Madan's tutorial).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "predict":  # predict never loads Dagster: its import is ~1.4 s of a cold predict
        from dagster import BetaWarning, PreviewWarning

        # Dagster's beta/preview notices are for library authors, not for people running the CLI.
        for category in (BetaWarning, PreviewWarning):
            warnings.filterwarnings("ignore", category=category)
    try:
        return int(args.handler(args) or 0)
    except CommandFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `genre-pipeline report | head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed stream for the interpreter's exit
        return 0
    except ValueError as exc:  # settings and user input the command did not catch itself
        from genre_pipeline.defs.settings import SettingsError

        if isinstance(exc, SettingsError):
            return user_error(str(exc))
        raise


if __name__ == "__main__":
    sys.exit(main())
