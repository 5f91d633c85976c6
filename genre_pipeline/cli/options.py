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


class CommandFailed(Exception):
    """Ends a command with one line on stderr and ``code`` (``USER_ERROR`` or ``FAILED``)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def published_generation(home_arg: str | None, what: str):
    """The home's published generation, or :class:`CommandFailed` saying why there is none."""
    from genre_pipeline.storage.generations import GenerationStore, StorageError
    from genre_pipeline.storage.home import Home, HomeError

    home = Home.at(home_arg)
    try:
        home.check_usable()
        current = GenerationStore(home).current()
    except HomeError as exc:
        raise CommandFailed(USER_ERROR, str(exc)) from None
    except StorageError as exc:
        raise CommandFailed(FAILED, str(exc)) from None
    if current is None:
        raise CommandFailed(FAILED, f"no {what} in {home.root} (run the pipeline first: genre-pipeline run)")
    return current
