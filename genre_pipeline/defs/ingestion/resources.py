"""Where movie records come from, as Dagster resources: the live TMDB client and the catalog source.

Tutorial step "scraping TMDB": the tutorial set ``tmdb.API_KEY`` in a notebook cell and
looped. Here every tunable (base URLs, rate limit, concurrency, timeout, poster size) is
resource config; credentials are read from the run worker's environment when the run
starts (``TMDB_API_KEY`` or ``TMDB_READ_ACCESS_TOKEN``) and never stored in config, run
config, metadata or logs. The per-run client (one keep-alive session, one token bucket,
one poster downloader) lives in private attributes created for the run and closed after
it. The bucket is per process; ``pool="tmdb"`` on the API-calling assets caps how many
such steps run at once across runs.

Unset config falls back to the environment at run time (``GENRE_PIPELINE_SOURCE``,
``GENRE_PIPELINE_SNAPSHOT``, ``TMDB_RATE_LIMIT``, ...), validated then, so a bad value is
one clear error naming the variable and never stops the code location from loading.
"""

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from genre_pipeline.defs import settings
from genre_pipeline.defs.storage import HomeResource
from genre_pipeline.ingestion.posters import DEFAULT_IMAGE_BASE_URL, DEFAULT_POSTER_SIZE
from genre_pipeline.ingestion.records import CatalogSource, SourceError
from genre_pipeline.ingestion.tmdb import (
    DEFAULT_API_BASE_URL,
    ENV_API_BASE_URL,
    ENV_API_KEY,
    ENV_IMAGE_BASE_URL,
    ENV_READ_ACCESS_TOKEN,
    TmdbCatalogSource,
    TmdbSettings,
)


class TmdbResource(dg.ConfigurableResource):
    """TMDB v3 over tmdbsimple (see ``genre_pipeline.ingestion.tmdb``); credentials from the environment."""

    api_base_url: str | None = Field(default=None, description=f"TMDB API base (default ${ENV_API_BASE_URL} or {DEFAULT_API_BASE_URL})")
    image_base_url: str | None = Field(default=None, description=f"image CDN base (default ${ENV_IMAGE_BASE_URL} or {DEFAULT_IMAGE_BASE_URL})")
    rate_limit: float | None = Field(default=None, description="API requests per second, all threads of a step (default $TMDB_RATE_LIMIT or 40)")
    concurrency: int | None = Field(default=None, description="API requests in flight at once (default $TMDB_CONCURRENCY or 16)")
    timeout: float | None = Field(default=None, description="seconds, every API call (default $TMDB_TIMEOUT or 10)")
    max_retries: int | None = Field(default=None, description="retries on 429 / 5xx / timeouts (default $TMDB_MAX_RETRIES or 5)")
    poster_size: str | None = Field(default=None, description=f"TMDB image size name (default $TMDB_POSTER_SIZE or {DEFAULT_POSTER_SIZE})")
    poster_rate_limit: float | None = Field(default=None, description="image requests per second (default $TMDB_POSTER_RATE_LIMIT or 25)")
    poster_concurrency: int | None = Field(default=None, description="image downloads in flight (default $TMDB_POSTER_CONCURRENCY or 8)")

    _source: TmdbCatalogSource | None = PrivateAttr(default=None)

    def settings(self) -> TmdbSettings:
        """The client settings: config, else environment, else defaults (validated here)."""
        return TmdbSettings(
            api_key=settings.text(ENV_API_KEY),
            read_access_token=settings.text(ENV_READ_ACCESS_TOKEN),
            api_base_url=self.api_base_url or settings.text(ENV_API_BASE_URL, DEFAULT_API_BASE_URL),
            image_base_url=self.image_base_url or settings.text(ENV_IMAGE_BASE_URL, DEFAULT_IMAGE_BASE_URL),
            rate_limit=self.rate_limit or settings.number("TMDB_RATE_LIMIT", 40.0, minimum=0.001),
            concurrency=self.concurrency or settings.integer("TMDB_CONCURRENCY", 16, minimum=1),
            timeout=self.timeout or settings.number("TMDB_TIMEOUT", 10.0, minimum=0.001),
            max_retries=self.max_retries if self.max_retries is not None else settings.integer("TMDB_MAX_RETRIES", 5, minimum=0),
            poster_size=self.poster_size or settings.text("TMDB_POSTER_SIZE", DEFAULT_POSTER_SIZE),
            poster_rate_limit=self.poster_rate_limit or settings.number("TMDB_POSTER_RATE_LIMIT", 25.0, minimum=0.001),
            poster_concurrency=self.poster_concurrency or settings.integer("TMDB_POSTER_CONCURRENCY", 8, minimum=1),
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Nothing is opened here: a run that never calls TMDB (the demo) needs no key.
        self._source = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def source(self) -> TmdbCatalogSource:
        """This run's TMDB source (created on first use; raises TmdbAuthError without credentials)."""
        if self._source is None:
            self._source = TmdbCatalogSource(self.settings())
        return self._source


class CatalogSourceResource(dg.ConfigurableResource):
    """Where raw movie records come from: ``demo`` | ``snapshot`` | ``tmdb``.

    ``demo`` is the synthetic snapshot in ``<home>/demo_catalog`` (generated on first use);
    ``snapshot`` any directory in the snapshot format; ``tmdb`` the live API. Unset fields
    come from ``GENRE_PIPELINE_SOURCE``, ``GENRE_PIPELINE_SNAPSHOT``,
    ``GENRE_PIPELINE_DEMO_MOVIES`` and ``GENRE_PIPELINE_DEMO_SEED`` when the run starts.
    The opened source lives for one run, so a snapshot file is parsed once per run even
    when the run covers many release-year partitions.
    """

    kind: str | None = Field(default=None, description="demo | snapshot | tmdb (default $GENRE_PIPELINE_SOURCE or demo)")
    snapshot_dir: str | None = Field(default=None, description="snapshot directory (default $GENRE_PIPELINE_SNAPSHOT)")
    demo_movies: int | None = Field(default=None, description="movies in the demo catalog (default $GENRE_PIPELINE_DEMO_MOVIES or 600)")
    demo_seed: int | None = Field(default=None, description="seed of the demo catalog (default $GENRE_PIPELINE_DEMO_SEED or 0)")
    home: dg.ResourceDependency[HomeResource]
    tmdb: dg.ResourceDependency[TmdbResource]

    _source: CatalogSource | None = PrivateAttr(default=None)

    def resolved_kind(self) -> str:
        return self.kind or settings.choice(settings.SOURCE_ENV, settings.SOURCE_KINDS, "demo")

    def resolved_snapshot(self) -> Path:
        folder = self.snapshot_dir or settings.text(settings.SNAPSHOT_ENV)
        if not folder:
            raise SourceError(f"source 'snapshot' needs a snapshot directory (--snapshot DIR or {settings.SNAPSHOT_ENV})")
        return Path(folder).expanduser().resolve()

    def demo_settings(self) -> tuple[int, int]:
        movies = self.demo_movies or settings.integer(settings.DEMO_MOVIES_ENV, 600, minimum=1)
        seed = self.demo_seed if self.demo_seed is not None else settings.integer(settings.DEMO_SEED_ENV, 0)
        return movies, seed

    def open(self) -> CatalogSource:
        if self._source is None:
            self._source = self._build()
        return self._source

    def _build(self) -> CatalogSource:
        from genre_pipeline.ingestion.snapshot import SnapshotCatalogSource

        kind = self.resolved_kind()
        if kind == "snapshot":
            return SnapshotCatalogSource(self.resolved_snapshot(), name="snapshot")
        if kind == "demo":
            return SnapshotCatalogSource(self.ensure_demo_catalog(), name="demo (synthetic)")
        return self.tmdb.source()

    def ensure_demo_catalog(self) -> Path:
        """The demo catalog folder, written first if it is not there yet."""
        from genre_pipeline.demo.generator import write_demo_catalog

        folder = self.home.home().demo_catalog_dir
        if not (folder / "movies.jsonl.gz").is_file():
            movies, seed = self.demo_settings()
            write_demo_catalog(folder, n_movies=movies, seed=seed)
        return folder

    def describe(self) -> str:
        """Where this run's records come from, for metadata and reports (never a secret)."""
        kind = self.resolved_kind()
        if kind == "snapshot":
            return f"snapshot {self.resolved_snapshot()}"
        if kind == "demo":
            movies, seed = self.demo_settings()
            return f"demo (SYNTHETIC, {movies} movies, seed {seed})"
        return "tmdb (live)"

    def details(self) -> dict[str, Any]:
        return {"source": self.describe(), **({"tmdb": self.tmdb.settings().describe()} if self.resolved_kind() == "tmdb" else {})}
