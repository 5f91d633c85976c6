"""Partitions: raw records by release year.

One partition per release year (never one per movie), 1874 (the oldest films on TMDB)
through 2030 (announced releases), plus ``undated`` for records without a release date:
158 keys, far below Dagster's recommended ceiling of 100k partitions per asset.
"""

from __future__ import annotations

import dagster as dg

from genre_pipeline.ingestion.records import FIRST_YEAR, LAST_YEAR, UNDATED

YEAR_KEYS = [str(year) for year in range(FIRST_YEAR, LAST_YEAR + 1)]

release_year_partitions = dg.StaticPartitionsDefinition([*YEAR_KEYS, UNDATED])


def year_keys_between(first: int, last: int) -> list[str]:
    """Partition keys for release years first..last (inclusive), clipped to the defined range."""
    if first > last:
        raise ValueError(f"year range {first}-{last} is empty")
    keys = [str(y) for y in range(max(first, FIRST_YEAR), min(last, LAST_YEAR) + 1)]
    if not keys:
        raise ValueError(f"years {first}-{last} are outside {FIRST_YEAR}-{LAST_YEAR}")
    return keys


CHANGES_START_DATE = "2025-01-01"
daily_change_partitions = dg.DailyPartitionsDefinition(start_date=CHANGES_START_DATE, timezone="UTC")
"""One partition per UTC day of TMDB's ``/movie/changes`` feed (incremental rescrapes)."""


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover the partitions ``first``..``last`` (single-run backfill)."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
