"""The resources every run gets, bound once for the whole code location.

Nothing here reads the environment: unset settings are resolved when a run starts (see
:mod:`genre_pipeline.defs.settings`), so the code location's definitions, and the job
snapshots the UI compares runs against, are the same in every process.
"""

from __future__ import annotations

import dagster as dg

from genre_pipeline.defs.ingestion.resources import CatalogSourceResource, TmdbResource
from genre_pipeline.defs.storage import HomeIOManager, HomeResource


@dg.definitions
def resources() -> dg.Definitions:
    home = HomeResource()
    tmdb = TmdbResource()
    return dg.Definitions(
        resources={
            "home": home,
            "tmdb": tmdb,
            "catalog_source": CatalogSourceResource(home=home, tmdb=tmdb),
            "io_manager": HomeIOManager(home=home),
        },
        # Steps of one run share one process: the run holds its home's writer lock and its
        # staging for exactly as long as it runs (see genre_pipeline.defs.storage).
        executor=dg.in_process_executor,
    )
