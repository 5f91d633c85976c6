"""Raw records → the deduplicated movie table.

Tutorial step: "getting the movies / removing duplicates". The tutorial appended every
scraped page to a list and de-duplicated with a nested loop over titles; a movie found in
two scrapes could appear twice. Here every raw record keeps where and when it was fetched,
and the *latest* record for an id wins (by ``fetched_at``, then source order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from genre_pipeline.catalog.genres import unknown_genre_name
from genre_pipeline.ingestion.records import release_year_key

RAW_COLUMNS = ["id", "record_json", "partition", "fetched_at", "source_seq"]

MOVIE_COLUMNS = [
    "id",
    "title",
    "original_title",
    "overview",
    "release_date",
    "release_year",
    "genre_ids",
    "genres",
    "imdb_id",
    "poster_path",
    "popularity",
    "vote_average",
    "vote_count",
    "original_language",
    "runtime",
    "budget",
    "revenue",
    "production_companies",
    "collection",
    "tagline",
    "partition",
    "fetched_at",
]


def raw_frame(records: list[dict[str, Any]], partition: str, fetched_at: pd.Timestamp, source_seq: list[int] | None = None) -> pd.DataFrame:
    """The stored form of one partition's records (the record itself as JSON text)."""
    seqs = source_seq if source_seq is not None else list(range(len(records)))
    frame = pd.DataFrame(
        {
            "id": pd.Series([int(r["id"]) for r in records], dtype="int64"),
            "record_json": pd.Series([json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records], dtype="object"),
            "partition": pd.Series([partition] * len(records), dtype="object"),
            "fetched_at": pd.Series([fetched_at] * len(records), dtype="datetime64[us, UTC]"),
            "source_seq": pd.Series(seqs, dtype="int64"),
        }
    )
    return frame[RAW_COLUMNS]


def changes_raw_frame(records: list[dict[str, Any]], fetched_at: pd.Timestamp) -> pd.DataFrame:
    """Raw rows for records re-fetched from TMDB's change feed; ``partition`` is each one's release year."""
    frame = raw_frame(records, "", fetched_at)
    frame["partition"] = pd.Series([release_year_key(r) for r in records], dtype="object")
    return frame


def latest_records(raw: pd.DataFrame) -> pd.DataFrame:
    """Keep the latest raw row per id: greatest ``fetched_at``, then greatest ``source_seq``."""
    if raw.empty:
        return raw.copy()
    ordered = raw.sort_values(["id", "fetched_at", "source_seq"], kind="mergesort")
    return ordered.drop_duplicates("id", keep="last").reset_index(drop=True)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _company_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [c["name"].strip() for c in value if isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"].strip()]


def fact_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The catalog facts of a TMDB ``/movie/{id}`` record as the movie table stores them (a wrongly typed value: none)."""
    year_key = release_year_key(record)
    collection = record.get("belongs_to_collection")
    return {
        "original_language": _optional_text(record.get("original_language")),
        "runtime": _number(record.get("runtime")),
        "release_year": int(year_key) if year_key.isdigit() else None,
        "budget": _number(record.get("budget")),
        "revenue": _number(record.get("revenue")),
        "production_companies": _company_names(record.get("production_companies")),
        "collection": _optional_text(collection.get("name")) if isinstance(collection, dict) else None,
        "tagline": _text(record.get("tagline")).strip(),
    }


def movie_row(record: dict[str, Any], genre_names: dict[int, str]) -> dict[str, Any]:
    genre_ids = [int(g["id"]) for g in record.get("genres") or []]
    vote_count = record.get("vote_count")
    return {
        "id": int(record["id"]),
        "title": _text(record.get("title")).strip(),
        "original_title": _text(record.get("original_title")),
        "overview": _text(record.get("overview")).strip(),
        "release_date": _optional_text(record.get("release_date")),
        "genre_ids": genre_ids,
        "genres": [genre_names.get(g, unknown_genre_name(g)) for g in genre_ids],
        "imdb_id": _optional_text(record.get("imdb_id")),
        "poster_path": _optional_text(record.get("poster_path")),
        "popularity": _number(record.get("popularity")),
        "vote_average": _number(record.get("vote_average")),
        "vote_count": int(vote_count) if isinstance(vote_count, int) and not isinstance(vote_count, bool) else None,
        **fact_fields(record),
    }


def build_movie_table(raw: pd.DataFrame, genre_names: dict[int, str]) -> pd.DataFrame:
    """The movie table (schema ``MOVIE_COLUMNS``), one row per id, sorted by id."""
    latest = latest_records(raw)
    rows = []
    for record_json, partition, fetched_at in zip(latest["record_json"], latest["partition"], latest["fetched_at"]):
        row = movie_row(json.loads(record_json), genre_names)
        row["partition"] = partition
        row["fetched_at"] = fetched_at
        rows.append(row)
    frame = pd.DataFrame(rows, columns=MOVIE_COLUMNS)
    frame["id"] = frame["id"].astype("int64")
    frame["release_year"] = frame["release_year"].astype("Int64")
    frame["vote_count"] = frame["vote_count"].astype("Int64")
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
    return frame.sort_values("id").reset_index(drop=True)


MODEL_COLUMNS = ("id", "title", "overview", "genre_ids", "genres", "poster_path", "original_language", "runtime", "budget",
                 "revenue", "production_companies", "collection", "tagline", "release_year")
"""What features, labels, catalog facts and poster embeddings are built from (not popularity, votes, fetch times)."""


def content_fingerprint(table: pd.DataFrame) -> str:
    """SHA-256 over the modelling columns of a movie table, ordered by id.

    The table's data version: it moves when an overview, a title, the genres, a poster or a
    catalog fact the models read (language, runtime, money, studios, collection, tagline,
    release year) changed, not when only popularity or vote counts did, so what is derived from the
    table is rebuilt only when its inputs really changed.
    """
    columns = [c for c in MODEL_COLUMNS if c in table.columns]
    frame = table[columns].sort_values("id", kind="stable")
    digest = hashlib.sha256(json.dumps(columns).encode())
    for row in frame.itertuples(index=False, name=None):
        values = [v.tolist() if hasattr(v, "tolist") else v for v in row]
        digest.update(json.dumps(values, default=str, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def all_genre_ids(records_json: Iterable[str]) -> list[list[int]]:
    return [[int(g["id"]) for g in (json.loads(text).get("genres") or [])] for text in records_json]
