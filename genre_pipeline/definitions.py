"""The Dagster code location: every domain's assets, checks, schedules and sensors + resources.

`dagster dev` (workspace.yaml) and `dagster api grpc -m genre_pipeline.definitions` load
``defs``; the CLI calls :func:`build_definitions` with its own settings.
"""

from __future__ import annotations

import importlib

import dagster as dg

from genre_pipeline.defs.ingestion.resources import TmdbResource
from genre_pipeline.defs.resources import CatalogSourceResource, HomeResource
from genre_pipeline.defs.settings import PipelineSettings

# One module per domain, each exposing `defs` (no resources). Order is display order only.
DOMAIN_MODULES = [
    "genre_pipeline.defs.catalog.definitions",
    "genre_pipeline.defs.ingestion.definitions",
    "genre_pipeline.defs.features.definitions",
    "genre_pipeline.defs.models.definitions",
    "genre_pipeline.defs.operations.definitions",
]


def build_resources(settings: PipelineSettings) -> dict[str, object]:
    tmdb = TmdbResource.from_env()  # key/token as dg.EnvVar: resolved at run time, never shown
    return {
        "home": HomeResource(root=settings.home),
        "tmdb": tmdb,
        "catalog_source": CatalogSourceResource(
            kind=settings.source,
            snapshot_dir=settings.snapshot_dir,
            home_root=settings.home,
            demo_movies=settings.demo_movies,
            demo_seed=settings.demo_seed,
            tmdb=tmdb,
        ),
    }


def build_definitions(settings: PipelineSettings, extra: dg.Definitions | None = None) -> dg.Definitions:
    domains = [importlib.import_module(name).defs for name in DOMAIN_MODULES]
    return dg.Definitions.merge(*domains, dg.Definitions(resources=build_resources(settings)), *([extra] if extra else []))


defs = build_definitions(PipelineSettings.from_env())
