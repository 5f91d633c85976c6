"""The live TMDB resource: configuration in Dagster, the client in ``sources.tmdb``.

Tutorial step "scraping TMDB": the tutorial set ``tmdb.API_KEY`` in a notebook cell and
looped. Here the key comes from the environment through ``dg.EnvVar`` (so the UI shows the
variable's *name*, never its value, and ``repr`` hides it), every tunable (base URLs, rate
limit, concurrency, timeout, poster size) is resource config, and the per-run client (one
keep-alive session, one token bucket, one poster downloader) lives in private attributes
created for the run and closed after it. The bucket is per process; ``pool="tmdb"`` on the
API-calling assets caps how many such steps run at once across runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from genre_pipeline.ingestion.posters import DEFAULT_IMAGE_BASE_URL, DEFAULT_POSTER_SIZE
from genre_pipeline.ingestion.tmdb import (
    DEFAULT_API_BASE_URL,
    ENV_API_BASE_URL,
    ENV_API_KEY,
    ENV_IMAGE_BASE_URL,
    ENV_READ_ACCESS_TOKEN,
    TmdbCatalogSource,
    TmdbSettings,
)

# Optional, non-secret tuning from the environment (read when the definitions are built).
ENV_TUNING: dict[str, tuple[str, type]] = {
    "TMDB_RATE_LIMIT": ("rate_limit", float),
    "TMDB_CONCURRENCY": ("concurrency", int),
    "TMDB_TIMEOUT": ("timeout", float),
    "TMDB_MAX_RETRIES": ("max_retries", int),
    "TMDB_POSTER_SIZE": ("poster_size", str),
    "TMDB_POSTER_RATE_LIMIT": ("poster_rate_limit", float),
    "TMDB_POSTER_CONCURRENCY": ("poster_concurrency", int),
}


class TmdbResource(dg.ConfigurableResource):
    """TMDB v3 over tmdbsimple (see ``genre_pipeline.ingestion.tmdb``). Secrets via ``dg.EnvVar``."""

    api_key: str | None = Field(default=None, repr=False, description="TMDB v3 API key (use dg.EnvVar('TMDB_API_KEY'))")
    read_access_token: str | None = Field(
        default=None, repr=False, description="TMDB v4 read access token, sent as a bearer token (dg.EnvVar('TMDB_READ_ACCESS_TOKEN'))"
    )
    api_base_url: str = Field(default=DEFAULT_API_BASE_URL, description="TMDB API base, e.g. a mirror or a replay server")
    image_base_url: str = Field(default=DEFAULT_IMAGE_BASE_URL, description="TMDB image CDN base")
    rate_limit: float = Field(default=40.0, description="API requests per second, all threads of a step together")
    concurrency: int = Field(default=16, description="API requests in flight at once")
    timeout: float = Field(default=10.0, description="seconds, every API call")
    max_retries: int = Field(default=5, description="retries on 429 / 5xx / timeouts / connection errors / malformed JSON")
    poster_size: str = Field(default=DEFAULT_POSTER_SIZE, description="TMDB image size name, e.g. w185, w500, original")
    poster_rate_limit: float = Field(default=25.0, description="image requests per second")
    poster_concurrency: int = Field(default=8, description="image downloads in flight at once")

    _source: TmdbCatalogSource | None = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "TmdbResource":
        """Secrets and base URLs as ``dg.EnvVar`` (resolved at run time), tuning as values."""
        env = os.environ if env is None else env
        kwargs: dict[str, Any] = {}
        for field_name, var in (
            ("api_key", ENV_API_KEY),
            ("read_access_token", ENV_READ_ACCESS_TOKEN),
            ("api_base_url", ENV_API_BASE_URL),
            ("image_base_url", ENV_IMAGE_BASE_URL),
        ):
            if env.get(var):
                kwargs[field_name] = dg.EnvVar(var)
        for var, (field_name, kind) in ENV_TUNING.items():
            if env.get(var):
                try:
                    kwargs[field_name] = kind(env[var])
                except ValueError as exc:
                    raise ValueError(f"{var} must be a {kind.__name__}, got {env[var]!r}") from exc
        return cls(**kwargs)

    def settings(self) -> TmdbSettings:
        return TmdbSettings(
            api_key=self.api_key or None,
            read_access_token=self.read_access_token or None,
            api_base_url=self.api_base_url,
            image_base_url=self.image_base_url,
            rate_limit=self.rate_limit,
            concurrency=self.concurrency,
            timeout=self.timeout,
            max_retries=self.max_retries,
            poster_size=self.poster_size,
            poster_rate_limit=self.poster_rate_limit,
            poster_concurrency=self.poster_concurrency,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Nothing is opened here: a run that never calls TMDB (the demo) needs no key.
        self._source = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def source(self) -> TmdbCatalogSource:
        """This run's TMDB source (created on first use; raises TmdbAuthError without a key)."""
        if self._source is None:
            self._source = TmdbCatalogSource(self.settings())
        return self._source

    def describe(self) -> dict[str, Any]:
        return self.settings().describe()
