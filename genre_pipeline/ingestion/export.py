"""Export a home's current catalog as a snapshot directory (replayable offline).

Tutorial step "scraping TMDB": the tutorial pickled what it scraped, which only the same
code could read back and nobody could diff or replay. Here any live scrape can be written
out in the documented snapshot format (the one ``SnapshotCatalogSource`` and the fake TMDB
read)::

    <dir>/movies.jsonl.gz   the latest TMDB details record of every movie in the catalog
    <dir>/genres.json       TMDB's genre list (legacy ids excluded, as TMDB serves it)
    <dir>/posters/          valid poster files, named by the basename of poster_path
    <dir>/export.json       counts and time of the export

The directory is built next to the target and renamed into place, so a reader never
sees half an export. Records are TMDB's JSON as fetched: no key or token is in them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genre_pipeline.catalog import dedup
from genre_pipeline.catalog.changes import RAW_CHANGES_TABLE
from genre_pipeline.storage.home import Home
from genre_pipeline.ingestion.posters import image_file_problem
from genre_pipeline.ingestion.records import SourceError, poster_basename

RAW_TABLE = "raw_movie_records"


@dataclass
class ExportSummary:
    directory: Path
    movies: int
    posters: int
    posters_missing: int


def read_latest_records(home: Home) -> pd.DataFrame:
    """The latest raw record of every movie id in the home (year partitions and changes)."""
    paths = [*home.partition_paths(RAW_TABLE), *home.partition_paths(RAW_CHANGES_TABLE)]
    frames = [f for f in (pd.read_parquet(p) for p in paths) if len(f)]
    if not frames:
        raise SourceError(f"{home.root} has no raw movie records yet: run the pipeline first")
    return dedup.latest_records(pd.concat(frames, ignore_index=True)).sort_values("id").reset_index(drop=True)


def export_snapshot(home: Home, dest: str | os.PathLike, *, posters: bool = True, overwrite: bool = False) -> ExportSummary:
    target = Path(dest).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise SourceError(f"{target} already exists and is not empty (use --force to replace it)")
    latest = read_latest_records(home)
    vocabulary_path = home.table_path("genre_vocabulary")
    if not vocabulary_path.is_file():
        raise SourceError(f"{vocabulary_path} is missing: materialize genre_vocabulary first")
    vocabulary = pd.read_parquet(vocabulary_path)
    genres = [
        {"id": int(i), "name": str(n)}
        for i, n, legacy, known in zip(vocabulary["id"], vocabulary["name"], vocabulary["legacy"], vocabulary["known"])
        if known and not legacy
    ]

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.export-", dir=target.parent))
    try:
        body = "".join(text + "\n" for text in latest["record_json"]).encode("utf-8")
        (staging / "movies.jsonl.gz").write_bytes(gzip.compress(body, mtime=0))
        (staging / "genres.json").write_text(json.dumps({"genres": genres}, indent=1) + "\n", encoding="utf-8")
        copied = missing = 0
        if posters:
            (staging / "posters").mkdir()
            for text in latest["record_json"]:
                name = poster_basename(json.loads(text).get("poster_path"))
                if name is None:
                    continue
                origin = home.posters_dir / name
                if origin.is_file() and not image_file_problem(origin):
                    shutil.copyfile(origin, staging / "posters" / name)
                    copied += 1
                else:
                    missing += 1
        manifest = {
            "format": "genre_pipeline snapshot (TMDB /movie/{id} records, one per line)",
            "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "movies": int(len(latest)),
            "posters": copied,
            "posters_missing": missing,
        }
        (staging / "export.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(target, int(len(latest)), copied, missing)


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, old / "previous")
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
