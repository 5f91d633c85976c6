"""Shared fixtures: temp homes and hand-made snapshot directories (never ../shared)."""

from __future__ import annotations

import signal
import warnings
from pathlib import Path

import pytest

from genre_pipeline_tests.support.snapshots import GENRES, movie, write_snapshot  # noqa: F401


def pytest_configure(config):
    # A suite started in the background by a non-interactive shell (`make test &`) has SIGINT
    # ignored, and every server it starts inherits that; Dagster's processes then map SIGTERM
    # onto the ignored SIGINT and outlive terminate(). The tests' servers get the defaults.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import dagster as dg

        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture
def snapshot_factory(tmp_path):
    def make(lines: list, genres: list[dict] | None = None, name: str = "snapshot") -> Path:
        return write_snapshot(tmp_path / name, lines, genres)

    return make
