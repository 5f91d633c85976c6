"""Shared fixtures: temp homes and hand-made snapshot directories (never ../shared)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from genre_pipeline_tests.support.snapshots import GENRES, movie, write_snapshot  # noqa: F401


def pytest_configure(config):
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
