"""Resources: the home (where everything is written) and the catalog source."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from genre_pipeline.defs.ingestion.resources import TmdbResource
from genre_pipeline.storage.home import Home
from genre_pipeline.ingestion.records import CatalogSource, SourceError


class HomeResource(dg.ConfigurableResource):
    """The pipeline home: Dagster instance, parquet tables, posters, models, reports."""

    root: str

    @property
    def home(self) -> Home:
        return Home(Path(self.root)).ensure()


class CatalogSourceResource(dg.ConfigurableResource):
    """Where raw movie records come from: ``demo`` | ``snapshot`` | ``tmdb``.

    ``demo`` is the synthetic snapshot in ``<home>/demo_catalog`` (generated on first use);
    ``snapshot`` any directory in the snapshot format; ``tmdb`` the live API.
    The opened source lives for one run, so a snapshot file is parsed once per run even
    when the run covers many release-year partitions.
    """

    kind: str = "demo"
    snapshot_dir: str | None = None
    home_root: str
    demo_movies: int = 600
    demo_seed: int = 0
    tmdb: TmdbResource | None = None  # the live source for kind "tmdb"

    _source: CatalogSource | None = PrivateAttr(default=None)

    def open(self) -> CatalogSource:
        if self._source is None:
            self._source = self._build()
        return self._source

    def _build(self) -> CatalogSource:
        from genre_pipeline.ingestion.snapshot import SnapshotCatalogSource

        if self.kind == "snapshot":
            if not self.snapshot_dir:
                raise SourceError("source 'snapshot' needs snapshot_dir")
            return SnapshotCatalogSource(self.snapshot_dir, name="snapshot")
        if self.kind == "demo":
            folder = ensure_demo_catalog(Home(Path(self.home_root)), self.demo_movies, self.demo_seed)
            return SnapshotCatalogSource(folder, name="demo (synthetic)")
        if self.kind == "tmdb":
            if self.tmdb is None:
                raise SourceError("source 'tmdb' needs a TmdbResource (catalog_source.tmdb)")
            return self.tmdb.source()
        raise SourceError(f"unknown source kind {self.kind!r}")


def ensure_demo_catalog(home: Home, n_movies: int, seed: int) -> Path:
    """The demo catalog folder, written first if it is not there yet."""
    from genre_pipeline.demo.generator import write_demo_catalog

    folder = home.demo_catalog_dir
    if not (folder / "movies.jsonl.gz").is_file():
        write_demo_catalog(folder, n_movies=n_movies, seed=seed)
    return folder
