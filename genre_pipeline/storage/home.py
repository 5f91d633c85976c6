"""Where one pipeline home keeps its Dagster instance and all of its data.

A home is a single directory (``GENRE_PIPELINE_HOME``, default ``./.genre_pipeline``)::

    <home>/
      dagster/        DAGSTER_HOME: the instance (SQLite by default): runs, events, lineage
      tables/         parquet tables (raw partitions under tables/<asset>/<partition>.parquet)
      posters/        poster images, named by the basename of TMDB's poster_path
      features/       feature matrices and per-poster embeddings
      models/         trained models with their vocabulary / label order
      reports/        PNG plots, JSON and markdown reports
      quarantine/     input lines that could not be used, with file:line and the reason
      demo_catalog/   the synthetic demo snapshot (written by ``make demo``)

Two homes never share a file, so two homes never interfere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV_VAR = "GENRE_PIPELINE_HOME"
DEFAULT_HOME = ".genre_pipeline"


def resolve_home_dir(home: str | os.PathLike | None = None) -> Path:
    """The home directory: the argument, else ``$GENRE_PIPELINE_HOME``, else ``./.genre_pipeline``."""
    chosen = home or os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class Home:
    """Paths inside one pipeline home. Creating the object touches nothing on disk."""

    root: Path

    @classmethod
    def at(cls, home: str | os.PathLike | None = None) -> "Home":
        return cls(resolve_home_dir(home))

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def tables_dir(self) -> Path:
        return self.root / "tables"

    @property
    def posters_dir(self) -> Path:
        return self.root / "posters"

    @property
    def features_dir(self) -> Path:
        return self.root / "features"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def demo_catalog_dir(self) -> Path:
        return self.root / "demo_catalog"

    def table_path(self, name: str) -> Path:
        """An unpartitioned table, e.g. ``tables/movies.parquet``."""
        return self.tables_dir / f"{name}.parquet"

    def partition_path(self, name: str, partition_key: str) -> Path:
        """One partition of a partitioned table, e.g. ``tables/raw_movie_records/1999.parquet``."""
        return self.tables_dir / name / f"{partition_key}.parquet"

    def partition_paths(self, name: str) -> list[Path]:
        folder = self.tables_dir / name
        return sorted(folder.glob("*.parquet")) if folder.is_dir() else []

    def ensure(self) -> "Home":
        for folder in (
            self.dagster_home,
            self.tables_dir,
            self.posters_dir,
            self.features_dir,
            self.models_dir,
            self.reports_dir,
            self.quarantine_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            # SQLite storage inside the home; telemetry off so nothing tries the network.
            dagster_yaml.write_text("telemetry:\n  enabled: false\n")
        return self
