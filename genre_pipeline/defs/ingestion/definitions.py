"""Ingestion domain: daily TMDB changes (+ schedule) and the IMDb genre comparison.

The release-year scrape itself (``raw_movie_records``) lives in the catalog domain; with
source kind ``tmdb`` it runs through the TMDB resource defined here.
"""

import dagster as dg

from genre_pipeline.defs.ingestion import assets


def build_ingestion_defs(schedules_enabled: bool | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[assets.movie_changes, assets.imdb_title_basics, assets.imdb_tmdb_genre_comparison],
        jobs=[assets.movie_changes_job],
        schedules=[assets.build_movie_changes_schedule(schedules_enabled)],
    )


defs = build_ingestion_defs()
