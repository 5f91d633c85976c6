"""Retrain when the movie table changed.

Two assets write ``tables/movies.parquet``: ``movies`` rebuilds it from the raw records
(weekly refresh, manual runs) and ``movie_changes`` (ingestion) merges a day of TMDB's
change feed into it. Most of those writes change only what the models never look at
(``popularity``, vote counts, ``fetched_at``), and retraining on every one would retrain
daily for nothing. So this sensor fingerprints the columns features and labels are built
from and requests a rebuild of what is derived from the table only when the fingerprint
moved.

The cursor is JSON: the newest storage id among the watched assets' materializations that
was looked at, and the fingerprint of the table the last retrain was requested for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg
import pandas as pd

from genre_pipeline.defs.catalog.assets import movies
from genre_pipeline.defs.operations.switch import default_sensor_status
from genre_pipeline.defs.resources import HomeResource

MOVIE_TABLE_WRITERS = (dg.AssetKey("movies"), dg.AssetKey("movie_changes"))
"""Assets whose materialization rewrites ``tables/movies.parquet`` (missing ones are ignored)."""

MODEL_COLUMNS = ("id", "overview", "genre_ids", "genres", "poster_path")
"""What text features, poster features and genre labels are built from."""

_DERIVED = dg.AssetSelection.assets(movies).downstream(include_self=False)
_LEARNING = dg.AssetSelection.groups("features", "models")
RETRAIN_SELECTION = (_DERIVED - dg.AssetSelection.groups("ingestion")) | (_DERIVED & _LEARNING.upstream())
"""What is derived from the movie table: features, models and their evaluation, the catalog
analyses (co-occurrence, ...), and the ingestion steps the models need (posters) — but not
other ingestion steps (the daily, partitioned ``movie_changes`` writes the table itself)."""

FINGERPRINT_TAG = "genre_pipeline/movies_fingerprint"
TRIGGER_TAG = "genre_pipeline/trigger"


def movie_table_fingerprint(path: Path) -> str:
    """SHA-256 over the modelling columns of ``tables/movies.parquet``, ordered by id.

    Independent of row order and of the other columns; lists are compared element-wise.
    """
    frame = pd.read_parquet(path)
    columns = [c for c in MODEL_COLUMNS if c in frame.columns]
    frame = frame[columns].sort_values("id", kind="stable")
    digest = hashlib.sha256(json.dumps(columns).encode())
    for row in frame.itertuples(index=False, name=None):
        values = [v.tolist() if hasattr(v, "tolist") else v for v in row]
        digest.update(json.dumps(values, default=str, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class RetrainCursor:
    storage_id: int = 0
    fingerprint: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> "RetrainCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(storage_id=int(data.get("storage_id", 0)), fingerprint=data.get("fingerprint"))

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def build_retrain_sensor(enabled: bool | None = None) -> dg.SensorDefinition:
    """The retrain sensor; ``enabled`` overrides ``GENRE_PIPELINE_SCHEDULES`` (for tests)."""

    @dg.sensor(
        name="retrain_on_movies_change",
        target=RETRAIN_SELECTION,
        minimum_interval_seconds=120,
        default_status=default_sensor_status(enabled),
        description="Rebuild features, models and evaluation when the movie table's overviews, genres or posters changed.",
    )
    def retrain_on_movies_change(context: dg.SensorEvaluationContext, home: HomeResource):
        cursor = RetrainCursor.parse(context.cursor)
        records = [r for key in MOVIE_TABLE_WRITERS for r in context.instance.fetch_materializations(key, limit=1).records]
        if not records:
            return dg.SkipReason("movies has not been materialized yet")
        latest = max(records, key=lambda r: r.storage_id)
        if latest.storage_id <= cursor.storage_id:
            return dg.SkipReason(f"no new write of the movie table since storage id {cursor.storage_id}")
        path = home.home.table_path("movies")
        if not path.is_file():
            # Materialized in another home or deleted since: do not advance, look again next tick.
            return dg.SkipReason(f"the movie table was materialized but {path} is missing")
        fingerprint = movie_table_fingerprint(path)
        if fingerprint == cursor.fingerprint:
            context.update_cursor(RetrainCursor(latest.storage_id, fingerprint).dump())
            writer = latest.asset_key.to_user_string() if latest.asset_key else "movies"
            return dg.SkipReason(f"the movie table was rewritten ({writer}) but its overviews, genres and posters are unchanged")
        context.update_cursor(RetrainCursor(latest.storage_id, fingerprint).dump())
        return dg.RunRequest(
            run_key=f"movies-{latest.storage_id}",
            tags={FINGERPRINT_TAG: fingerprint[:16], TRIGGER_TAG: "retrain_on_movies_change"},
        )

    return retrain_on_movies_change
