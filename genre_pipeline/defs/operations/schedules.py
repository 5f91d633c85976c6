"""Weekly full refresh of recent release years.

TMDB keeps changing recent films: release dates move, overviews and genres are filled in,
announced titles appear. The daily incremental rescrape (ingestion domain) follows TMDB's
change feed; once a week this schedule re-fetches the most recent release years *whole*,
which also picks up whatever the change feed missed. Older years are stable and are only
refreshed by hand (a backfill in the UI or ``genre-pipeline run --years``).

One run covers ``raw_movie_records`` for the recent years as a single partition range
(the asset's backfill policy is single-run, so the range runs in one step), then
``genre_vocabulary``, ``movies`` and ``movie_posters`` (posters of newly listed films;
present ones are not fetched again) in the same run. Features, models and analyses are
left to declarative automation, which rebuilds them only when the movie table's content
actually changed (:mod:`genre_pipeline.defs.automation`).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from genre_pipeline.defs.operations.switch import default_schedule_status
from genre_pipeline.defs.partitions import partition_range_tags, year_keys_between

RECENT_YEARS = 3
"""Release years refreshed weekly: this year and the two before it (plus next year's announced films)."""

WEEKLY_CRON = "0 4 * * 0"  # Sundays 04:00 UTC, away from the daily incremental rescrape
TRIGGER_TAG = "genre_pipeline/trigger"
ALL_STEPS_ON_RETRY = {"dagster/retry_strategy": "ALL_STEPS"}
"""A retried run runs every step: a dead run's staging is never published, so nothing of it can be reused."""

recent_years_refresh_job = dg.define_asset_job(
    name="recent_years_refresh",
    selection=dg.AssetSelection.assets("raw_movie_records", "genre_vocabulary", "movies", "movie_posters"),
    description="Re-fetch recent release years whole, rebuild the genre vocabulary and the movie table, fetch new posters.",
)


def recent_year_keys(today: dt.date, years: int = RECENT_YEARS) -> list[str]:
    """Release-year partition keys refreshed on ``today``: the last ``years`` years and next year.

    Next year is included because TMDB lists announced films with their planned release
    date. Keys are clipped to the defined partitions (1874-2030).
    """
    if years < 1:
        raise ValueError("years must be >= 1")
    return year_keys_between(today.year - years + 1, today.year + 1)


def recent_years_run_request(today: dt.date, years: int = RECENT_YEARS) -> dg.RunRequest:
    """One run over the recent years as a partition range (plus the unpartitioned rebuild)."""
    keys = recent_year_keys(today, years)
    return dg.RunRequest(
        run_key=f"recent-years-{keys[0]}-{keys[-1]}-{today.isoformat()}",
        tags={
            **partition_range_tags(keys[0], keys[-1]),
            TRIGGER_TAG: "weekly_recent_years_refresh",
            **ALL_STEPS_ON_RETRY,
        },
    )


def build_recent_years_schedule(years: int = RECENT_YEARS) -> dg.ScheduleDefinition:
    """The weekly schedule (stopped unless ``GENRE_PIPELINE_SCHEDULES=on``)."""

    @dg.schedule(
        name="weekly_recent_years_refresh",
        job=recent_years_refresh_job,
        cron_schedule=WEEKLY_CRON,
        execution_timezone="UTC",
        default_status=default_schedule_status(),
        description=f"Weekly: re-fetch the last {years} release years (and next year) whole and rebuild the movie table.",
    )
    def weekly_recent_years_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time or dt.datetime.now(dt.timezone.utc)
        return recent_years_run_request(when.date(), years)

    return weekly_recent_years_refresh

