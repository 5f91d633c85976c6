"""What every subcommand shares: the --home option and how errors reach the terminal."""

from __future__ import annotations

import argparse
import sys

USER_ERROR = 2  # bad arguments, settings or input: one line, no traceback
FAILED = 1  # the work itself failed (a run, a check, a busy home)


def add_home_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", default=None, help="pipeline home (default: $GENRE_PIPELINE_HOME or ./.genre_pipeline)")


def user_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return USER_ERROR


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return FAILED
