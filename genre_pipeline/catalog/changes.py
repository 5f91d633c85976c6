"""Merge freshly re-fetched records into the movie table (incremental rescrapes).

Tutorial step "scraping TMDB", made incremental: the tutorial could only refresh its data
by scraping everything again. TMDB publishes which movies changed each day; the daily
``movie_changes`` asset re-fetches just those that are in our catalog and this module
folds them in: their raw records are kept (``tables/raw_movie_changes/<day>.parquet``,
so a later rebuild of the movie table keeps them: the latest record of an id wins) and
their rows in ``tables/movies.parquet`` are replaced. Every other row is left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genre_pipeline.catalog import dedup
from genre_pipeline.ingestion.records import release_year_key

RAW_CHANGES_TABLE = "raw_movie_changes"
COMPARED_COLUMNS = [c for c in dedup.MOVIE_COLUMNS if c not in ("id", "partition", "fetched_at")]


def changes_raw_frame(records: list[dict[str, Any]], fetched_at: pd.Timestamp) -> pd.DataFrame:
    """Raw rows (``dedup.RAW_COLUMNS``) for re-fetched records; ``partition`` is each one's release year."""
    frame = dedup.raw_frame(records, "", fetched_at)
    frame["partition"] = pd.Series([release_year_key(r) for r in records], dtype="object")
    return frame


def _plain(value: Any) -> Any:
    """Lists (also numpy arrays from parquet) as lists, numpy scalars as Python, NA as None."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def _same(a: Any, b: Any) -> bool:
    return _plain(a) == _plain(b)


@dataclass
class MergeResult:
    table: pd.DataFrame
    updated_ids: list[int]  # rows replaced
    changed_columns: dict[int, list[str]] = field(default_factory=dict)  # id -> columns whose value moved
    poster_changes: list[tuple[int, str | None, str | None]] = field(default_factory=list)  # (id, old, new)


def merge_changed_records(table: pd.DataFrame, raw_changes: pd.DataFrame, genre_names: dict[int, str]) -> MergeResult:
    """Replace the rows of ``table`` whose ids are in ``raw_changes``; touch nothing else.

    Only ids already in ``table`` are merged (the caller asked TMDB only for those).
    """
    fresh = dedup.build_movie_table(raw_changes, genre_names)
    fresh = fresh[fresh["id"].isin(table["id"])]
    if fresh.empty:
        return MergeResult(table, [])
    old = table.set_index("id")
    changed_columns: dict[int, list[str]] = {}
    poster_changes = []
    for row in fresh.itertuples(index=False):
        before = old.loc[row.id]
        moved = [c for c in COMPARED_COLUMNS if not _same(before[c], getattr(row, c))]
        changed_columns[int(row.id)] = moved
        if "poster_path" in moved:
            poster_changes.append((int(row.id), before["poster_path"], row.poster_path))
    kept = table[~table["id"].isin(fresh["id"])]
    fresh = fresh.astype({c: t for c, t in table.dtypes.items() if c in fresh.columns and str(t) != "object"}, errors="ignore")
    merged = pd.concat([kept, fresh[table.columns]], ignore_index=True).sort_values("id").reset_index(drop=True)
    return MergeResult(merged, [int(i) for i in fresh["id"]], changed_columns, poster_changes)
